'use server';
import { herald } from './herald';

export async function startJob(id: string) {
  void (async () => {
    for (let percent = 0; percent <= 100; percent += 10) {
      await herald.publish(`jobs:${id}`, { percent }, { event: 'progress' });
      await new Promise((done) => setTimeout(done, 500)); // the work
    }
    await herald.publish(`jobs:${id}`, { url: `/reports/${id}.pdf` }, { event: 'done' });
  })();
}
