/**
 * The many-machine executor: a BullMQ queue on Redis
 * (`deno task exp … --executor queue --queue redis://HOST:PORT`, workers
 * `deno task worker --queue redis://HOST:PORT` on any machine).
 *
 * The submitter adds one BullMQ job per run, with the id
 * `<sweep>-<index>` (the sweep id hashes the experiment, its flags, its code
 * and its runs), so submitting the same sweep again adds nothing and
 * `--attach` finds it; it then follows the jobs until each has completed
 * (its return value is the job's result) or failed for good, and writes the
 * results folder. With `--detach` it returns once the jobs are queued.
 *
 * Retries, backoff and stalled-job recovery are BullMQ's: a job is tried
 * `attempts` times with exponential backoff; a worker that dies holding a job
 * stops renewing its lock, and after `lockDuration` another worker's stalled
 * check puts the job back in the queue. A job whose code hash differs from
 * the worker's fails at once (`UnrecoverableError`) with the worker's
 * message. Completion is read by polling each job's state (not only from
 * the event stream), so a Redis restart, with its append-only file on,
 * loses nothing the submitter needs.
 *
 * Connections take any URL ioredis accepts: `redis://:password@host:port`,
 * `rediss://…` for TLS. The submitter and workers listen on nothing.
 *
 * @module
 */
import { Job as QueueJob, Queue, QueueEvents, UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import { decodeOrThrow, type Job, JobCodec, type JobResult, JobResultCodec } from "./job.ts";
import { redactedUrl } from "../run/cache/redis_store.ts";
import type { RoundRecord } from "../run/results.ts";

/** Connection and tuning shared by submitter and workers. */
export interface QueueSettings {
  /** `redis://[:password@]host:port[/db]` or `rediss://…`. */
  readonly url: string;
  /** The queue's name (default `dbal`). */
  readonly name: string;
}

/** How long a job's lock lasts without renewal: a dead worker's job is retried after about this. */
export function lockDurationMs(): number {
  const env = Number(Deno.env.get("DBAL_QUEUE_LOCK_MS"));
  return Number.isFinite(env) && env > 0 ? env : 120_000;
}

/** Redis clients made by one submitter or worker: BullMQ leaves the clients it is given open, so they are closed here. */
class Connections {
  readonly #all: Redis[] = [];

  constructor(readonly url: string) {}

  /** A new client; maxRetriesPerRequest null: commands wait for a reconnection (Redis restarted) instead of failing. */
  open(): Redis {
    const redis = new Redis(this.url, { maxRetriesPerRequest: null });
    redis.on("error", () => {}); // reconnection is ioredis's; errors surface as failed commands where they matter
    this.#all.push(redis);
    return redis;
  }

  close(): void {
    for (const r of this.#all) r.disconnect();
  }
}

const jobId = (job: Job) => `${job.sweep}-${job.index}`;

/** How often the submitter reads every open job's state, whatever the events said. */
const FULL_POLL_MS = 10_000;

/** What the submitter reports while it waits. */
export interface QueueFollow {
  readonly onRound?: (job: Job, round: number, worker: string) => void;
  readonly onDone?: (job: Job, result: JobResult) => void;
  /** Told when a job starts again elsewhere (a worker died or it failed and is retried). */
  readonly onRetry?: (job: Job, why: string) => void;
  /** Told once, when the jobs are in the queue. */
  readonly onQueued?: (added: number, already: number) => void;
}

/**
 * Enqueues a sweep's jobs (those not queued yet) and, unless `detach`,
 * waits for their results.
 *
 * @param jobs the sweep's jobs
 * @param settings the queue
 * @param opts `detach`, `attach` (fail when the sweep is not queued), `attempts`, callbacks
 * @returns the results in the jobs' order, or undefined when detached
 * @throws Error naming the job and its failure when a job failed for good
 */
export async function runOnQueue(
  jobs: readonly Job[],
  settings: QueueSettings,
  opts: QueueFollow & { readonly detach?: boolean; readonly attach?: boolean; readonly attempts?: number } = {},
): Promise<JobResult[] | undefined> {
  const connections = new Connections(settings.url);
  const queue = new Queue(settings.name, { connection: connections.open() });
  const events = new QueueEvents(settings.name, { connection: connections.open() });
  try {
    const existing = await Promise.all(jobs.map((j) => queue.getJob(jobId(j))));
    const missing = jobs.filter((_, i) => existing[i] === undefined);
    if (opts.attach && missing.length === jobs.length) {
      throw new Error(
        `--attach: no job of sweep ${jobs[0]?.sweep} is in queue "${settings.name}" at ${redactedUrl(settings.url)}; ` +
          "submit it first (the same command without --attach)",
      );
    }
    // A sweep submitted again after a job failed for good: that job starts over.
    for (const [i, j] of existing.entries()) {
      if (j && (await j.getState()) === "failed") {
        opts.onRetry?.(jobs[i] as Job, `it had failed (${j.failedReason}); submitted again`);
        await j.retry("failed");
      }
    }
    const week = 7 * 86_400;
    await queue.addBulk(missing.map((job) => ({
      name: `${job.experiment} ${job.label}`,
      data: job,
      opts: {
        jobId: jobId(job),
        attempts: opts.attempts ?? 3,
        backoff: { type: "exponential", delay: 2_000 },
        removeOnComplete: { age: week },
        removeOnFail: { age: week },
      },
    })));
    opts.onQueued?.(missing.length, jobs.length - missing.length);
    if (opts.detach) return undefined;

    const byId = new Map(jobs.map((j) => [jobId(j), j]));
    events.on("progress", ({ jobId: id, data }) => {
      const job = byId.get(id);
      const d = data as { round?: number; worker?: string };
      if (job && typeof d.round === "number") opts.onRound?.(job, d.round, d.worker ?? "?");
    });
    const results: (JobResult | undefined)[] = jobs.map(() => undefined);
    const attemptsSeen = new Map<number, number>();
    // Events say which job to look at; every FULL_POLL_MS all open jobs are read anyway, so an event lost
    // (a Redis restart, a dropped connection) delays the submitter by at most that, and loses nothing.
    const flagged = new Set<number>();
    let wake: () => void = () => {};
    const flag = ({ jobId: id }: { jobId: string }) => {
      const job = byId.get(id);
      if (job) {
        flagged.add(job.index);
        wake();
      }
    };
    for (const event of ["active", "completed", "failed", "stalled"] as const) events.on(event, flag);
    let lastFull = -Infinity;
    for (;;) {
      const full = performance.now() - lastFull >= FULL_POLL_MS;
      if (full) lastFull = performance.now();
      const look = full ? jobs : [...flagged].map((i) => jobs[i] as Job);
      flagged.clear();
      for (const job of look) {
        if (results[job.index]) continue;
        const q = await QueueJob.fromId(queue, jobId(job));
        if (!q) throw new Error(`job ${job.index + 1}/${job.count} (${job.label}) vanished from the queue`);
        const state = await q.getState();
        if (state === "completed") {
          const result = decodeOrThrow(JobResultCodec, q.returnvalue, `queue job ${q.id}`);
          results[job.index] = result;
          opts.onDone?.(job, result);
          continue;
        }
        if (state === "failed") {
          throw new Error(
            `job ${job.index + 1}/${job.count} (${job.label}) failed after ${q.attemptsMade} attempt(s): ` +
              q.failedReason,
          );
        }
        const tries = q.attemptsStarted ?? q.attemptsMade;
        if (tries > 1 && (attemptsSeen.get(job.index) ?? 1) < tries) {
          opts.onRetry?.(
            job,
            `attempt ${tries} started (the last one's worker died or failed: ${q.failedReason ?? "stalled"})`,
          );
        }
        attemptsSeen.set(job.index, tries);
      }
      if (results.every((r) => r !== undefined)) return results as JobResult[];
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, FULL_POLL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        if (flagged.size > 0) wake();
      });
      wake = () => {};
    }
  } finally {
    await events.close().catch(() => {});
    await queue.close().catch(() => {});
    connections.close();
  }
}

/** Options of {@link serveQueue}. */
export interface ServeQueueOptions extends QueueSettings {
  /** Stop once the queue has had no waiting, delayed or active job for a while (default: run until stopped). */
  readonly untilEmpty: boolean;
  readonly id: string;
  readonly run: (job: Job, onRound: (record: RoundRecord) => void) => Promise<JobResult>;
  /** Whether an error means this worker must never run the job (it fails at once, not retried). */
  readonly refused: (e: unknown) => boolean;
}

/**
 * A queue worker: takes jobs one at a time until stopped (SIGINT/SIGTERM:
 * finishes nothing, the job goes back to the queue) or, with `untilEmpty`,
 * until the queue is empty.
 *
 * @param opts the queue, the worker's name and its job runner
 */
export async function serveQueue(opts: ServeQueueOptions): Promise<void> {
  const lockDuration = lockDurationMs();
  const connections = new Connections(opts.url);
  const worker = new Worker(
    opts.name,
    async (q) => {
      const job = decodeOrThrow(JobCodec, q.data, `queue job ${q.id}`);
      try {
        return await opts.run(job, (record) => {
          void q.updateProgress({ index: job.index, round: record.round, worker: opts.id }).catch(() => {});
        });
      } catch (e) {
        if (opts.refused(e)) throw new UnrecoverableError((e as Error).message);
        throw new Error(`worker ${opts.id} on ${Deno.hostname()}: ${(e as Error).message}`);
      }
    },
    {
      connection: connections.open(),
      concurrency: 1,
      lockDuration,
      stalledInterval: Math.max(1_000, Math.round(lockDuration / 2)),
      maxStalledCount: 2,
      autorun: true,
    },
  );
  worker.on("error", () => {}); // connection errors: ioredis reconnects
  console.error(`[worker ${opts.id}] taking jobs from queue "${opts.name}" at ${redactedUrl(opts.url)}`);
  const stop = () => void worker.close(true);
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  if (opts.untilEmpty) {
    const queue = new Queue(opts.name, { connection: connections.open() });
    let idle = 0;
    while (!worker.closing) {
      await new Promise((r) => setTimeout(r, 1_000));
      const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized", "waiting-children");
      const open = Object.values(counts).reduce((a, b) => a + b, 0);
      idle = open === 0 ? idle + 1 : 0;
      if (idle >= 5) break;
    }
    await queue.close();
    await worker.close();
  } else {
    await new Promise<void>((resolve) => worker.on("closed", () => resolve()));
  }
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  connections.close();
  console.error(`[worker ${opts.id}] stopped`);
}
