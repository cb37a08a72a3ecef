'use client';

import { type ReactNode, type UIEvent, useCallback, useLayoutEffect, useMemo, useRef, useState } from 'react';

interface VirtualListProps<T> {
  items: readonly T[];
  itemKey: (item: T) => string | number;
  renderItem: (item: T) => ReactNode;
  /** Height assumed for rows not measured yet. */
  estimatedHeight?: number;
  /** Pixels rendered beyond each edge of the viewport. */
  overscan?: number;
  /** Called when the view comes near the top: load older items (they are prepended without a jump). */
  onNearTop?: () => void;
  className?: string;
  testId?: string;
}

/** First index whose bottom edge is below `y` (offsets are the rows' top edges, plus the total at the end). */
function rowAt(offsets: number[], y: number): number {
  let lo = 0;
  let hi = offsets.length - 2;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (offsets[mid + 1] <= y) lo = mid + 1;
    else hi = mid;
  }
  return Math.max(0, lo);
}

/**
 * A windowed list for long chat rooms: only the rows in (and just around) the viewport are in the DOM.
 * Rows have their own heights, measured once rendered. It follows the bottom while the reader is there,
 * and keeps the first visible row in place when rows are added above it (older history) or re-measured.
 */
export function VirtualList<T>({
  items,
  itemKey,
  renderItem,
  estimatedHeight = 56,
  overscan = 400,
  onNearTop,
  className,
  testId,
}: VirtualListProps<T>) {
  const viewport = useRef<HTMLDivElement>(null);
  const [heights, setHeights] = useState(() => new Map<string | number, number>());
  const [view, setView] = useState({ top: 0, height: 600 });
  // Where the reader is, as of the last scroll: at the bottom, or which row is at the top and how far into
  // it. Only scrolling moves it; rows added or re-measured are laid out around it.
  const anchor = useRef<{ atBottom: boolean; key?: string | number; delta: number }>({
    atBottom: true,
    delta: 0,
  });

  const offsets = useMemo(() => {
    const result = [0];
    for (const item of items)
      result.push(result[result.length - 1] + (heights.get(itemKey(item)) ?? estimatedHeight));
    return result;
  }, [items, heights, itemKey, estimatedHeight]);
  const total = offsets[offsets.length - 1];

  const remember = useCallback(() => {
    const el = viewport.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 8;
    const index = rowAt(offsets, el.scrollTop);
    anchor.current = items.length
      ? { atBottom, key: itemKey(items[index]), delta: el.scrollTop - offsets[index] }
      : { atBottom, delta: 0 };
  }, [offsets, items, itemKey]);

  // After every change of rows or heights: restore the reader's place.
  useLayoutEffect(() => {
    const el = viewport.current;
    if (!el) return;
    const { atBottom, key, delta } = anchor.current;
    if (atBottom) el.scrollTop = el.scrollHeight;
    else if (key !== undefined) {
      const index = items.findIndex((item) => itemKey(item) === key);
      if (index >= 0) el.scrollTop = offsets[index] + delta;
    }
    setView({ top: el.scrollTop, height: el.clientHeight });
  }, [offsets, items, itemKey]);

  const onScroll = (event: UIEvent<HTMLDivElement>) => {
    const el = event.currentTarget;
    setView({ top: el.scrollTop, height: el.clientHeight });
    remember();
    if (el.scrollTop < overscan && onNearTop) onNearTop();
  };

  // Rows report their height as they render; a change re-lays the list out around the anchor.
  const measure = (key: string | number) => (el: HTMLDivElement | null) => {
    if (!el || heights.get(key) === el.offsetHeight) return;
    const height = el.offsetHeight;
    setHeights((previous) => new Map(previous).set(key, height));
  };

  const first = rowAt(offsets, Math.max(0, view.top - overscan));
  const last = rowAt(offsets, view.top + view.height + overscan);
  const rows: ReactNode[] = [];
  for (let i = first; i <= last && i < items.length; i++) {
    const key = itemKey(items[i]);
    rows.push(
      <div key={key} ref={measure(key)} className="vrow" style={{ top: offsets[i] }}>
        {renderItem(items[i])}
      </div>,
    );
  }

  return (
    <div
      ref={viewport}
      className={`vlist ${className ?? ''}`}
      onScroll={onScroll}
      data-testid={testId}
      data-rendered={rows.length}
    >
      <div className="vspace" style={{ height: total }}>
        {rows}
      </div>
    </div>
  );
}
