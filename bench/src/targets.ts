import { existsSync } from 'node:fs';

/** The systems under test. Each runs as its own server process; see bench/src/servers/. */
export const TARGETS = {
  'herald-ws': {
    label: 'Herald (WebSocket)',
    server: 'herald',
    note: 'herald serve defaults; memory broker; publisher over the WebSocket protocol',
    resumes: true,
    api: true,
  },
  'herald-redis': {
    label: 'Herald (WebSocket, Redis)',
    server: 'herald-redis',
    note: 'herald-ws on the Redis broker; its private redis-server shares the server core',
    resumes: true,
    api: true,
  },
  'herald-redis-baseline': {
    label: 'Herald (WebSocket, Redis, baseline)',
    server: 'herald-redis',
    note: 'herald-redis with @herald/server from the checkout in HERALD_BENCH_BASELINE (before/after comparisons)',
    resumes: true,
    api: true,
  },
  'herald-sse': {
    label: 'Herald (SSE)',
    server: 'herald',
    note: 'same hub; subscribers on GET /connection/sse, publisher over the WebSocket protocol',
    resumes: true,
    api: false,
  },
  'herald-pusher': {
    label: 'Herald (Pusher protocol)',
    server: 'herald-pusher',
    note: 'same hub with one Pusher app; subscribers on /app/{key} (protocol 7), publisher over the WebSocket protocol',
    resumes: false,
    api: false,
  },
  ws: {
    label: 'ws broadcast (naive)',
    server: 'ws-broadcast',
    note: 'hand-written ws 8 server: for (const c of room) c.send(msg)',
    resumes: false,
    api: false,
  },
  socketio: {
    label: 'Socket.IO 4.8',
    server: 'socketio',
    note: 'default server options; clients on the websocket transport; io.to(room).emit()',
    resumes: false,
    api: false,
  },
  pushpin: {
    label: 'Pushpin 1.36',
    server: 'pushpin',
    note: 'Debian package; WebSocket clients, GRIP origin over WebSocket-over-HTTP, HTTP publish',
    resumes: false,
    api: false,
  },
} as const;

export type TargetName = keyof typeof TARGETS;

export const TARGET_NAMES = Object.keys(TARGETS) as TargetName[];

/** The peers Herald is compared with, in report order. */
export const PEERS: TargetName[] = ['ws', 'socketio', 'pushpin'];

const NEEDS: Partial<Record<TargetName, string>> = {
  pushpin: '/usr/bin/pushpin',
  'herald-redis': '/usr/bin/redis-server',
  'herald-redis-baseline': '/usr/bin/redis-server',
};

/** A checkout (its node_modules installed) whose server the baseline target runs, for before/after runs. */
export const BASELINE_DIR = process.env.HERALD_BENCH_BASELINE;

/** Whether this machine can run `target` (Pushpin and Redis come from Debian: apt-get install pushpin redis-server). */
export function installed(target: TargetName): boolean {
  if (target === 'herald-redis-baseline' && !BASELINE_DIR) return false;
  const binary = NEEDS[target];
  return binary === undefined || existsSync(binary);
}
