import { nowMicros } from '../proc.ts';

/** Size of every message's JSON payload, in bytes. */
export const PAYLOAD_BYTES = 100;

/** What every message carries: when it was published (monotonic µs) and its sequence number. */
export interface Stamp {
  t: number;
  n: number;
}

/** `{"t":…,"n":…,"p":"xxx…"}`, padded to PAYLOAD_BYTES, stamped now. */
export function payloadText(seq: number): string {
  const head = `{"t":${nowMicros()},"n":${seq},"p":"`;
  return head + 'x'.repeat(Math.max(0, PAYLOAD_BYTES - head.length - 2)) + '"}';
}
