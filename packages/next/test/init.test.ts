import { access, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/init-cli.ts';

// The quickstart's app: the generator's route must be the one the quickstart shows.
const FIXTURE = fileURLToPath(new URL('../../../test/consumer/fixture', import.meta.url));
const ROUTE = 'app/realtime/[...herald]/route.ts';
const WRITTEN = [ROUTE, 'app/herald-provider.tsx', 'app/realtime-token/route.ts'];

const folders: string[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

async function folder(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'herald-init-'));
  folders.push(path);
  return path;
}

/** Runs `herald-next <args>` in-process: its exit code and what it printed. */
async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = vi.spyOn(console, 'log').mockImplementation(() => {});
  const err = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    const code = await main(args);
    const text = (spy: typeof out) => spy.mock.calls.map((call) => call.join(' ')).join('\n');
    return { code, out: text(out), err: text(err) };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe('herald-next init', () => {
  it("writes the route, the provider and the token route into the quickstart's app", async () => {
    const app = join(await folder(), 'app-root');
    await cp(FIXTURE, app, { recursive: true });
    const quickstartRoute = await readFile(join(app, ROUTE), 'utf8');
    await rm(join(app, ROUTE));

    const result = await run('init', '--dir', app);
    expect(result).toMatchObject({ code: 0, err: '' });
    for (const path of WRITTEN) expect(result.out).toContain(path);
    expect(await readFile(join(app, ROUTE), 'utf8')).toBe(quickstartRoute);
    expect(await readFile(join(app, 'app/herald-provider.tsx'), 'utf8')).toContain(
      '<HeraldProvider getToken={fetchToken}>',
    );
    expect(await readFile(join(app, 'app/realtime-token/route.ts'), 'utf8')).toContain(
      'connectionToken(user)',
    );
  });

  it('overwrites nothing: when one of its files exists it writes none, names it and exits 1', async () => {
    const app = join(await folder(), 'app-root');
    await cp(FIXTURE, app, { recursive: true });
    const before = await readFile(join(app, ROUTE), 'utf8');

    const result = await run('init', '--dir', app);
    expect(result.code).toBe(1);
    expect(result.err).toBe(`herald-next: not overwriting ${ROUTE}: move or delete it first`);
    expect(await readFile(join(app, ROUTE), 'utf8')).toBe(before);
    expect(await exists(join(app, 'app/herald-provider.tsx'))).toBe(false);
    expect(await exists(join(app, 'app/realtime-token'))).toBe(false);
  });

  it('writes into src/app when the app keeps its routes there', async () => {
    const app = await folder();
    await mkdir(join(app, 'src/app'), { recursive: true });
    await writeFile(join(app, 'tsconfig.json'), '{}');
    expect((await run('init', '--dir', app)).code).toBe(0);
    for (const path of WRITTEN) expect(await exists(join(app, 'src', path))).toBe(true);
  });

  it('refuses a folder that is not a TypeScript App Router app, writing nothing', async () => {
    const empty = await folder();
    const noRouter = await run('init', '--dir', empty);
    expect(noRouter.code).toBe(1);
    expect(noRouter.err).toBe(`herald-next: no App Router directory in ${empty} (app/ or src/app/)`);

    await mkdir(join(empty, 'app'));
    const javascript = await run('init', '--dir', empty);
    expect(javascript.code).toBe(1);
    expect(javascript.err).toMatch(/has no tsconfig\.json/);
    expect(await exists(join(empty, 'app/realtime'))).toBe(false);
  });

  it('answers an unknown command or option with its usage and exit code 2', async () => {
    const unknown = await run('generate');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/^herald-next: expected the command `init`\n\nUsage: herald-next init/);
    const option = await run('init', '--force');
    expect(option.code).toBe(2);
    expect(option.err).toMatch(/^herald-next: Unknown option '--force'/);
    expect((await run('--help')).out).toMatch(/^Usage: herald-next init/);
  });
});
