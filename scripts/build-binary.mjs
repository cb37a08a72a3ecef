// Builds dist/bin/herald: one executable that runs `herald` with no Node.js or node_modules beside it,
// as a Node single executable application (https://nodejs.org/api/single-executable-applications.html).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';
import { inject } from 'postject';

const out = 'dist/bin';
const { version } = JSON.parse(readFileSync('packages/server/package.json', 'utf8'));

// The version module reads package.json beside it at run time; there is none beside the binary.
const inlineVersion = {
  name: 'inline-version',
  setup(esbuild) {
    esbuild.onLoad({ filter: /server[\\/]src[\\/]version\.ts$/ }, () => ({
      contents: `export const version = ${JSON.stringify(version)};`,
      loader: 'ts',
    }));
  },
};

// Optional modules that dependencies try-require and do without (ws: native addons; debug, under ioredis:
// supports-color) fail here as if not installed. Left external, they would fail too, but the SEA's
// `require` warns on every start when asked for anything but a built-in module.
const absentOptionals = {
  name: 'absent-optionals',
  setup(esbuild) {
    esbuild.onResolve({ filter: /^(bufferutil|utf-8-validate|supports-color)$/ }, ({ path }) => ({
      path,
      namespace: 'absent',
    }));
    esbuild.onLoad({ filter: /.*/, namespace: 'absent' }, ({ path }) => ({
      contents: `throw new Error('${path} is not in the herald binary');`,
    }));
  },
};

// A SEA runs one CommonJS script whose `require` loads only built-in modules, so everything is bundled.
await build({
  entryPoints: ['packages/server/src/cli.ts'],
  outfile: `${out}/herald.cjs`,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // The workspace packages from their sources (as the binary test's freshness check assumes), not dist/.
  conditions: ['@herald/source'],
  plugins: [inlineVersion, absentOptionals],
  logLevel: 'warning',
});

mkdirSync(out, { recursive: true });
writeFileSync(
  `${out}/sea-config.json`,
  JSON.stringify({
    main: `${out}/herald.cjs`,
    output: `${out}/herald.blob`,
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
  }),
);
execFileSync(process.execPath, ['--experimental-sea-config', `${out}/sea-config.json`], { stdio: 'inherit' });

const binary = `${out}/herald`;
copyFileSync(process.execPath, binary);
chmodSync(binary, 0o755);
await inject(binary, 'NODE_SEA_BLOB', readFileSync(`${out}/herald.blob`), {
  sentinelFuse: 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
});
console.log(`built ${binary} (herald ${version}, node ${process.version}, linux-${process.arch})`);
