import { describe, expect, it } from 'vitest';
import { HeraldError } from '../src/errors.ts';

describe('HeraldError', () => {
  it('is recognised across two copies of its module, as bundlers load it', async () => {
    // The query string makes Vite evaluate the module a second time: a distinct class object.
    const path = '../src/errors.ts?copy';
    const copy = (await import(path)) as typeof import('../src/errors.ts');
    expect(copy.HeraldError).not.toBe(HeraldError);
    const foreign = new copy.HeraldError('forbidden', 'no');
    expect(foreign instanceof HeraldError).toBe(true);
    expect(new HeraldError('bad_request', 'x') instanceof copy.HeraldError).toBe(true);
    expect(new Error('plain') instanceof HeraldError).toBe(false);
    expect((null as unknown as object) instanceof HeraldError).toBe(false);
  });

  it('keeps instanceof exact for subclasses', () => {
    class Narrow extends HeraldError {}
    expect(new Narrow('internal', 'x') instanceof HeraldError).toBe(true);
    expect(new HeraldError('internal', 'x') instanceof Narrow).toBe(false);
  });
});
