'use client';
import { useStream } from '@herald/react';

export function Job({ id }: { id: string }) {
  const { last } = useStream(`jobs:${id}`);
  if (last?.event === 'done') return <a href={last.data.url}>Download the report</a>;
  return <progress max={100} value={last?.data.percent ?? 0} />;
}
