import { describe, expect, it } from 'vitest';
import { DATA_JSON, Delivery } from '../../src/core/delivery.ts';

describe('delivery', () => {
  it('embeds the data JSON a broker handed over, giving the push it would have encoded', () => {
    const cases = [
      {
        channel: 'chat:"1"',
        epoch: 'e1',
        offset: 7,
        data: { a: [1, 'é\u2028'], b: null },
        ts: 1700000000000,
      },
      { channel: 'c', epoch: 'e2', offset: 1, data: 'text', ts: 5, event: 'ping "x"' },
      { channel: 'c', epoch: 'e3', offset: 2, data: 0 },
    ];
    for (const pub of cases) {
      const plain = new Delivery(pub);
      const withJson = new Delivery({ ...pub, [DATA_JSON]: JSON.stringify(pub.data) });
      expect(withJson.json.toString()).toBe(plain.json.toString());
      expect(JSON.parse(withJson.json.toString())).toEqual({ type: 'pub', ...pub });
    }
  });
});
