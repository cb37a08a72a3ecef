import { access, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';

/** What `herald-next init` writes, relative to the app directory (`app/` or `src/app/`). */
const FILES: Record<string, string> = {
  'realtime/[...herald]/route.ts': `import { heraldRoutes } from '@herald/next';

export const { GET, POST, OPTIONS } = heraldRoutes();
`,
  'herald-provider.tsx': `'use client';
import { HeraldProvider } from '@herald/react';

/** Herald for every page: wrap your root layout's children in it. */
export function Realtime({ children }: { children: React.ReactNode }) {
  return <HeraldProvider getToken={fetchToken}>{children}</HeraldProvider>;
}

/** The signed-in user's connection token; none (an anonymous connection) when signed out. */
async function fetchToken(): Promise<string | undefined> {
  const res = await fetch('/realtime-token', { cache: 'no-store' });
  return res.ok ? ((await res.json()) as { token: string }).token : undefined;
}
`,
  'realtime-token/route.ts': `import { connectionToken } from '@herald/next';

export const dynamic = 'force-dynamic';

/** A connection token for the signed-in user (signed with HERALD_TOKEN_SECRET), or 401 when signed out. */
export async function GET() {
  const user = await currentUser();
  if (!user) return new Response('not signed in', { status: 401 });
  return Response.json({ token: await connectionToken(user) }, { headers: { 'cache-control': 'no-store' } });
}

/** Your app's signed-in user id, or null: look it up in your session (cookies(), your auth library…). */
async function currentUser(): Promise<string | null> {
  return null;
}
`,
};

export class InitError extends Error {
  override name = 'InitError';
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/**
 * Writes Herald's route, provider and token route into the Next.js App Router app at `root`. Writes
 * nothing, and throws an `InitError`, when it is not a TypeScript App Router app or when any of the files
 * exists already. Returns the paths written, relative to `root`.
 */
export async function initApp(root: string): Promise<string[]> {
  const candidates = [join(root, 'app'), join(root, 'src', 'app')];
  const appDir = (await Promise.all(candidates.map(exists))).indexOf(true);
  if (appDir === -1) throw new InitError(`no App Router directory in ${root} (app/ or src/app/)`);
  if (!(await exists(join(root, 'tsconfig.json'))))
    throw new InitError(`${root} has no tsconfig.json: the files are TypeScript (see docs/quickstart.md)`);
  const targets = Object.entries(FILES).map(([path, text]) => ({
    path: join(candidates[appDir], path),
    text,
  }));
  const taken = (await Promise.all(targets.map((t) => exists(t.path)))).flatMap((found, i) =>
    found ? [relative(root, targets[i].path)] : [],
  );
  if (taken.length > 0)
    throw new InitError(
      `not overwriting ${taken.join(', ')}: move or delete ${taken.length > 1 ? 'them' : 'it'} first`,
    );
  for (const { path, text } of targets) {
    await mkdir(dirname(path), { recursive: true });
    // `wx`: never overwrite, even a file that appeared since the check.
    await writeFile(path, text, { flag: 'wx' });
  }
  return targets.map((t) => relative(root, t.path));
}
