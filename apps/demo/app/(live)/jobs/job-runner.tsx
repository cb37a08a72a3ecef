'use client';

import { useHerald, useStream } from '@herald/react';
import { useState } from 'react';
import { startJob } from './actions.ts';

interface Progress {
  progress: number;
  step: string;
}

function Job({ id }: { id: string }) {
  // The channel's history first, then live: the bar misses no step however late it subscribes.
  const { last, done } = useStream(`jobs:${id}`);
  const { progress, step } = (last?.data as Progress | undefined) ?? { progress: 0, step: 'starting' };
  return (
    <li className="job" data-testid="job" data-progress={progress}>
      <div className="row">
        <code>{id}</code>
        <span className="muted">{step}</span>
        <span data-testid="job-percent">{progress}%</span>
        {done && <span className="ok">✓ done</span>}
      </div>
      <div className="bar" role="progressbar" aria-valuenow={progress} aria-valuemin={0} aria-valuemax={100}>
        <div className="fill" style={{ width: `${progress}%` }} />
      </div>
    </li>
  );
}

export function JobRunner() {
  const client = useHerald();
  const [jobs, setJobs] = useState<string[]>([]);
  const start = () => {
    const id = crypto.randomUUID().slice(0, 8);
    setJobs((all) => [id, ...all]);
    void startJob(id);
  };
  return (
    <>
      <button type="button" className="primary" onClick={start} disabled={!client}>
        Start a job
      </button>
      <ul className="jobs">
        {jobs.map((id) => (
          <Job key={id} id={id} />
        ))}
      </ul>
    </>
  );
}
