'use client';

import { useState } from 'react';
import { useChannel, useHeraldClient } from '../../components/realtime.tsx';
import { startJob } from './actions.ts';

interface JobState {
  id: string;
  progress: number;
  step: string;
  started: boolean;
}

function Job({ job, onChange }: { job: JobState; onChange: (job: JobState) => void }) {
  useChannel(`jobs:${job.id}`, {
    // Live before the job starts: every step it publishes reaches this bar.
    onSubscribed: () => {
      if (job.started) return;
      onChange({ ...job, started: true });
      void startJob(job.id);
    },
    onPublication: (pub) => {
      const { progress, step } = pub.data as { progress: number; step: string };
      onChange({ ...job, started: true, progress, step });
    },
  });
  const done = job.progress >= 100;
  return (
    <li className="job" data-testid="job" data-progress={job.progress}>
      <div className="row">
        <code>{job.id}</code>
        <span className="muted">{job.step}</span>
        <span data-testid="job-percent">{job.progress}%</span>
        {done && <span className="ok">✓ done</span>}
      </div>
      <div
        className="bar"
        role="progressbar"
        aria-valuenow={job.progress}
        aria-valuemin={0}
        aria-valuemax={100}
      >
        <div className="fill" style={{ width: `${job.progress}%` }} />
      </div>
    </li>
  );
}

export function JobRunner() {
  const client = useHeraldClient();
  const [jobs, setJobs] = useState<JobState[]>([]);
  const update = (next: JobState) => setJobs((all) => all.map((job) => (job.id === next.id ? next : job)));
  const start = () => {
    const id = crypto.randomUUID().slice(0, 8);
    setJobs((all) => [{ id, progress: 0, step: 'subscribing', started: false }, ...all]);
  };
  return (
    <>
      <button type="button" className="primary" onClick={start} disabled={!client}>
        Start a job
      </button>
      <ul className="jobs">
        {jobs.map((job) => (
          <Job key={job.id} job={job} onChange={update} />
        ))}
      </ul>
    </>
  );
}
