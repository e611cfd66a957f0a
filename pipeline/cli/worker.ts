/**
 * `deno task worker`: runs the jobs of sweeps (see `pipeline/sweep/job.ts`).
 *
 * - `--queue redis://[:password@]HOST:PORT` (or `rediss://` for TLS): takes
 *   jobs from the BullMQ queue until stopped (`--until-empty`: until the
 *   queue has no job left), on any machine with a checkout of the
 *   submitter's commit.
 * - `--jobs FILE --task K`: runs job K of a jobs file (a SLURM array task;
 *   K defaults to `$SLURM_ARRAY_TASK_ID`) and writes its result beside it.
 * - `--stdio`: the local pool's worker, fed jobs by `deno task exp --workers N`
 *   through a pipe.
 *
 * A worker runs only jobs made from the code it has: a job carries the hash
 * of the experiment's module graph and the library's, and a worker whose
 * copy differs refuses it with a message saying so.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Job, JobResult } from "../sweep/job.ts";
import {
  closeStores,
  executeRuns,
  experimentCodeHash,
  loadSelected,
  localPath,
  type MachineFlags,
  startRun,
} from "./execute.ts";
import type { RoundRecord } from "../run/results.ts";
import { exitWhenOrphaned } from "../run/parent_watch.ts";
import { releaseHeldLocksSync } from "../run/results_lock.ts";
import { runJobFileTask } from "../sweep/slurm.ts";
import { serveQueue } from "../sweep/queue.ts";
import { serveStdio } from "../sweep/local_pool.ts";

/** A job this worker must not run (its code differs from the submitter's): retrying elsewhere may help, here never. */
export class JobRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JobRefused";
  }
}

const hashes = new Map<string, Promise<string | undefined>>();
/** One backend and store per worker process and backend request: printed once, not per job. */
const contexts = new Map<string, ReturnType<typeof startRun>>();

/**
 * Runs one job in this process.
 *
 * @param job the job
 * @param machine this machine's data and cache
 * @param id the worker's name (progress lines, results)
 * @param onRound receives each record as soon as its round is done
 * @returns the job's result
 * @throws JobRefused when this copy of the code differs from the submitter's; Error when a stage fails
 */
export async function runJob(
  job: Job,
  machine: MachineFlags,
  id: string,
  onRound?: (record: RoundRecord) => void,
): Promise<JobResult> {
  const file = localPath(job.selection.file);
  const selection = { ...job.selection, file };
  let hashed = hashes.get(file);
  if (!hashed) hashes.set(file, hashed = experimentCodeHash(file));
  const here = await hashed;
  if (here !== job.codeHash) {
    throw new JobRefused(
      `worker ${id} refuses job ${job.index + 1}/${job.count} of sweep ${job.sweep}: its copy of ${file} ` +
        `or of dbal differs from the submitter's (code hash ${here?.slice(0, 12) ?? "unreadable"} here, ` +
        `${job.codeHash.slice(0, 12)} in the job); check out the submitter's commit`,
    );
  }
  const t0 = performance.now();
  const exp = await loadSelected(selection);
  const started = `${job.experiment} ${job.selection.backend}`;
  let context = contexts.get(started);
  if (!context) contexts.set(started, context = startRun(`${job.experiment} ${id}`, selection, machine, "worker"));
  const ctx = await context;
  const result = await executeRuns(exp, selection, machine, ctx, {
    shard: { index: job.index, count: job.count },
    expectRun: { index: job.index, count: job.count, label: job.label },
    onRound: (record) => Promise.resolve(onRound?.(record)),
  });
  return {
    v: 1,
    sweep: job.sweep,
    index: job.index,
    records: result.records as unknown as JobResult["records"],
    executed: result.stats.executed,
    hits: result.stats.hits,
    seconds: result.stats.seconds,
    dataKey: result.dataKey,
    wallSeconds: (performance.now() - t0) / 1000,
    worker: { id, host: Deno.hostname(), pid: Deno.pid, backend: ctx.backend.name, threads: ctx.backend.threads },
  };
}

const usage = `Usage: deno task worker (--queue URL | --jobs FILE [--task K] | --stdio) [flags]

  --queue URL        take jobs from the BullMQ queue at redis://[:password@]host:port (rediss:// for TLS)
  --queue-name NAME  the queue's name (default dbal)
  --until-empty      stop when the queue has no waiting or active job left
  --jobs FILE        a sweep's jobs file (written by --executor slurm); with --task K (default $SLURM_ARRAY_TASK_ID)
  --id NAME          this worker's name in progress lines and results (default host:pid)
  --cache-dir DIR    stage cache (default results/.cache; on a cluster, the shared folder; or redis://…)
  --data-dir DIR     data sets directory (default: $DBAL_DATA, else ~/.cache/dbal/data)
  --no-download      never download missing data
  --no-cache         neither read nor write the cache`;

if (import.meta.main) {
  let v;
  try {
    v = parseArgs({
      args: Deno.args,
      options: {
        "queue": { type: "string" },
        "queue-name": { type: "string", default: "dbal" },
        "until-empty": { type: "boolean", default: false },
        "jobs": { type: "string" },
        "task": { type: "string" },
        "stdio": { type: "boolean", default: false },
        "id": { type: "string" },
        "cache-dir": { type: "string", default: "results/.cache" },
        "data-dir": { type: "string" },
        "no-download": { type: "boolean", default: false },
        "no-cache": { type: "boolean", default: false },
        "help": { type: "boolean", default: false },
      },
    }).values;
  } catch (e) {
    console.error(`worker: ${(e as Error).message}\n\n${usage}`);
    Deno.exit(2);
  }
  if (v.help) {
    console.error(usage);
    Deno.exit(0);
  }
  const machine: MachineFlags = {
    cacheDir: v["cache-dir"] ?? "results/.cache",
    noCache: v["no-cache"] ?? false,
    download: !(v["no-download"] ?? false),
    ...(v["data-dir"] !== undefined ? { dataDir: v["data-dir"] } : {}),
  };
  const id = v.id ?? `${Deno.hostname()}:${Deno.pid}`;
  const modes = [v.queue !== undefined, v.jobs !== undefined, v.stdio].filter(Boolean).length;
  if (modes !== 1) {
    console.error(`worker: give exactly one of --queue, --jobs, --stdio\n\n${usage}`);
    Deno.exit(2);
  }
  exitWhenOrphaned({ cleanup: releaseHeldLocksSync });
  try {
    if (v.stdio) await serveStdio((job, onRound) => runJob(job, machine, id, onRound));
    else if (v.jobs !== undefined) {
      const task = v.task ?? Deno.env.get("SLURM_ARRAY_TASK_ID");
      if (task === undefined || !/^\d+$/.test(task)) {
        throw new Error(`--jobs: give --task K or set SLURM_ARRAY_TASK_ID (got ${task ?? "neither"})`);
      }
      await runJobFileTask(v.jobs, Number(task), (job) => runJob(job, machine, id));
    } else {
      await serveQueue({
        url: v.queue as string,
        name: v["queue-name"] ?? "dbal",
        untilEmpty: v["until-empty"] ?? false,
        id,
        run: (job, onRound) => runJob(job, machine, id, onRound),
        refused: (e) => e instanceof JobRefused,
      });
    }
  } catch (e) {
    console.error(`worker ${id}: ${(e as Error).message}`);
    Deno.exit(1);
  }
  closeStores();
}
