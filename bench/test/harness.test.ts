import { describe, expect, it } from 'vitest';
import { FrameParser, Opcode } from '../src/generator/ws-frames.ts';
import { silentProgress } from '../src/harness.ts';
import { runFanout } from '../src/workloads.ts';

/** An unmasked server frame, as the servers under test send them. */
function serverFrame(length: number, opcode: number = Opcode.text): Buffer {
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.alloc(header + length, 0x78);
  frame[0] = 0x80 | opcode;
  if (length < 126) frame[1] = length;
  else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(length, 6);
  }
  return frame;
}

describe('bench harness', () => {
  it('counts each frame once however the bytes are split', () => {
    const lengths = [0, 1, 15, 125, 126, 127, 200, 65_535, 65_536, 70_000, 3];
    const stream = Buffer.concat(lengths.map((n) => serverFrame(n)));
    for (const piece of [1, 2, 3, 7, 64, 1000, stream.length]) {
      const seen: number[] = [];
      const parser = new FrameParser({
        onHeader: (_op, length) => {
          seen.push(length);
          return false;
        },
        onPayload: () => undefined,
      });
      for (let i = 0; i < stream.length; i += piece)
        parser.feed(stream, i, Math.min(stream.length, i + piece));
      expect(seen).toEqual(lengths);
    }
  });

  // The tiniest fan-out against Herald (both transports) and the ws floor, through the real processes (server on core 0,
  // generator on core 1): every subscriber, raw counter or full client, counts exactly what was published.
  for (const target of ['herald-ws', 'herald-redis', 'herald-sse', 'ws'] as const) {
    it(`counts every ${target} delivery exactly once`, async () => {
      const result = await runFanout(
        {
          target,
          subscribers: 24,
          channels: 2,
          mode: 'rate',
          rate: 40,
          window: 8,
          samples: 4,
          warmupS: 0.3,
          durationS: 0.7,
        },
        silentProgress,
      );
      expect(result.published).toBeGreaterThan(0);
      expect(result.verify).toEqual({ subscribers: 24, exact: 24, missing: 0, extra: 0 });
      expect(result.connectionsLost).toBe(0);
      expect(result.latency.count).toBeGreaterThan(0);
    });
  }
});
