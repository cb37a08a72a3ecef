/** The systems under test. Each runs as its own server process; see bench/src/servers/. */
export const TARGETS = {
  'herald-ws': {
    label: 'Herald (WebSocket)',
    server: 'herald',
    note: 'herald serve defaults; memory broker; publisher over the WebSocket protocol',
  },
  'herald-sse': {
    label: 'Herald (SSE)',
    server: 'herald',
    note: 'same hub; subscribers on GET /connection/sse, publisher over the WebSocket protocol',
  },
  ws: {
    label: 'ws broadcast (naive)',
    server: 'ws-broadcast',
    note: 'hand-written ws 8 server: for (const c of room) c.send(msg)',
  },
  socketio: {
    label: 'Socket.IO 4.8',
    server: 'socketio',
    note: 'default server options; clients on the websocket transport; io.to(room).emit()',
  },
} as const;

export type TargetName = keyof typeof TARGETS;

export const TARGET_NAMES = Object.keys(TARGETS) as TargetName[];

/** The peers Herald is compared with, in report order. */
export const PEERS: TargetName[] = ['ws', 'socketio'];

/** Targets this checkout can run. */
export function availableTargets(): TargetName[] {
  return TARGET_NAMES;
}
