// Packaging gates: packs every published workspace package once, as `npm publish` would, then lints the
// tarball with publint (package.json, exports and files against what ships) and checks with
// are-the-types-wrong that TypeScript resolves the types of every export as an ESM consumer would.
// Run after `npm run build`; exits non-zero on any error.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PACKAGES = join(ROOT, 'packages');

const published = readdirSync(PACKAGES)
  .map(
    (dir) =>
      JSON.parse(readFileSync(join(PACKAGES, dir, 'package.json'), 'utf8')) as {
        name: string;
        private?: boolean;
      },
  )
  .filter((pkg) => !pkg.private)
  .map((pkg) => pkg.name);

const out = mkdtempSync(join(tmpdir(), 'herald-pack-'));
let failed = 0;
try {
  const packed = JSON.parse(
    execFileSync(
      'npm',
      ['pack', '--json', '--pack-destination', out, ...published.flatMap((name) => ['--workspace', name])],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    ),
  ) as Array<{ name: string; filename: string }>;
  for (const { name, filename } of packed) {
    const tarball = join(out, filename);
    for (const [tool, args] of [
      ['publint', ['run', '--strict', tarball]],
      ['attw', [tarball, '--profile', 'esm-only', '--format', 'table-flipped']],
    ] as const) {
      try {
        execFileSync(join(ROOT, 'node_modules/.bin', tool), args, {
          cwd: ROOT,
          encoding: 'utf8',
          stdio: 'pipe',
        });
        console.log(`ok   ${tool} ${name}`);
      } catch (err) {
        failed++;
        const { stdout, stderr } = err as { stdout: string; stderr: string };
        console.error(`FAIL ${tool} ${name}\n${stdout}${stderr}`);
      }
    }
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
if (failed > 0) {
  console.error(`${failed} packaging check(s) failed`);
  process.exit(1);
}
