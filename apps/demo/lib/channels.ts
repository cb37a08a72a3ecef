import { defineChannels } from '@herald/next';
import { z } from 'zod';

/**
 * The demo's typed channels: the hub checks what anyone publishes on them (`demoHub`), and the
 * publisher takes only data of these shapes.
 */
export const channels = defineChannels({
  'orders:*': { placed: z.object({ id: z.string(), item: z.string().min(1).max(80) }) },
});
