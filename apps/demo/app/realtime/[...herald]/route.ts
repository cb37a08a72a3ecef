import { heraldRoutes } from '@herald/next';
import { demoHub } from '../../../lib/herald.ts';

// Streams must never be cached or prerendered, and the hub needs Node.js (not the Edge runtime).
export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

// SSE, long-polling, client actions and the server API under /realtime/… (WebSocket: see server.ts).
export const { GET, POST, OPTIONS } = heraldRoutes(demoHub);
