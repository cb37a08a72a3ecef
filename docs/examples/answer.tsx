'use client';
import { useStream } from '@herald/react';

export function Answer({ id }: { id: string }) {
  const { value, done } = useStream(`answers:${id}`, {
    initial: '',
    reduce: (text, pub) => (pub.event === 'token' ? text + pub.data.text : text),
  });
  return <p aria-busy={!done}>{value}</p>;
}
