'use client';

export {
  ChatRouteError,
  type HeraldChatTransportOptions,
  heraldChatTransport,
} from './chat-transport.ts';
export { useHeraldChatTransport } from './use-chat-transport.ts';
