/**
 * Connections with output waiting, flushed together once per event-loop turn: a burst of publications
 * costs one write per connection instead of one per publication.
 */
export class FlushQueue<T extends { flush(): void }> {
  private dirty: T[] = [];
  private scheduled = false;

  /** Queues `sink` for the next flush; call it once, when its first pending output arrives. */
  add(sink: T): void {
    this.dirty.push(sink);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  private readonly run = (): void => {
    const dirty = this.dirty;
    this.dirty = [];
    this.scheduled = false;
    for (const sink of dirty) sink.flush();
  };
}
