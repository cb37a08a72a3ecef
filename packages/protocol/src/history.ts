import type { HistoryResult, StreamPosition } from './types.ts';

/** What a `history` command asks for besides its channel. */
export interface HistoryOptions {
  since?: StreamPosition;
  limit?: number;
  reverse?: boolean;
}

/**
 * Reads history through `ask` and follows the pages the hub cut to fit its send queue (`next`), one
 * after another, so the result holds everything the query asked for.
 */
export async function readWholeHistory(
  ask: (query: HistoryOptions) => Promise<HistoryResult>,
  query: HistoryOptions = {},
): Promise<HistoryResult> {
  const result = await ask(query);
  for (let next = result.next; next !== undefined; ) {
    const page = await ask({ since: next.since, limit: next.limit, reverse: query.reverse });
    result.publications.push(...page.publications);
    next = page.next;
  }
  delete result.next;
  return result;
}
