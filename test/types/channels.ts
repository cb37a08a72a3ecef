import { defineChannels } from '@herald/react';
import { z } from 'zod';

/** The channels the type tests are about: patterns by namespace, a private one, an exact name. */
export const channels = defineChannels({
  'chat:*': {
    message: z.object({ text: z.string(), at: z.number().default(0) }),
    typing: z.object({ user: z.string() }),
  },
  'notifications:#*': { notification: z.object({ title: z.string(), read: z.boolean() }) },
  'chat:lobby': { announcement: z.object({ text: z.string() }) },
});

declare module '@herald/react' {
  interface Register {
    channels: typeof channels;
  }
}
