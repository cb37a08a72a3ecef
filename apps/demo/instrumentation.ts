/** Next.js calls this once when the server starts: the place for the demo's always-on publishers. */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  const { startFeeds } = await import('./lib/feeds.ts');
  startFeeds();
}
