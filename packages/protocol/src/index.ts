export * from './answer.ts';
export * from './close-codes.ts';
export * from './codec.ts';
export * from './cursor.ts';
export * from './errors.ts';
export * from './history.ts';
export * from './position.ts';
export type * from './types.ts';
export * from './webhooks.ts';
