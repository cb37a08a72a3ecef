import { type Checked, checkEventName, invalidData, unknownEvent } from '@herald/protocol';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { ConfigError, type HeraldConfig, type NamespaceOptions } from '../config.ts';
import { resolveNamespace } from '../core/channel-name.ts';
import type { DataSchemas } from '../core/data-schemas.ts';

/**
 * The JSON Schemas of the config's namespace `events`, compiled once (Ajv) when the hub is made: a
 * schema Ajv cannot compile is a `ConfigError` naming it, before any client connects.
 */
export class JsonSchemas implements DataSchemas {
  private readonly byNamespace = new Map<NamespaceOptions, Map<string, ValidateFunction>>();

  constructor(private readonly config: HeraldConfig) {
    // One Ajv for every schema; the first error is the one reported, so no need to collect them all.
    const ajv = new Ajv({ allErrors: false, strict: true });
    addFormats.default(ajv);
    for (const [name, ns] of Object.entries(config.namespaces)) {
      if (!ns.events) continue;
      const compiled = new Map<string, ValidateFunction>();
      for (const [event, schema] of Object.entries(ns.events)) {
        const where = `namespaces.${name}.events.${event}`;
        try {
          checkEventName(event);
          compiled.set(event, ajv.compile(schema));
        } catch (err) {
          throw new ConfigError(`${where}: ${(err as Error).message}`);
        }
      }
      this.byNamespace.set(ns, compiled);
    }
  }

  /** Whether any namespace has events: a hub without them need not consult this at all. */
  get empty(): boolean {
    return this.byNamespace.size === 0;
  }

  check(channel: string, event: string | undefined, data: unknown): Checked | undefined {
    const events = this.byNamespace.get(resolveNamespace(this.config, channel));
    if (!events) return undefined;
    const validate = event === undefined ? undefined : events.get(event);
    if (!validate) throw unknownEvent(channel, event, [...events.keys()]);
    if (!validate(data)) {
      const error = validate.errors?.[0];
      const path: Array<string | number> = (error?.instancePath ?? '').split('/').slice(1).map(decodePointer);
      // Ajv places a missing property's error at its parent; the property itself is where it is missing.
      if (error?.keyword === 'required') path.push(String(error.params.missingProperty));
      throw invalidData(channel, event as string, { message: error?.message ?? 'invalid', path });
    }
    return { value: data };
  }
}

/** A JSON Pointer segment (`~1` is `/`, `~0` is `~`), array indexes as numbers. */
function decodePointer(segment: string): string | number {
  const key = segment.replace(/~1/g, '/').replace(/~0/g, '~');
  return /^(0|[1-9]\d*)$/.test(key) ? Number(key) : key;
}
