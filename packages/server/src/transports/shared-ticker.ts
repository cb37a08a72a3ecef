/**
 * One interval for every member of a set (heartbeats, deadlines) instead of a timer per connection.
 * It runs only while the set has members, so an idle hub holds no timer.
 */
export class SharedTicker<T> {
  readonly members = new Set<T>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly tick: (members: ReadonlySet<T>, now: number) => void,
  ) {}

  add(member: T): void {
    this.members.add(member);
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(this.members, Date.now()), this.intervalMs);
    this.timer.unref();
  }

  delete(member: T): void {
    this.members.delete(member);
    if (this.members.size > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
