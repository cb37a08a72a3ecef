// No 'use client' here: every hook's module has its own, and `defineChannels` must stay callable on
// the server, where a shared channels file is imported by Server Actions too.
export { type ChannelDefinitions, defineChannels } from '@herald/client';
export { HeraldProvider, type HeraldProviderProps, useHerald } from './provider.tsx';
export type { HookChannel, HookPublication, HookPublish, Register } from './register.ts';
export { type ChannelView, type UseChannelOptions, useChannel } from './use-channel.ts';
export { useConnectionState } from './use-connection-state.ts';
export { type PresenceView, usePresence } from './use-presence.ts';
export { type PublishView, usePublish } from './use-publish.ts';
export { type StreamOptions, type StreamView, useStream } from './use-stream.ts';
