import { herald } from './herald.ts';

export const JOB_ID = /^[A-Za-z0-9_-]{1,40}$/;
const STEPS = ['queued', 'fetching rows', 'resizing images', 'writing archive', 'uploading', 'done'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A pretend background job: 20 units of work, each one published on `jobs:<id>` as it completes. Pages
 * read the channel's history before following it live, so they see every step however late they come.
 */
export async function runJob(id: string, units = 20, unitMs = 150): Promise<void> {
  const channel = `jobs:${id}`;
  for (let done = 0; done <= units; done++) {
    const progress = Math.round((done / units) * 100);
    const step = STEPS[Math.min(STEPS.length - 1, Math.floor((done / units) * (STEPS.length - 1)))];
    await herald.publish(channel, { progress, step }, { event: progress === 100 ? 'done' : 'progress' });
    if (done < units) await sleep(unitMs);
  }
}
