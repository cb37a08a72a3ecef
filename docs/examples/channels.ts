import { defineChannels } from '@herald/react';
import { z } from 'zod';

export const channels = defineChannels({
  'notifications:#*': { notification: z.object({ title: z.string() }) },
  'jobs:*': {
    progress: z.object({ percent: z.number().min(0).max(100) }),
    done: z.object({ url: z.string() }),
  },
  'answers:*': { token: z.object({ text: z.string() }), done: z.object({}) },
});

declare module '@herald/react' {
  interface Register {
    channels: typeof channels;
  }
}
