/**
 * Publishes `total` publications round-robin over `channels` in bursts of random size, calling `during`
 * (a cut, say) at a random moment of about a third of the bursts, and `settle` after those bursts (to let
 * clients come back before the next one). Returns how many calls of `during` did something.
 */
export async function publishInBursts(
  publish: (channel: string, n: number) => Promise<unknown>,
  channels: string[],
  total: number,
  during: () => boolean,
  settle: () => Promise<void> = async () => undefined,
): Promise<number> {
  let hits = 0;
  for (let sent = 0; sent < total; ) {
    const burst = 1 + Math.floor(Math.random() * 100);
    const cut = Math.random() < 0.35;
    if (cut) setTimeout(() => (hits += during() ? 1 : 0), Math.random() * 10);
    const publishes = [];
    for (let i = 0; i < burst && sent < total; i++, sent++) {
      publishes.push(publish(channels[sent % channels.length], sent));
    }
    await Promise.all(publishes);
    if (cut) await settle();
  }
  return hits;
}
