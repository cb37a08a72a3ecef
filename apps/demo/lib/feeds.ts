import { demoHub, herald } from './herald.ts';

const LEVELS = ['info', 'info', 'info', 'debug', 'warn'];
const MESSAGES = [
  'GET /api/orders 200',
  'cache miss for user profile',
  'job 42 finished',
  'retrying upstream call',
  'GET /health 200',
];

interface HubStats {
  sessions: number;
  published: number;
  delivered: number;
}

/** The hub's counters: the embedded hub's, or those a standalone hub reports on `/health`. */
async function hubStats(): Promise<HubStats> {
  const remote = process.env.HERALD_URL;
  if (!remote) return (await demoHub()).getStats();
  const res = await fetch(`${remote.replace(/\/+$/, '')}/health`);
  return (await res.json()) as HubStats;
}

/**
 * The always-on publishers behind the dashboard and the log tail: once a second the hub's own numbers on
 * `dashboard:hub`, and twice a second a numbered log line on `feed:log`. One set per process, however many
 * times Next.js loads this module.
 */
export function startFeeds(): void {
  const slot = globalThis as { heraldDemoFeeds?: boolean };
  if (slot.heraldDemoFeeds) return;
  slot.heraldDemoFeeds = true;

  let last = { at: Date.now(), published: 0, delivered: 0 };
  const dashboard = setInterval(async () => {
    const stats = await hubStats().catch(() => null);
    if (!stats) return;
    const now = Date.now();
    const seconds = Math.max(0.001, (now - last.at) / 1000);
    const point = {
      at: now,
      sessions: stats.sessions,
      publishedPerSecond: Math.round((stats.published - last.published) / seconds),
      deliveredPerSecond: Math.round((stats.delivered - last.delivered) / seconds),
      heapMb: Math.round(process.memoryUsage().heapUsed / 1e5) / 10,
    };
    last = { at: now, published: stats.published, delivered: stats.delivered };
    await herald.publish('dashboard:hub', point, { event: 'sample' }).catch(() => undefined);
  }, 1000);

  let seq = 0;
  const log = setInterval(() => {
    seq++;
    const line = {
      seq,
      at: new Date().toISOString(),
      level: LEVELS[seq % LEVELS.length],
      message: MESSAGES[seq % MESSAGES.length],
    };
    herald.publish('feed:log', line, { event: 'log' }).catch(() => undefined);
  }, 500);

  dashboard.unref();
  log.unref();
}
