/** Whether the node still holds a channel (history, subscribers, or its broker's record of it). */
export type Held = (channel: string) => boolean;

/**
 * The channels anonymous clients of each IP brought into existence on this node, for
 * `limits.channelsPerIp`. A channel counts until the node no longer holds it and its `until` (the end of
 * its first publication's history) has passed: a broker that keeps a channel's history elsewhere (Redis)
 * still has it then.
 */
export class ChannelLedger {
  private readonly byIp = new Map<string, Map<string, number>>();

  /** Whether `ip` has `max` channels counted, after letting go of those that no longer count. */
  full(ip: string, max: number, held: Held, now = Date.now()): boolean {
    const channels = this.byIp.get(ip);
    if (!channels || channels.size < max) return false;
    this.release(ip, channels, held, now);
    return channels.size >= max;
  }

  add(ip: string, channel: string, until: number): void {
    let channels = this.byIp.get(ip);
    if (!channels) {
      channels = new Map();
      this.byIp.set(ip, channels);
    }
    channels.set(channel, Math.max(until, channels.get(channel) ?? 0));
  }

  /** Lets go of every channel that no longer counts (run by the hub's sweep). */
  sweep(held: Held, now = Date.now()): void {
    for (const [ip, channels] of this.byIp) this.release(ip, channels, held, now);
  }

  private release(ip: string, channels: Map<string, number>, held: Held, now: number): void {
    for (const [channel, until] of channels) {
      if (until <= now && !held(channel)) channels.delete(channel);
    }
    if (channels.size === 0) this.byIp.delete(ip);
  }
}
