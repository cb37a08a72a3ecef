/**
 * A load-generator process (pinned to the generator core by the orchestrator). It holds counting
 * subscribers and, in the one "sampler" process, the latency clients and the publisher. Driven over
 * IPC (see rpc.ts); every wait is bounded.
 */
import { LatencyRecorder } from '../latency.ts';
import { nowMicros, sleep } from '../proc.ts';
import { serveRpc } from '../rpc.ts';
import type { TargetName } from '../targets.ts';
import { type Counter, createCounter } from './counters.ts';
import { type FullClient, openFullClient } from './full-clients.ts';
import type { Stamp } from './payload.ts';
import { createPublisher, type Publisher, type PublishVia } from './publishers.ts';

const HOST = '127.0.0.1';
/** Connection attempts in flight per process: enough to connect fast, few enough not to overflow the backlog. */
const CONNECT_CONCURRENCY = 200;
const MAX_ATTEMPTS = 30;

// ---- counting subscribers

const counters: Counter[] = [];
let failures: string[] = [];

interface Pending {
  waiting: number;
  done: () => void;
}

/** Opens `counter`s (retrying failures with a short jittered delay) and resolves when all are live or given up. */
async function openAll(list: Counter[], resume: boolean, deadlineMs: number): Promise<number> {
  const deadline = Date.now() + deadlineMs;
  const attempts = new Map<Counter, number>();
  let given = 0;
  await new Promise<void>((resolve) => {
    // Whatever has not settled by the deadline counts as given up.
    const timer = setTimeout(() => {
      given += pending.waiting;
      if (failures.length < 5) failures.push(`${pending.waiting} not live by the deadline`);
      resolve();
    }, deadlineMs + 5_000);
    const pending: Pending = {
      waiting: list.length,
      done: () => {
        clearTimeout(timer);
        resolve();
      },
    };
    if (list.length === 0) pending.done();
    let next = 0;
    let inFlight = 0;
    const settle = () => {
      inFlight--;
      if (--pending.waiting === 0) pending.done();
      else launch();
    };
    const launch = () => {
      while (inFlight < CONNECT_CONCURRENCY && next < list.length) {
        const counter = list[next++];
        inFlight++;
        start(counter);
      }
    };
    const start = (counter: Counter) => {
      attempts.set(counter, (attempts.get(counter) ?? 0) + 1);
      counter.events = {
        ready: () => settle(),
        failed: (_c, reason) => {
          if ((attempts.get(counter) ?? 0) >= MAX_ATTEMPTS || Date.now() > deadline) {
            given++;
            if (failures.length < 5) failures.push(reason);
            settle();
            return;
          }
          setTimeout(() => start(counter), 50 + Math.random() * 200);
        },
        lost: () => undefined,
      };
      counter.open(resume);
    };
    launch();
  });
  return given;
}

const counterHandlers = {
  async connect(args: Record<string, unknown>) {
    const { target, port, channels } = args as { target: TargetName; port: number; channels: string[] };
    const fresh = channels.map((channel) => createCounter(target, HOST, port, channel));
    counters.push(...fresh);
    failures = [];
    const failed = await openAll(fresh, false, 120_000);
    return { ready: fresh.length - failed, failed, reasons: failures };
  },

  counts() {
    let total = 0;
    let live = 0;
    let lost = 0;
    for (const c of counters) {
      total += c.count;
      if (c.state === 'live') live++;
      lost += c.unexpectedCloses;
    }
    return { total, live, lost, at: nowMicros() };
  },

  /** Drops every connection at once, reconnects them all and resumes where each stood. */
  async storm() {
    const t0 = nowMicros();
    for (const c of counters) c.drop();
    failures = [];
    const failed = await openAll(counters, true, 120_000);
    let lastReady = t0;
    let notRecovered = 0;
    for (const c of counters) {
      if (c.state === 'live' && c.readyAt > lastReady) lastReady = c.readyAt;
      notRecovered += c.notRecovered;
    }
    return { t0, lastReady, failed, notRecovered, reasons: failures };
  },

  /** Compares each subscriber's count with what was published to its channel. */
  verify(args: Record<string, unknown>) {
    const expected = args.expected as Record<string, number>;
    let exact = 0;
    let missing = 0;
    let extra = 0;
    for (const c of counters) {
      const want = expected[c.channel] ?? 0;
      if (c.count === want) exact++;
      else if (c.count < want) missing += want - c.count;
      else extra += c.count - want;
    }
    return { subscribers: counters.length, exact, missing, extra };
  },

  close() {
    for (const c of counters) c.close();
    counters.length = 0;
  },
};

// ---- sampler: latency clients and the publisher

interface Sample {
  channel: string;
  client: FullClient;
  lastSeq: number;
  received: number;
  outOfOrder: number;
}

const samples: Sample[] = [];
const latency = new LatencyRecorder();
let recording = false;
let publisher: Publisher | undefined;
let pub: PublishLoop | undefined;

/**
 * Publishes round-robin over `channels`, either at a fixed rate or as fast as the slowest latency
 * sample keeps up. Either way at most `window` messages are in flight per subscriber: a fixed rate the
 * server cannot sustain is throttled and reported, never queued without end.
 */
class PublishLoop {
  seq = 0;
  throttled = 0;
  readonly perChannel = new Map<string, number>();
  private readonly lastSent = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly started = performance.now();
  running = true;

  constructor(
    private readonly publisher: Publisher,
    private readonly channels: string[],
    private readonly mode: 'rate' | 'saturation',
    private readonly rate: number,
    private readonly window: number,
  ) {
    if (mode === 'rate') {
      this.timer = setInterval(() => this.tick(), Math.max(1, Math.floor(1000 / rate)));
    } else {
      this.timer = setInterval(() => this.topUp(), 2);
      this.topUp();
    }
  }

  /** How far (in messages, across channels) the slowest sample is behind what was sent to its channel. */
  private lag(): number {
    let worst = 0;
    for (const s of samples) {
      const sent = this.lastSent.get(s.channel);
      if (sent !== undefined && sent - s.lastSeq > worst) worst = sent - s.lastSeq;
    }
    return worst;
  }

  private publishOne(): void {
    const channel = this.channels[this.seq % this.channels.length];
    this.publisher.publish(channel, this.seq);
    this.lastSent.set(channel, this.seq);
    this.perChannel.set(channel, (this.perChannel.get(channel) ?? 0) + 1);
    this.seq++;
  }

  topUp(): void {
    if (!this.running || this.mode !== 'saturation') return;
    const room = Math.min(this.window * this.channels.length - this.lag(), this.publisher.room?.() ?? 4096);
    for (let i = 0; i < Math.min(room, 4096); i++) this.publishOne();
  }

  private tick(): void {
    if (!this.running) return;
    const due = Math.floor(((performance.now() - this.started) * this.rate) / 1000);
    // The same backlog bound as saturation: a server that cannot keep up is not buried deeper.
    const cap = this.window * this.channels.length;
    while (this.seq < due) {
      if (this.lag() > cap) {
        this.throttled += due - this.seq;
        this.seq = due;
        break;
      }
      this.publishOne();
    }
  }

  stop() {
    this.running = false;
    clearInterval(this.timer);
  }
}

const samplerHandlers = {
  async samples(args: Record<string, unknown>) {
    const { target, base, channels } = args as { target: TargetName; base: string; channels: string[] };
    for (const channel of channels) {
      const sample: Sample = { channel, client: { close() {} }, lastSeq: -1, received: 0, outOfOrder: 0 };
      sample.client = await openFullClient(target, base, channel, (stamp: Stamp) => {
        if (recording) latency.record(nowMicros() - stamp.t);
        if (stamp.n <= sample.lastSeq) sample.outOfOrder++;
        sample.lastSeq = stamp.n;
        sample.received++;
        pub?.topUp();
      });
      samples.push(sample);
    }
    return { ready: samples.length };
  },

  async openPublisher(args: Record<string, unknown>) {
    const { target, bases, via } = args as { target: TargetName; bases: string[]; via?: PublishVia };
    publisher = createPublisher(target, bases, via);
    await publisher.open();
    return {};
  },

  startPublishing(args: Record<string, unknown>) {
    const { channels, mode, rate, window } = args as {
      channels: string[];
      mode: 'rate' | 'saturation';
      rate: number;
      window: number;
    };
    if (!publisher) throw new Error('openPublisher first');
    pub?.stop();
    pub = new PublishLoop(publisher, channels, mode, rate, window);
    return {};
  },

  /** Starts (or stops) keeping latency samples; starting clears earlier ones. */
  record(args: Record<string, unknown>) {
    recording = args.on as boolean;
    if (recording) latency.reset();
    return {};
  },

  async stopPublishing() {
    if (!pub) return { published: 0, perChannel: {}, throttled: 0, errors: 0 };
    pub.stop();
    // Let replies to the last publishes arrive before errors are read.
    await sleep(50);
    return {
      published: pub.seq - pub.throttled,
      perChannel: Object.fromEntries(pub.perChannel),
      throttled: pub.throttled,
      errors: publisher?.errors ?? 0,
    };
  },

  latency() {
    return latency.summary();
  },

  sampleCounts() {
    let total = 0;
    let outOfOrder = 0;
    for (const s of samples) {
      total += s.received;
      outOfOrder += s.outOfOrder;
    }
    return { total, outOfOrder, at: nowMicros() };
  },

  verifySamples(args: Record<string, unknown>) {
    const expected = args.expected as Record<string, number>;
    let exact = 0;
    let missing = 0;
    let extra = 0;
    for (const s of samples) {
      const want = expected[s.channel] ?? 0;
      if (s.received === want) exact++;
      else if (s.received < want) missing += want - s.received;
      else extra += s.received - want;
    }
    return { subscribers: samples.length, exact, missing, extra };
  },

  closeSampler() {
    pub?.stop();
    for (const s of samples) s.client.close();
    samples.length = 0;
    publisher?.close();
    publisher = undefined;
  },
};

serveRpc({ ...counterHandlers, ...samplerHandlers }, { pid: process.pid });
