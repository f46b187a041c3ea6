// BullMQ against a server: a queue of 200 jobs (some delayed, some failing
// once and retried), one worker with concurrency, completion events through
// QueueEvents. Prints "completed=N failed=N retried=N delayed=N events=N".
// Usage: node bullmq_jobs.js PORT   (bullmq resolved through NODE_PATH)
const { Queue, Worker, QueueEvents } = require('bullmq');

const port = Number(process.argv[2]);
const connection = { host: '127.0.0.1', port };
const JOBS = 200;

async function main() {
  const name = 'reddish-test';
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  await events.waitUntilReady();
  let completedEvents = 0;
  events.on('completed', () => { completedEvents += 1; });

  const attempts = new Map();
  let retried = 0;
  const worker = new Worker(name, async (job) => {
    const seen = (attempts.get(job.id) || 0) + 1;
    attempts.set(job.id, seen);
    if (job.data.failOnce && seen === 1) {
      retried += 1;
      throw new Error('first attempt fails');
    }
    return job.data.n * 2;
  }, { connection, concurrency: 8 });

  const jobs = [];
  let delayed = 0;
  for (let n = 0; n < JOBS; n++) {
    const opts = { attempts: 3, backoff: { type: 'fixed', delay: 50 }, removeOnComplete: false };
    if (n % 10 === 0) { opts.delay = 300; delayed += 1; }
    jobs.push({ name: 'job', data: { n, failOnce: n % 7 === 0 }, opts });
  }
  await queue.addBulk(jobs.slice(0, 100));
  for (const j of jobs.slice(100)) await queue.add(j.name, j.data, j.opts);

  const deadline = Date.now() + 60000;
  let counts;
  for (;;) {
    counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
    if (counts.completed + counts.failed >= JOBS || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // Let the last completion events arrive.
  const eventsDeadline = Date.now() + 5000;
  while (completedEvents < counts.completed && Date.now() < eventsDeadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const completedJobs = await queue.getCompleted(0, JOBS);
  const values = completedJobs.filter((j) => j.returnvalue === j.data.n * 2).length;
  console.log(`completed=${counts.completed} failed=${counts.failed} retried=${retried} delayed=${delayed} events=${completedEvents} values=${values}`);
  await worker.close();
  await events.close();
  await queue.obliterate({ force: true });
  await queue.close();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
