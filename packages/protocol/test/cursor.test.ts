import { describe, expect, it } from 'vitest';
import { channelKey, decodeCursor, encodeCursor, MAX_CURSOR_LENGTH } from '../src/cursor.ts';
import { HeraldError } from '../src/errors.ts';

function badCursor(text: string): string {
  try {
    decodeCursor(text);
  } catch (err) {
    expect(err).toBeInstanceOf(HeraldError);
    expect((err as HeraldError).code).toBe('bad_cursor');
    return (err as HeraldError).message;
  }
  throw new Error(`${text} was accepted`);
}

describe('cursor codec', () => {
  it('round-trips the position of every channel', () => {
    const positions = {
      'chat:lobby': { epoch: 'k2Xa9Qw1', offset: 0 },
      'feed:#42': { epoch: 'épOch', offset: 2 ** 53 - 1 },
      x: { epoch: '', offset: 127 },
      y: { epoch: 'e', offset: 128 },
    };
    const cursor = decodeCursor(encodeCursor(positions));
    expect(cursor.size).toBe(4);
    for (const [channel, position] of Object.entries(positions)) {
      expect(cursor.position(channel)).toEqual(position);
    }
    expect(cursor.position('chat:other')).toBeUndefined();
    expect(encodeCursor(new Map(Object.entries(positions)))).toBe(encodeCursor(positions));
  });

  it('is compact and URL-safe', () => {
    const text = encodeCursor({ 'notifications:user-42': { epoch: 'k2Xa9Qw1', offset: 1234 } });
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(text.length).toBeLessThanOrEqual(30);
    expect(decodeCursor(encodeCursor({})).size).toBe(0);
  });

  it('refuses malformed, truncated, edited and oversized cursors with bad_cursor', () => {
    const good = encodeCursor({ a: { epoch: 'abcdefgh', offset: 300 }, b: { epoch: 'x', offset: 1 } });
    expect(badCursor('')).toMatch(/truncated/);
    expect(badCursor('not a cursor!')).toMatch(/base64url/);
    expect(badCursor(`${good}==`)).toMatch(/base64url/);
    expect(badCursor(`${good} `)).toMatch(/base64url/);
    expect(badCursor('A')).toMatch(/base64url/);
    expect(badCursor(good.slice(0, -3))).toMatch(/integrity|truncated/);
    expect(badCursor('x'.repeat(MAX_CURSOR_LENGTH + 1))).toMatch(/longer/);
    // Every single-character edit is caught by the check.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < good.length - 1; i++) {
      const swapped = alphabet[(alphabet.indexOf(good[i]) + 1) % 64];
      badCursor(good.slice(0, i) + swapped + good.slice(i + 1));
    }
  });

  it('refuses well-checked cursors whose content is malformed', () => {
    // Built by hand with a correct check, as a forger who read this file would.
    const seal = (body: number[]): string => {
      let hash = 0x811c9dc5;
      for (const b of body) hash = Math.imul(hash ^ b, 0x01000193);
      hash >>>= 0;
      const bytes = [...body, hash >>> 24, (hash >>> 16) & 0xff, (hash >>> 8) & 0xff, hash & 0xff];
      return btoa(String.fromCharCode(...bytes))
        .replace(/\+/g, '-')
        .replace(/\//g, '_')
        .replace(/=+$/, '');
    };
    const key = [1, 2, 3, 4];
    expect(badCursor(seal([2, 0]))).toMatch(/version/);
    expect(badCursor(seal([1, 1, ...key, 5, 65]))).toMatch(/truncated/);
    expect(badCursor(seal([1, 1, ...key, 1, 0xff, 1]))).toMatch(/UTF-8/);
    expect(badCursor(seal([1, 1, ...key, 1, 65, 0x80, 0]))).toMatch(/non-canonical/);
    expect(badCursor(seal([1, 1, ...key, 1, 65, ...Array(8).fill(0xff), 1]))).toMatch(/overlong/);
    expect(badCursor(seal([1, 1, ...key, 1, 65, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]))).toMatch(
      /2\^53/,
    );
    expect(badCursor(seal([1, 0, 9]))).toMatch(/trailing/);
    expect(badCursor(seal([1, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toMatch(/truncated/);
  });

  it('uses neither position when two channels share a key', () => {
    // Two names with one FNV-1a hash, found by search.
    const pair = ['ch:10wl8', 'ch:1xqd6'];
    expect(channelKey(pair[0])).toBe(channelKey(pair[1]));
    const cursor = decodeCursor(
      encodeCursor([
        [pair[0], { epoch: 'e', offset: 1 }],
        [pair[1], { epoch: 'e', offset: 2 }],
      ]),
    );
    expect(cursor.position(pair[0])).toBeUndefined();
    expect(cursor.position(pair[1])).toBeUndefined();
  });
});
