import { JobRunner } from './job-runner.tsx';

export default function JobsPage() {
  return (
    <>
      <h1>Background job</h1>
      <p className="muted">
        “Start” calls a Server Action that starts the job and returns at once; the job publishes each step on{' '}
        <code>jobs:&lt;id&gt;</code>. The bar (<code>useStream</code>) reads the channel’s history first, then
        follows it live, so it misses no step however late it subscribes.
      </p>
      <JobRunner />
    </>
  );
}
