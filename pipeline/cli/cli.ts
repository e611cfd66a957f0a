/**
 * `deno task exp <experiment file> [flags]`: runs an experiment and writes
 * its results under `results/<name>/` (or `--out`).
 *
 * @module
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import type { ExperimentConfig } from "../../dsl/experiment.ts";
import { type Experiment, isExperiment } from "../../dsl/compose.ts";
import { parseBackend } from "../tensor/backend.ts";
import type { ChecksumPolicy } from "../data/mod.ts";
import type { FinishedRunsSink, PlannedStep } from "../run/interpreter.ts";
import { appendFinishedRun, FINISHED_RUNS_FILE, readFinishedRuns } from "../run/finished_runs.ts";
import { ConfigError, loadRunnable } from "./experiment_file.ts";
import { formatDuration } from "../run/progress.ts";
import { reportHeader, reportOptions, writeReport } from "./report.ts";
import { type RoundRecord, writeTextAtomic } from "../run/results.ts";
import {
  closeStores,
  composePreset,
  executeRuns,
  experimentCodeHash,
  portablePath,
  type RunContext,
  startRun,
} from "./execute.ts";
import { type Job, type JobResult, makeJobs, sumCounts } from "../sweep/job.ts";
import { SweepProgress } from "../sweep/progress.ts";
import { SweepDisplay } from "../sweep/display.ts";
import type { Progress } from "../run/progress.ts";
import { runLocalPool } from "../sweep/local_pool.ts";
import { runOnQueue } from "../sweep/queue.ts";
import { redactedUrl } from "../run/cache/redis_store.ts";
import { readArrayResults, sweepDir, writeArray } from "../sweep/slurm.ts";
import { exitWhenOrphaned } from "../run/parent_watch.ts";
import { lockResultsDir, releaseHeldLocksSync } from "../run/results_lock.ts";

const usage = `Usage: deno task exp <experiment.ts|.yaml> [flags]

Flags:
  --backend auto|tensorflow|wasm|webgpu|cpu   tensor backend (default auto)
  --data-dir DIR     data sets directory (default: $DBAL_DATA, else ~/.cache/dbal/data)
  --full             the paper's scale (the experiment's "full" settings)
  --seeds 0,1,2      override the seeds
  --rounds N         override the number of acquisition rounds
  --out DIR          results directory (default results/<experiment name>)
  --no-download      never download missing data
  --cache-dir DIR    stage cache (default results/.cache), or redis://[:password@]host:port for a fleet's store
  --no-cache         neither read nor write the cache
  --refresh STAGE    recompute this stage kind or name even when cached (repeatable)
  --export NAME      run this named export of a TypeScript file instead of its default
  --dry-run          print the plan with cache hit/miss per stage, run nothing
  --executor local|queue|slurm   what runs the experiment's runs (one job per run; default local):
                     local: --workers N processes on this machine; queue: BullMQ workers on Redis
                     (deno task worker --queue URL, on any machine); slurm: a SLURM job array
  --workers N        local worker processes (default: one per core, at most one per run; each with one
                     wasm thread unless DBAL_WASM_THREADS is set); 1: everything in this process
  --queue URL        the queue: redis://[:password@]host:port, or rediss://... for TLS
  --queue-name NAME  the BullMQ queue's name (default dbal)
  --detach           queue: return once the jobs are queued
  --attach           queue: follow a sweep queued before; slurm: write the results of a finished array
  --submit           slurm: submit the array with sbatch and wait for it (default: write the script only)
  --sbatch OPT       slurm: an sbatch option for the script, e.g. partition=gpu (repeatable)
  --shard K/N        run only runs K, K+N, K+2N, ... in this process
  --help             this text`;

/** Flags of the `exp` command. */
export interface CliFlags {
  readonly file: string;
  readonly backend: string;
  readonly dataDir?: string;
  readonly full: boolean;
  readonly seeds?: number[];
  readonly rounds?: number;
  readonly out?: string;
  readonly download: boolean;
  readonly cacheDir: string;
  readonly noCache: boolean;
  readonly refresh: readonly string[];
  readonly dryRun: boolean;
  /** What executes the runs (`--executor`). */
  readonly executor?: "local" | "queue" | "slurm";
  /** Local worker processes for the runs (`--workers`; 1 or absent: this process). */
  readonly workers?: number;
  /** `--queue`: the Redis URL of the queue executor. */
  readonly queue?: string;
  readonly queueName?: string;
  readonly detach?: boolean;
  readonly attach?: boolean;
  /** `--submit`: submit the SLURM array and wait. */
  readonly submit?: boolean;
  /** `--sbatch` lines. */
  readonly sbatch?: readonly string[];
  /** Run only the runs i with i % count === index (`--shard K/N`). */
  readonly shard?: { readonly index: number; readonly count: number };
  /** The named export to run (default: the default export). */
  readonly exportName?: string;
  /** Checksums to enforce on data files (programmatic only; default the official ones). */
  readonly checksums?: ChecksumPolicy;
  /** Changes each experiment before it runs, after the other flags (programmatic only: tests shrink examples). */
  readonly adjust?: (config: ExperimentConfig) => ExperimentConfig;
}

/**
 * Parses command-line arguments.
 *
 * @param args the arguments after the task name
 * @returns flags, or a message saying what is wrong
 */
export function parseCli(args: readonly string[]): CliFlags | string {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        "backend": { type: "string", default: "auto" },
        "data-dir": { type: "string" },
        "full": { type: "boolean", default: false },
        "seeds": { type: "string" },
        "rounds": { type: "string" },
        "out": { type: "string" },
        "no-download": { type: "boolean", default: false },
        "cache-dir": { type: "string", default: "results/.cache" },
        "no-cache": { type: "boolean", default: false },
        "refresh": { type: "string", multiple: true, default: [] },
        "dry-run": { type: "boolean", default: false },
        "workers": { type: "string" },
        "executor": { type: "string", default: "local" },
        "queue": { type: "string" },
        "queue-name": { type: "string", default: "dbal" },
        "detach": { type: "boolean", default: false },
        "attach": { type: "boolean", default: false },
        "submit": { type: "boolean", default: false },
        "sbatch": { type: "string", multiple: true, default: [] },
        "shard": { type: "string" },
        "export": { type: "string" },
        "help": { type: "boolean", default: false },
      },
    });
  } catch (e) {
    return (e as Error).message;
  }
  const v = parsed.values;
  if (v.help) return usage;
  if (parsed.positionals.length !== 1) return `expected one experiment file, got ${parsed.positionals.length}`;
  const backend = parseBackend(v.backend ?? "auto");
  if (backend.startsWith("--")) return backend;
  let seeds: number[] | undefined;
  if (v.seeds !== undefined) {
    seeds = v.seeds.split(",").map((s) => Number(s.trim()));
    if (seeds.some((s) => !Number.isInteger(s))) return `--seeds: expected integers like 0,1,2, got "${v.seeds}"`;
  }
  let rounds: number | undefined;
  if (v.rounds !== undefined) {
    rounds = Number(v.rounds);
    if (!Number.isInteger(rounds) || rounds < 1) return `--rounds: expected an integer >= 1, got "${v.rounds}"`;
  }
  let workers: number | undefined;
  if (v.workers !== undefined) {
    workers = Number(v.workers);
    if (!Number.isInteger(workers) || workers < 1) return `--workers: expected an integer >= 1, got "${v.workers}"`;
  }
  const executor = v.executor ?? "local";
  if (executor !== "local" && executor !== "queue" && executor !== "slurm") {
    return `--executor: expected local, queue or slurm, got "${executor}"`;
  }
  if (executor === "queue" && v.queue === undefined) {
    return "--executor queue: give the queue with --queue redis://HOST:PORT";
  }
  if (v.queue !== undefined && executor !== "queue") return "--queue: only with --executor queue";
  if (v.detach && executor !== "queue") return "--detach: only with --executor queue";
  if (v.attach && executor === "local") return "--attach: only with --executor queue or slurm";
  if ((v.submit || (v.sbatch ?? []).length > 0) && executor !== "slurm") {
    return "--submit, --sbatch: only with --executor slurm";
  }
  if (v.detach && v.attach) return "--detach and --attach: choose one";
  let shard: { index: number; count: number } | undefined;
  if (v.shard !== undefined) {
    const m = v.shard.match(/^(\d+)\/(\d+)$/);
    const index = Number(m?.[1]), count = Number(m?.[2]);
    if (!m || count < 1 || index >= count) return `--shard: expected K/N with 0 <= K < N, got "${v.shard}"`;
    shard = { index, count };
  }
  return {
    file: parsed.positionals[0] as string,
    backend,
    full: v.full ?? false,
    download: !(v["no-download"] ?? false),
    cacheDir: v["cache-dir"] ?? "results/.cache",
    noCache: v["no-cache"] ?? false,
    refresh: v.refresh ?? [],
    dryRun: v["dry-run"] ?? false,
    executor,
    queueName: v["queue-name"] ?? "dbal",
    detach: v.detach ?? false,
    attach: v.attach ?? false,
    submit: v.submit ?? false,
    sbatch: v.sbatch ?? [],
    ...(v.queue !== undefined ? { queue: v.queue } : {}),
    ...(v["data-dir"] !== undefined ? { dataDir: v["data-dir"] } : {}),
    ...(v.out !== undefined ? { out: v.out } : {}),
    ...(v.export !== undefined ? { exportName: v.export } : {}),
    ...(seeds ? { seeds } : {}),
    ...(rounds ? { rounds } : {}),
    ...(workers ? { workers } : {}),
    ...(shard ? { shard } : {}),
  };
}

async function gitCommit(): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", { args: ["rev-parse", "HEAD"], stderr: "null" }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

/** What a finished run returns. */
export interface CliResult {
  readonly outDir: string;
  readonly records: RoundRecord[];
  readonly executed: Record<string, number>;
  readonly hits: Record<string, number>;
}

/** Prints every planned step with what the cache holds for it (to stdout). */
function printPlan(name: string, dataKey: string, plan: readonly PlannedStep[]): void {
  const why: Record<PlannedStep["status"], string> = {
    "hit": "hit",
    "miss": "miss (not in cache)",
    "refresh": "refresh (--refresh)",
    "no-cache": "miss (--no-cache)",
    "uncached": "runs (not cached)",
    "damaged": "miss (damaged entry: sizes do not match)",
  };
  const lines: string[] = [`plan of ${name} (data ${dataKey.slice(0, 12)}):`];
  let run = "";
  let i = 0;
  for (const p of plan) {
    if (p.run !== run) {
      run = p.run;
      i = 0;
      lines.push(`run ${run}`);
    }
    lines.push(`  ${String(i++).padStart(3)} ${p.name.padEnd(30)} ${p.key.slice(0, 12)}  ${why[p.status]}`);
  }
  const hits = plan.filter((p) => p.status === "hit").length;
  lines.push(`${hits} hit(s), ${plan.length - hits} to run`);
  console.log(lines.join("\n"));
}

/**
 * Runs the `exp` command.
 *
 * @param flags parsed flags
 * @returns where results went and what ran
 */
export async function runExperimentCommand(flags: CliFlags): Promise<CliResult> {
  const runnable = await loadRunnable(flags.file, flags.exportName);
  if (runnable.kind === "experiment") return await runConfig(runnable.config, flags, flags.out);
  if (runnable.kind === "composed") return await runUserComposition(runnable.experiment, flags);
  const base = flags.out ?? `results/${runnable.name}`;
  const parts: { name: string; result: CliResult; seconds: number }[] = [];
  for (const [i, config] of runnable.experiments.entries()) {
    console.error(`[${runnable.name}] experiment ${i + 1}/${runnable.experiments.length}: ${config.name}`);
    const t0 = performance.now();
    const result = isExperiment(config)
      ? await runUserComposition(config, { ...flags, out: `${base}/${config.name}` }, i)
      : await runConfig(config, flags, `${base}/${config.name}`, i);
    parts.push({ name: config.name, result, seconds: (performance.now() - t0) / 1000 });
  }
  if (flags.dryRun) return { outDir: "", records: [], executed: {}, hits: {} };
  await writeReuseReport(base, runnable.name, runnable.description, parts, flags);
  const sum = (key: "executed" | "hits") => {
    const out: Record<string, number> = {};
    for (const p of parts) for (const [k, n] of Object.entries(p.result[key])) out[k] = (out[k] ?? 0) + n;
    return out;
  };
  return {
    outDir: base,
    records: parts.flatMap((p) => p.result.records),
    executed: sum("executed"),
    hits: sum("hits"),
  };
}

const STAGE_ORDER = ["warm-start", "retrain", "fit-posterior", "evaluate", "score", "acquire", "pseudo-label"];

/** Writes `reuse.md` and `reuse.json`: per experiment of a suite, the stages run and those restored from the cache. */
async function writeReuseReport(
  dir: string,
  name: string,
  description: string | undefined,
  parts: readonly { name: string; result: CliResult; seconds: number }[],
  flags: CliFlags,
): Promise<void> {
  const cell = (counts: Record<string, number>) =>
    STAGE_ORDER.filter((k) => counts[k]).map((k) => `${k} ${counts[k]}`).join(", ") || "none";
  const lines = [
    `# ${name}`,
    "",
    ...(description ? [description, ""] : []),
    `- command: \`deno task exp ${flags.file}${flags.full ? " --full" : ""}\``,
    `- commit: ${await gitCommit()}`,
    "",
    "Stages each experiment ran and those it restored from the cache, in the order the suite runs them:",
    "",
    "| experiment | wall time | stages run | restored from cache | reused |",
    "| --- | ---: | --- | --- | ---: |",
    ...parts.map((p) => {
      const ran = Object.values(p.result.executed).reduce((a, b) => a + b, 0);
      const hit = Object.values(p.result.hits).reduce((a, b) => a + b, 0);
      const share = ran + hit > 0 ? `${((100 * hit) / (ran + hit)).toFixed(0)}%` : "";
      return `| [${p.name}](${p.name}/summary.md) | ${formatDuration(p.seconds)} | ${cell(p.result.executed)} | ${
        cell(p.result.hits)
      } | ${share} |`;
    }),
    "",
  ];
  await writeTextAtomic(`${dir}/reuse.md`, lines.join("\n"));
  const json = parts.map((p) => ({
    experiment: p.name,
    seconds: p.seconds,
    executed: p.result.executed,
    restored: p.result.hits,
  }));
  await writeTextAtomic(`${dir}/reuse.json`, JSON.stringify(json, null, 2) + "\n");
}

/**
 * Runs one decoded experiment.
 *
 * @param loaded the experiment
 * @param flags the command's flags
 * @param out results directory (default `results/<name>`)
 * @returns where results went and what ran
 */
async function runConfig(
  loaded: ExperimentConfig,
  flags: CliFlags,
  out: string | undefined,
  part?: number,
): Promise<CliResult> {
  const exp = composePreset(loaded, flags, flags.adjust);
  return await runComposed(exp, flags, out, await startCommandRun(exp.name, flags), part);
}

/**
 * Starts a run of the `exp` command. Its recorded command line has what
 * decides the results: the file, the export, `--full`, `--seeds`, `--rounds`
 * and a backend other than auto (not where the cache or results live).
 */
function startCommandRun(name: string, flags: CliFlags): Promise<RunContext> {
  const args = [
    flags.file,
    ...(flags.exportName ? ["--export", flags.exportName] : []),
    ...(flags.full ? ["--full"] : []),
    ...(flags.seeds ? ["--seeds", flags.seeds.join(",")] : []),
    ...(flags.rounds !== undefined ? ["--rounds", String(flags.rounds)] : []),
    ...(flags.backend !== "auto" ? ["--backend", flags.backend] : []),
  ];
  return startRun(name, flags, flags, `deno task exp ${args.join(" ")}`);
}

/** Runs a composed experiment from a user's file (the `--full`, `--seeds`, `--rounds` flags reach its run builder). */
async function runUserComposition(exp: Experiment, flags: CliFlags, part?: number): Promise<CliResult> {
  return await runComposed(exp, flags, flags.out, await startCommandRun(exp.name, flags), part);
}

/** What a run produced, however it was executed. */
interface Produced {
  readonly records: RoundRecord[];
  readonly executed: Record<string, number>;
  readonly hits: Record<string, number>;
  readonly seconds: Record<string, number>;
  readonly dataKey: string;
  /** What `meta.json` says about the execution beyond one process's fields. */
  readonly meta: Record<string, unknown>;
}

/** The machine flags a worker process gets (absolute paths where it may start elsewhere). */
function machineArgs(flags: CliFlags, absolute: boolean): string[] {
  const path = (p: string) => absolute && !/^rediss?:\/\//.test(p) ? resolve(p) : p;
  return [
    "--cache-dir",
    path(flags.cacheDir),
    ...(flags.noCache ? ["--no-cache"] : []),
    ...(flags.download ? [] : ["--no-download"]),
    ...(flags.dataDir !== undefined ? ["--data-dir", path(flags.dataDir)] : []),
  ];
}

const WORKER = new URL("./worker.ts", import.meta.url).pathname;

/**
 * Executes an experiment's runs as a sweep's jobs, one per run, on the
 * executor the flags choose; undefined when they run in this process after
 * all (one worker) or the sweep was only submitted (`--detach`, a SLURM
 * array not `--submit`ted).
 */
async function runSweep<D>(
  exp: Experiment<D>,
  flags: CliFlags,
  outDir: string,
  ctx: RunContext,
  part: number | undefined,
  finished: FinishedRunsSink,
): Promise<Produced | "inline" | "submitted"> {
  const { progress } = ctx;
  const executor = flags.executor ?? "local";
  // The local pool skips runs the results folder's ledger holds (the queue and SLURM keep their own results).
  const listed = await executeRuns(exp, flags, flags, ctx, { listOnly: true, runKeys: executor === "local" });
  const workers = Math.min(flags.workers ?? 1, listed.runs.length);
  if (executor === "local" && workers <= 1) return "inline";
  const codeHash = await experimentCodeHash(flags.file);
  if (codeHash === undefined) {
    throw new Error(
      `${flags.file}: a module it imports cannot be read or hashed, so it cannot be sent to workers; ` +
        "run it with --workers 1",
    );
  }
  const selection = {
    file: portablePath(flags.file),
    full: flags.full,
    backend: flags.backend,
    refresh: [...flags.refresh],
    ...(flags.exportName !== undefined ? { exportName: flags.exportName } : {}),
    ...(part !== undefined ? { part } : {}),
    ...(flags.seeds ? { seeds: [...flags.seeds] } : {}),
    ...(flags.rounds ? { rounds: flags.rounds } : {}),
  };
  const allJobs = await makeJobs(exp.name, listed.runs.map((r) => r.label), selection, codeHash);
  const restored = new Map<number, readonly RoundRecord[]>();
  if (executor === "local" && flags.refresh.length === 0) {
    for (const [i, run] of listed.runs.entries()) {
      const records = run.key !== undefined ? finished.restore(run.key) : undefined;
      if (records) restored.set(i, records);
    }
  }
  const jobs = allJobs.filter((job) => !restored.has(job.index));
  if (restored.size > 0) {
    progress.line(
      `${restored.size} of ${allJobs.length} runs restored from ${outDir}/${FINISHED_RUNS_FILE} (same run keys): ` +
        [...restored.keys()].map((i) => listed.runs[i]?.label).join(", "),
    );
  }
  // The local pool on a terminal: one line per worker and the sweep's, redrawn (see pipeline/sweep/display.ts).
  const display = executor === "local" ? new SweepDisplay() : undefined;
  const shown: Progress | undefined = display?.terminal
    ? {
      line: (m) => display.permanent(`[${exp.name}] ${m}`),
      tick: (m) => display.sweep(`[${exp.name}] ${m}`),
    }
    : undefined;
  const sweep = new SweepProgress(
    shown ? { line: (m) => display?.sweep(`[${exp.name}] ${m}`), tick: () => {} } : progress,
    listed.runs.map((r) => r.rounds),
    shown ? 0 : 10_000,
    new Set(restored.keys()),
  );
  const jobName = (job: Job) => `job ${job.index + 1}/${job.count} (${job.label})`;
  const onDone = (job: Job, result: JobResult) => sweep.runDone(job.index, result.records.length, result.worker.id);
  let results: JobResult[] | undefined;
  if (executor === "local" && jobs.length === 0) results = [];
  else if (executor === "local") {
    progress.line(`${jobs.length} runs on ${workers} local workers, sharing the cache ${flags.cacheDir}`);
    const threads = Deno.env.get("DBAL_WASM_THREADS") === undefined ? { DBAL_WASM_THREADS: "1" } : undefined;
    try {
      results = await runLocalPool(jobs, {
        workers,
        ...(display?.terminal
          ? {
            onStderr: (id: string, line: string) => display.worker(id, line),
            onExit: (id: string) => display.remove(id),
          }
          : {}),
        command: (id) => ["run", "-A", WORKER, "--stdio", "--id", id, ...machineArgs(flags, false)],
        ...(threads ? { env: threads } : {}),
        onRound: (job, record, worker) => sweep.round(job.index, record.round, worker),
        onDone: async (job, result) => {
          const runKey = listed.runs[job.index]?.key;
          if (runKey !== undefined) {
            await finished.done({
              runKey,
              label: job.label,
              records: result.records as unknown as RoundRecord[],
              wallSeconds: result.wallSeconds,
            });
          }
          onDone(job, result);
        },
        onRetry: (job, worker, why) => {
          (shown ?? progress).line(`${jobName(job)}: ${why}; it goes to the next free worker`);
          sweep.restarted(job.index);
          void worker;
        },
      });
    } finally {
      display?.close();
    }
  } else if (executor === "queue") {
    const settings = { url: flags.queue as string, name: flags.queueName ?? "dbal" };
    results = await runOnQueue(jobs, settings, {
      ...(flags.detach ? { detach: true } : {}),
      ...(flags.attach ? { attach: true } : {}),
      onQueued: (added, already) =>
        progress.line(
          `sweep ${jobs[0]?.sweep}: ${added} job(s) queued, ${already} already there, on "${settings.name}" at ${
            redactedUrl(settings.url)
          }`,
        ),
      onRound: (job, round, worker) => sweep.round(job.index, round, worker),
      onDone,
      onRetry: (job, why) => {
        progress.line(`${jobName(job)}: ${why}`);
        sweep.restarted(job.index);
      },
    });
    if (results === undefined) {
      progress.line(`detached; follow it with the same command and --attach (workers: deno task worker --queue URL)`);
      return "submitted";
    }
  } else {
    results = await runSlurm(jobs, flags, outDir, exp.name, sweep);
    if (results === undefined) return "submitted";
  }
  const ids = [...new Set(results.map((r) => r.worker.id))];
  const first = results[0];
  const byRun = new Map<number, readonly RoundRecord[]>(restored);
  for (const r of results) byRun.set(r.index, r.records as unknown as RoundRecord[]);
  return {
    records: allJobs.flatMap((job) => [...byRun.get(job.index) ?? []]),
    executed: sumCounts(results, "executed"),
    hits: sumCounts(results, "hits"),
    seconds: sumCounts(results, "seconds"),
    dataKey: first?.dataKey ?? listed.dataKey,
    meta: {
      executor,
      workers: executor === "local" ? workers : ids.length,
      ...(first ? { backend: first.worker.backend, threads: first.worker.threads } : {}),
      sweep: allJobs[0]?.sweep,
      ...(restored.size > 0 ? { restoredRuns: [...restored.keys()].map((i) => listed.runs[i]?.label) } : {}),
      jobs: results.map((r) => ({
        run: allJobs[r.index]?.label,
        worker: r.worker.id,
        host: r.worker.host,
        wallSeconds: r.wallSeconds,
      })),
    },
  };
}

/** `--executor slurm`: writes the array; submits and waits with `--submit`, collects with `--attach`. */
async function runSlurm(
  jobs: readonly Job[],
  flags: CliFlags,
  outDir: string,
  name: string,
  sweep: SweepProgress,
): Promise<JobResult[] | undefined> {
  const dir = sweepDir(outDir);
  const progress = sweep.progress;
  const missing = (results: readonly (JobResult | undefined)[]) =>
    jobs.filter((j) => results[j.index] === undefined).map((j) => j.index);
  if (flags.attach) {
    const results = await readArrayResults(dir, jobs);
    const left = missing(results);
    if (left.length > 0) {
      throw new Error(
        `--attach: ${left.length} of ${jobs.length} array tasks have no result yet (tasks ${left.join(",")}); ` +
          `their logs: ${resolve(dir)}/logs/<task>.log`,
      );
    }
    return results as JobResult[];
  }
  const script = await writeArray(dir, jobs, {
    worker: [Deno.execPath(), "run", "-A", WORKER, ...machineArgs(flags, true)],
    cwd: Deno.cwd(),
    sbatch: flags.sbatch ?? [],
    name,
  });
  if (!flags.submit) {
    progress.line(`wrote ${script} (${jobs.length} array tasks); submit it with: sbatch ${script}`);
    progress.line(`then write the results with the same command and --attach`);
    return undefined;
  }
  const out = await new Deno.Command("sbatch", { args: ["--parsable", script], stderr: "piped", stdout: "piped" })
    .output().catch((e) => {
      throw new Error(`--submit: cannot run sbatch (${(e as Error).message}); is SLURM installed here?`);
    });
  if (!out.success) throw new Error(`sbatch failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  const id = new TextDecoder().decode(out.stdout).trim().split(";")[0];
  progress.line(`submitted array job ${id} (${jobs.length} tasks); waiting for their results`);
  const done = new Set<number>();
  for (;;) {
    const results = await readArrayResults(dir, jobs);
    for (const [i, r] of results.entries()) {
      if (r && !done.has(i)) {
        done.add(i);
        sweep.runDone(i, r.records.length, r.worker.id);
      }
    }
    const left = missing(results);
    if (left.length === 0) return results as JobResult[];
    const queued = await new Deno.Command("squeue", { args: ["-h", "-j", String(id)], stdout: "piped", stderr: "null" })
      .output();
    if (queued.success && new TextDecoder().decode(queued.stdout).trim() === "") {
      // Nothing of the array is queued or running any more, and results are missing: those tasks failed.
      const again = missing(await readArrayResults(dir, jobs));
      if (again.length > 0) {
        throw new Error(
          `array job ${id} ended with ${again.length} task(s) failed (${again.join(",")}); ` +
            `see ${resolve(dir)}/logs/<task>.log; resubmit with the same command (finished tasks are kept)`,
        );
      }
    }
    await new Promise((r) => setTimeout(r, 5_000));
  }
}

/**
 * Interprets a composed experiment (a preset's or a user's): runs or
 * restores every step (here, or as a sweep's jobs on workers), writes
 * `rounds.jsonl`, `meta.json`, the summary and the plot, or, with
 * `--dry-run`, prints the plan.
 */
async function runComposed<D>(
  exp: Experiment<D>,
  flags: CliFlags,
  out: string | undefined,
  ctx: RunContext,
  part?: number,
): Promise<CliResult> {
  const { progress, backend } = ctx;
  const outDir = out ?? `results/${exp.name}`;
  // One run per folder: held until this function returns; a dry run writes nothing and takes none.
  await using _lock = flags.dryRun
    ? undefined
    : await lockResultsDir(outDir, { onWarning: (m) => progress.line(`WARNING ${m}`) });
  if (flags.dryRun) {
    const planned = await executeRuns(exp, flags, flags, ctx, { dryRun: true });
    printPlan(exp.name, planned.dataKey, planned.plan);
    return { outDir: "", records: [], executed: {}, hits: {} };
  }
  const programmatic = flags.adjust !== undefined || flags.checksums !== undefined;
  const asSweep = !flags.shard && !programmatic &&
    ((flags.executor ?? "local") !== "local" || (flags.workers ?? 1) > 1);
  // Whole runs finished earlier into this folder, perhaps on another machine (see finished_runs.ts).
  const ledger = await readFinishedRuns(outDir, (m) => progress.line(`WARNING ${m}`));
  const finished: FinishedRunsSink = {
    restore: (runKey) => ledger.get(runKey)?.records,
    done: (run) => appendFinishedRun(outDir, run),
  };
  const swept = asSweep ? await runSweep(exp, flags, outDir, ctx, part, finished) : "inline";
  if (swept === "submitted") return { outDir, records: [], executed: {}, hits: {} };
  let produced: Produced;
  if (swept === "inline") {
    let partial: string | undefined;
    const result = await executeRuns(exp, flags, flags, ctx, {
      ...(flags.shard ? { shard: flags.shard } : {}),
      finishedRuns: finished,
      onRound: async (record) => {
        if (partial === undefined) {
          await Deno.mkdir(outDir, { recursive: true });
          partial = `${outDir}/rounds.jsonl.partial`;
          await Deno.writeTextFile(partial, "");
        }
        await Deno.writeTextFile(partial, JSON.stringify(record) + "\n", { append: true });
      },
    });
    if (partial !== undefined) await Deno.remove(partial);
    produced = {
      records: result.records,
      executed: result.stats.executed,
      hits: result.stats.hits,
      seconds: result.stats.seconds,
      dataKey: result.dataKey,
      meta: { backend: backend.name, threads: backend.threads },
    };
  } else produced = swept;
  const wallSeconds = (performance.now() - ctx.t0) / 1000;
  await Deno.mkdir(outDir, { recursive: true });
  await writeTextAtomic(`${outDir}/rounds.jsonl`, produced.records.map((r) => JSON.stringify(r) + "\n").join(""));
  const meta = {
    experiment: exp.name,
    command: ctx.command,
    argv: Deno.args,
    ...produced.meta,
    deno: Deno.version.deno,
    commit: await gitCommit(),
    started: ctx.started.toISOString(),
    wallSeconds,
    dataset: exp.load.stage.name.replace(/^load\//, ""),
    contentHash: produced.dataKey,
    executed: produced.executed,
    cacheHits: produced.hits,
    stageSeconds: produced.seconds,
    ...(exp.description !== undefined ? { description: exp.description } : {}),
    ...(exp.meta ?? {}),
  };
  await writeTextAtomic(`${outDir}/meta.json`, JSON.stringify(meta, null, 2) + "\n");
  await writeReport(outDir, reportHeader(meta as Parameters<typeof reportHeader>[0], exp.name), reportOptions(meta));
  // rounds.jsonl now holds every run: the ledger of finished runs has done its job.
  await Deno.remove(`${outDir}/${FINISHED_RUNS_FILE}`).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  progress.line(`done in ${formatDuration(wallSeconds)}; results in ${outDir}/`);
  if (tf.memory().numTensors > 0) progress.line(`  (${tf.memory().numTensors} tensors still allocated)`);
  const ran = Object.entries(produced.executed).map(([k, n]) => `${k} ${n}`).join(", ") || "none";
  const hit = Object.entries(produced.hits).map(([k, n]) => `${k} ${n}`).join(", ") || "none";
  progress.line(`stages executed: ${ran}; restored from cache: ${hit}`);
  return { outDir, records: produced.records, executed: produced.executed, hits: produced.hits };
}

if (import.meta.main) {
  const flags = parseCli(Deno.args);
  if (typeof flags === "string") {
    console.error(flags === usage ? usage : `exp: ${flags}\n\n${usage}`);
    Deno.exit(flags === usage ? 0 : 2);
  }
  exitWhenOrphaned({ cleanup: releaseHeldLocksSync }); // `deno task` killed: stop too, releasing the results lock
  try {
    // The command line's default is the local pool, one worker per core (capped at one per run).
    await runExperimentCommand({ ...flags, workers: flags.workers ?? navigator.hardwareConcurrency });
    closeStores();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      Deno.exit(2);
    }
    console.error(`exp: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
