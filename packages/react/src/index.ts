'use client';

export { HeraldProvider, type HeraldProviderProps, useHerald } from './provider.tsx';
export { type ChannelView, type UseChannelOptions, useChannel } from './use-channel.ts';
export { useConnectionState } from './use-connection-state.ts';
export { type PresenceView, usePresence } from './use-presence.ts';
export { type PublishView, usePublish } from './use-publish.ts';
export { type StreamOptions, type StreamView, useStream } from './use-stream.ts';
