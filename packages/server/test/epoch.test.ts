import { expect, test } from 'vitest';
import { newEpoch } from '../src/brokers/epoch.ts';

test('every new epoch is distinct, also across refills of its random pool', () => {
  const epochs = Array.from({ length: 5_000 }, newEpoch);
  expect(new Set(epochs).size).toBe(epochs.length);
  for (const epoch of epochs) expect(epoch).toMatch(/^[A-Za-z0-9_-]{8}$/);
});
