import { JobRunner } from './job-runner.tsx';

export default function JobsPage() {
  return (
    <>
      <h1>Background job</h1>
      <p className="muted">
        “Start” subscribes to <code>jobs:&lt;id&gt;</code>, then calls a Server Action that starts the job and
        returns at once. The job publishes each step; the bar moves as they arrive.
      </p>
      <JobRunner />
    </>
  );
}
