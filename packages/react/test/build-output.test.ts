import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../src/', import.meta.url);
const DIST = new URL('../dist/', import.meta.url);
const DIRECTIVE = /^'use client';/;

// Next.js treats a module as a client component only if its first statement is the directive: a build
// step that dropped it (a bundler merging modules, a banner-less config) would break every App Router app.
describe('the built @herald/react (dist/, as published)', () => {
  it("keeps 'use client' first in every module whose source has it", async () => {
    const sources = (await readdir(SRC)).filter((name) => /\.tsx?$/.test(name));
    const client: string[] = [];
    for (const name of sources) {
      if (!DIRECTIVE.test(await readFile(new URL(name, SRC), 'utf8'))) continue;
      client.push(name);
      const built = await readFile(new URL(name.replace(/\.tsx?$/, '.js'), DIST), 'utf8');
      expect(built, name).toMatch(DIRECTIVE);
    }
    // Every hook module at least: the check above must have had something to check.
    expect(client).toEqual(expect.arrayContaining(['provider.tsx', 'use-channel.ts', 'use-stream.ts']));
  });

  it("leaves the entry point without 'use client', so defineChannels from it runs on the server", async () => {
    expect(await readFile(new URL('index.js', DIST), 'utf8')).not.toMatch(/^'use client';/m);
    const { defineChannels } = await import('@herald/react');
    expect(defineChannels({ 'a:*': {} }).entry('a:1')).toEqual({});
  });
});
