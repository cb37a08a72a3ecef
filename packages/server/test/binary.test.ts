import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type HeraldProcess, waitListening, watchProcess } from './support/process.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const built = join(root, 'dist/bin/herald');
const { version } = JSON.parse(readFileSync(join(root, 'packages/server/package.json'), 'utf8'));

/** Newest modification time among what goes into the binary. */
function newestInput(): number {
  const files = ['packages/server/package.json', 'scripts/build-binary.mjs', 'package-lock.json'];
  for (const dir of ['packages/server/src', 'packages/protocol/src'])
    for (const f of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }))
      files.push(join(dir, f));
  return Math.max(...files.map((f) => statSync(join(root, f)).mtimeMs));
}

let dir: string;
let binary: string;
const running: HeraldProcess[] = [];

beforeAll(() => {
  // The build takes a while; a binary newer than all its inputs is reused.
  if (!existsSync(built) || statSync(built).mtimeMs < newestInput())
    execFileSync('npm', ['run', 'build:binary'], { cwd: root, stdio: 'pipe', timeout: 240_000 });
  // An empty folder outside the repository: no node_modules, no package.json, no sources.
  dir = mkdtempSync(join(tmpdir(), 'herald-binary-'));
  binary = join(dir, 'herald');
  copyFileSync(built, binary);
  chmodSync(binary, 0o755);
}, 300_000);

afterAll(() => {
  for (const p of running) p.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the binary from its folder with nothing from this process's environment. */
function herald(args: string[], env: Record<string, string> = {}): HeraldProcess {
  const p = watchProcess(spawn(binary, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  running.push(p);
  return p;
}

describe('the standalone herald binary', () => {
  it('prints its version and nothing else', () => {
    const result = spawnSync(binary, ['--version'], { cwd: dir, env: {}, encoding: 'utf8', timeout: 20_000 });
    expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({
      status: 0,
      stdout: `${version}\n`,
      stderr: '',
    });
  });

  it('serves from an empty folder: publishes and reads history through the API, drains on SIGTERM', async () => {
    const port = await freePort();
    const p = herald(['serve', '--port', String(port)], { HERALD_API_KEY: 'k1', HERALD_LOG_LEVEL: 'info' });
    await waitListening(p);
    const api = (method: string, body: unknown) =>
      fetch(`http://127.0.0.1:${port}/api/${method}`, {
        method: 'POST',
        headers: { authorization: 'apikey k1', 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    expect((await api('publish', { channel: 'chat:1', data: { text: 'a' } })).status).toBe(200);
    const second = await (await api('publish', { channel: 'chat:1', data: { text: 'b' } })).json();
    expect(second).toMatchObject({ offset: 2 });
    const history = await (await api('history', { channel: 'chat:1' })).json();
    expect(history).toMatchObject({ epoch: second.epoch, offset: 2 });
    expect(history.publications.map((p: { data: unknown }) => p.data)).toEqual([
      { text: 'a' },
      { text: 'b' },
    ]);

    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.output()).not.toMatch(/warning/i);
  });
});
