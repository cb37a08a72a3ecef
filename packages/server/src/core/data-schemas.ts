import type { Checked } from '@herald/protocol';

/**
 * Schemas of publication data, checked before anything is stored: `defineChannels` (Standard Schema)
 * and the config's namespace `events` (JSON Schema) both are. `check` returns undefined for a channel it
 * does not describe, the data to publish (the schema's output) otherwise, or throws `invalid_event` /
 * `invalid_data` naming the path of the first issue. Synchronous where it can be, so publications keep
 * their order.
 */
export interface DataSchemas {
  check(channel: string, event: string | undefined, data: unknown): Checked | undefined | Promise<Checked>;
}
