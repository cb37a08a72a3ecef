/**
 * A bounded fuzz run against a real `herald serve` process: fuzzed WebSocket frames and raw HTTP requests
 * at once, while bystanders on WebSocket and SSE read a steady stream of publications. `npm run fuzz`
 * runs the same for much longer (scripts/fuzz.ts).
 */
import { encodeCursor } from '@herald/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fuzzRuns,
  fuzzSeed,
  fuzzTimeLimit,
  PROTOTYPE_NAMES,
  reportFuzzCounts,
} from '../../../test/support/fuzz.ts';
import { HttpFuzzer, rawRequests } from './support/fuzz-http.ts';
import { FEED, FUZZ_API_KEY, FuzzTarget } from './support/fuzz-target.ts';
import { WebSocketFuzzer, wireFrames } from './support/fuzz-websocket.ts';
import { inSeconds, sign, unsignedToken } from './support/tokens.ts';

/** Channels that mean something to the fuzz hub's namespaces (FEED is left to the bystanders). */
const CHANNELS = [
  'lobby',
  'chat:room',
  'chat:room:2',
  'private:a',
  'secret:b',
  'watch:other',
  'x:y',
  ':',
  'a:',
  ':b',
];

async function vocabulary(host: string) {
  const tokens = [
    await sign({ sub: 'fuzz-user', exp: inSeconds(3600) }),
    await sign({ sub: 'fuzz-other', exp: inSeconds(3600) }),
    await sign({ sub: 'fuzz-user', exp: inSeconds(-60) }),
    await sign({ sub: 'fuzz-user', channel: 'secret:b', exp: inSeconds(3600) }),
    await sign(
      { sub: 'fuzz-user', exp: inSeconds(3600) },
      { key: 'a-different-secret-that-is-32-characters' },
    ),
    unsignedToken({ sub: 'fuzz-user' }),
    await sign({ sub: '' }),
  ];
  const channel = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...CHANNELS) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('', ' ', 'a'.repeat(300), 'chat:\u0000', 'chat:\n', 'chat:é', 'chat:😀'),
    },
    { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES).map((p) => `${p}:x`) },
  );
  const epoch = fc.oneof(fc.string({ maxLength: 12 }), fc.constant(''));
  const cursor = fc.oneof(
    fc
      .dictionary(fc.constantFrom(...CHANNELS, FEED), fc.record({ epoch, offset: fc.nat(200) }), {
        maxKeys: 3,
      })
      .map((p) => encodeCursor(p)),
    fc.stringMatching(/^[A-Za-z0-9_-]{0,60}$/),
    fc.string({ maxLength: 40 }),
  );
  return {
    channel,
    token: fc.oneof(fc.constantFrom(...tokens), fc.string({ maxLength: 60 })),
    epoch,
    cursor,
    apiKey: FUZZ_API_KEY,
    host,
  };
}

describe('the hub under fuzzed WebSocket frames and HTTP requests', () => {
  let target: FuzzTarget;
  const counts = { frames: 0, requests: 0, cases: 0, crashes: 0, publications: 0 };

  beforeAll(async () => {
    target = await FuzzTarget.start();
  });

  afterAll(async () => {
    reportFuzzCounts(counts);
    await target?.close();
  });

  it(
    'answers every frame and request, never exits or logs an error, and the bystanders get every publication once, in order',
    async () => {
      const v = await vocabulary(`127.0.0.1:${target.port}`);
      const ws = new WebSocketFuzzer(`ws://127.0.0.1:${target.port}/connection/websocket`);
      const http = new HttpFuzzer(target.port);
      /** Throws if the hub exited; after a failed case, first gives a dying process time to be seen. */
      const checkAlive = async (failed: boolean) => {
        if (failed) await Promise.race([target.hub.exited, new Promise((r) => setTimeout(r, 1_000))]);
        if (!target.alive) {
          counts.crashes++;
          throw new Error(
            `the hub exited (${target.hub.child.exitCode ?? target.hub.child.signalCode}):\n${target.output().slice(-3000)}`,
          );
        }
      };
      // A loaded machine runs fewer cases in the same time, never a longer test (the test's own limit adds
      // a minute for setup and the bystanders' final check).
      const timeLimit = fuzzTimeLimit(30_000);
      const parameters = (numRuns: number) => ({
        seed: fuzzSeed,
        numRuns,
        // A live hub cannot be replayed case by case while shrinking: the first failure is the report.
        endOnFailure: true,
        interruptAfterTimeLimit: timeLimit,
      });
      try {
        await Promise.all([
          fc.assert(
            fc.asyncProperty(
              fc.array(wireFrames(v), { minLength: 1, maxLength: 6 }),
              fc.nat(4).map((n) => n === 0),
              async (burst, fresh) => {
                counts.cases++;
                let failed = true;
                try {
                  await ws.run(burst, fresh);
                  failed = false;
                } finally {
                  counts.frames = ws.frames;
                  await checkAlive(failed);
                }
              },
            ),
            parameters(fuzzRuns(1_200, 150_000)),
          ),
          fc.assert(
            fc.asyncProperty(rawRequests(v), async (request) => {
              counts.cases++;
              let failed = true;
              try {
                await http.run(request);
                failed = false;
              } finally {
                counts.requests = http.requests;
                await checkAlive(failed);
              }
            }),
            parameters(fuzzRuns(1_500, 150_000)),
          ),
        ]);
      } finally {
        ws.close();
      }
      await checkAlive(false);
      const { websocket, sse, published } = await target.stop();
      counts.publications = published;
      const all = Array.from({ length: published }, (_, n) => n);
      expect(published).toBeGreaterThan(0);
      expect(websocket).toEqual(all);
      expect(sse).toEqual(all);
      // Client input is never the server's error: nothing at pino's error (50) or fatal (60) level.
      expect(
        target
          .output()
          .split('\n')
          .filter((line) => /"level":(50|60)/.test(line)),
      ).toEqual([]);
    },
    fuzzTimeLimit(30_000) + 60_000,
  );
});
