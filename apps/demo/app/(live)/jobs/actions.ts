'use server';

import { JOB_ID, runJob } from '../../../lib/jobs.ts';

/**
 * Starts the job and returns at once; the job reports its progress on `jobs:<id>` (the page picks the id).
 * Steps published before the page subscribes reach it from the channel's history.
 */
export async function startJob(id: string): Promise<void> {
  if (!JOB_ID.test(id)) throw new Error('bad job id');
  void runJob(id).catch((err) => console.error('job failed', id, err));
}
