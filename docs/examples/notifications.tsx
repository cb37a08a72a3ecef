'use client';
import { useStream } from '@herald/react';

export function Notifications({ user }: { user: string }) {
  const { value } = useStream(`notifications:#${user}`, {
    initial: [] as { offset: number; title: string }[],
    reduce: (list, { offset, data }) => [...list, { offset, title: data.title }],
  });
  return value.map((n) => <p key={n.offset}>{n.title}</p>);
}
