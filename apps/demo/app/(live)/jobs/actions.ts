'use server';

import { JOB_ID, runJob } from '../../../lib/jobs.ts';

/**
 * Starts the job and returns at once; the job reports its progress on `jobs:<id>`. The page picks the id
 * and subscribes first, so no step is published before anyone listens.
 */
export async function startJob(id: string): Promise<void> {
  if (!JOB_ID.test(id)) throw new Error('bad job id');
  void runJob(id).catch((err) => console.error('job failed', id, err));
}
