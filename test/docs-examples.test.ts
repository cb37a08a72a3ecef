import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// docs/typed-channels.md shows the files of docs/examples/ (which `npm run typecheck` compiles) and counts
// their lines: the page must show each file as it is, and the counts must be the files'.
const DOC = new URL('../docs/typed-channels.md', import.meta.url);
const EXAMPLES = new URL('../docs/examples/', import.meta.url);
const doc = readFileSync(DOC, 'utf8');

/** Lines as the docs count them: no imports, no blank lines. */
function counted(source: string): number {
  let inImport = false;
  let count = 0;
  for (const line of source.split('\n')) {
    if (inImport || line.startsWith('import ')) {
      inImport = !/from '[^']+';$/.test(line);
      continue;
    }
    if (line.trim() !== '') count++;
  }
  return count;
}

const file = (name: string) => readFileSync(new URL(name, EXAMPLES), 'utf8');

describe('docs/typed-channels.md', () => {
  const shown = [...doc.matchAll(/<!-- example: (\S+) -->\n```tsx?\n\/\/ [^\n]*\n([\s\S]*?)```\n/g)];

  it('shows every example file as it is', () => {
    expect(shown.map(([, name]) => name)).toEqual([
      'channels.ts',
      'herald.ts',
      'route.ts',
      'notify.ts',
      'notifications.tsx',
      'start-job.ts',
      'job.tsx',
      'ask.ts',
      'answer.tsx',
    ]);
    for (const [, name, code] of shown) expect(code, name).toBe(file(name));
  });

  it('counts their lines right', () => {
    const channels = file('channels.ts');
    // Each use case's own entry of defineChannels, from its key to its closing brace; the rest is shared.
    const lines = channels.split('\n');
    const entry = (key: string) => {
      const first = lines.findIndex((l) => l.trimStart().startsWith(`'${key}'`));
      let depth = 0;
      let end = first;
      do {
        depth += (lines[end].match(/{/g)?.length ?? 0) - (lines[end].match(/}/g)?.length ?? 0);
        end++;
      } while (depth > 0 && end < lines.length);
      return end - first;
    };
    const row = (useCase: string, key: string, action: string, component: string) => {
      const counts = [entry(key), counted(file(action)), counted(file(component))];
      return `| ${useCase} | ${counts.join(' | ')} | ${counts.reduce((a, b) => a + b)} |`;
    };
    expect(doc).toContain(row('notifications', 'notifications:#*', 'notify.ts', 'notifications.tsx'));
    expect(doc).toContain(row('job progress', 'jobs:*', 'start-job.ts', 'job.tsx'));
    expect(doc).toContain(row('streamed AI answer', 'answers:*', 'ask.ts', 'answer.tsx'));
    const shared = counted(channels) - entry('notifications:#*') - entry('jobs:*') - entry('answers:*');
    const once = shared + counted(file('herald.ts')) + counted(file('route.ts'));
    expect(doc).toContain(
      `| once per app: \`defineChannels\` and \`Register\` (${shared}), publisher (1), route (1) | | | | ${once} |`,
    );
  });
});
