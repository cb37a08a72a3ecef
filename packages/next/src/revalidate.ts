import { createPublisher, type Publisher, type PublishOptions, type TypedPublisher } from './publisher.ts';

export interface RevalidateOptions extends PublishOptions {
  /** Cache tags to expire (`revalidateTag(tag, { expire: 0 })`): the next render reads fresh data. */
  tags?: string[];
  /** Paths to revalidate (`revalidatePath`). */
  paths?: string[];
  /** Default: `createPublisher()`, the in-process hub (or `HERALD_URL`'s). */
  publisher?: Publisher | TypedPublisher<never>;
}

/**
 * For Server Actions (and Route Handlers) that change what Server Components show: expires `tags` and
 * `paths`, then publishes `data` on `channel`, so every page kept live by `<LiveRefresh channel>`
 * re-renders with fresh server data. Next.js applies revalidations only once the action has returned,
 * so the publication is made after the response (`after`): a refresh it triggers never reads the old
 * cache. A failed publish is logged there (the action has already answered).
 */
export async function publishAndRevalidate(
  channel: string,
  data: unknown,
  options: RevalidateOptions = {},
): Promise<void> {
  // Loaded on use: `@herald/next` is imported by plain Node too (custom servers, scripts), which has no
  // request for these to act on.
  const [{ revalidatePath, revalidateTag }, { after }] = await Promise.all([
    import('next/cache.js'),
    import('next/server.js'),
  ]);
  const { tags = [], paths = [], publisher, ...publish } = options;
  for (const tag of tags) revalidateTag(tag, { expire: 0 });
  for (const path of paths) revalidatePath(path);
  const target = (publisher ?? defaultPublisher()) as Publisher;
  after(() =>
    target.publish(channel, data, publish).catch((err: unknown) => {
      console.error(`herald: publishing to ${channel} after revalidating failed`, err);
    }),
  );
}

let fallback: Publisher | undefined;
function defaultPublisher(): Publisher {
  fallback ??= createPublisher();
  return fallback;
}
