import { useLayoutEffect, useRef } from 'react';

/**
 * A ref that always holds the latest value: effects subscribe once per channel and still call the
 * callbacks of the latest render, so passing inline functions costs no resubscription.
 */
export function useLatest<T>(value: T): { readonly current: T } {
  const ref = useRef(value);
  // Layout effects run before any passive effect, so a subscription never sees a stale callback.
  useLayoutEffect(() => {
    ref.current = value;
  });
  return ref;
}
