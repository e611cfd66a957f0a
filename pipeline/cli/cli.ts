/**
 * `deno task exp <experiment file> [flags]`: runs an experiment and writes
 * its results under `results/<name>/` (or `--out`).
 *
 * @module
 */
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { atFullScale, type ExperimentConfig } from "../../dsl/experiment.ts";
import * as E from "fp-ts/Either.js";
import { type Experiment, isExperiment } from "../../dsl/compose.ts";
import { openStore, type Store } from "../run/cache/mod.ts";
import { hashModuleGraph } from "../run/cache/module_hash.ts";
import { type BackendInfo, parseBackend, selectBackend } from "../tensor/backend.ts";
import type { ChecksumPolicy } from "../data/mod.ts";
import { interpret, type PlannedStep } from "../run/interpreter.ts";
import { WASM_KERNEL_SET_VERSION, wasmGradKernelStatus } from "../tensor/kernels/mod.ts";
import { presetExperiment } from "../packs/preset.ts";
import { ConfigError, loadRunnable } from "./experiment_file.ts";
import { formatDuration, makeProgress, type Progress } from "../run/progress.ts";
import { reportHeader, reportOptions, writeReport } from "./report.ts";
import { readRounds, type RoundRecord, writeTextAtomic } from "../run/results.ts";
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
  --cache-dir DIR    stage cache (default results/.cache)
  --no-cache         neither read nor write the cache
  --refresh STAGE    recompute this stage kind or name even when cached (repeatable)
  --export NAME      run this named export of a TypeScript file instead of its default
  --dry-run          print the plan with cache hit/miss per stage, run nothing
  --workers N        run the experiment's runs in N worker processes on this machine (one wasm thread each
                     unless DBAL_WASM_THREADS is set), sharing the cache; results are the same as with 1
  --shard K/N        run only runs K, K+N, K+2N, ... (what each worker does)
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
  /** Worker processes for the runs (`--workers`; 1: this process). */
  readonly workers?: number;
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
    ...(v["data-dir"] !== undefined ? { dataDir: v["data-dir"] } : {}),
    ...(v.out !== undefined ? { out: v.out } : {}),
    ...(v.export !== undefined ? { exportName: v.export } : {}),
    ...(seeds ? { seeds } : {}),
    ...(rounds ? { rounds } : {}),
    ...(workers ? { workers } : {}),
    ...(shard ? { shard } : {}),
  };
}

/** The sha256 of the kernel modules (and what they import). */
function kernelSourceHash(): Promise<string | undefined> {
  return hashModuleGraph(new URL("../tensor/kernels/mod.ts", import.meta.url).href);
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
      ? await runUserComposition(config, { ...flags, out: `${base}/${config.name}` })
      : await runConfig(config, flags, `${base}/${config.name}`);
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
async function runConfig(loaded: ExperimentConfig, flags: CliFlags, out: string | undefined): Promise<CliResult> {
  const started = new Date();
  const t0 = performance.now();
  let config: ExperimentConfig = loaded;
  if (flags.full) config = atFullScale(config);
  if (flags.seeds) config = { ...config, seeds: flags.seeds as ExperimentConfig["seeds"] };
  if (flags.rounds) config = { ...config, rounds: flags.rounds as ExperimentConfig["rounds"] };
  if (flags.adjust) config = flags.adjust(config);
  // A preset's own data (`dataset: { folder: ... }`) is found relative to the experiment file.
  const exp = presetExperiment(config, { baseDir: dirname(flags.file) });
  return await runComposed(exp, flags, out, await startRun(config.name, flags, started, t0));
}

/** What every run starts with: its progress printer, the backend (printed), the cache, and its command line. */
async function startRun(name: string, flags: CliFlags, started: Date, t0: number): Promise<RunContext> {
  const progress = makeProgress(name);
  const backend = await selectBackend(flags.backend as Parameters<typeof selectBackend>[0]);
  progress.line(`backend ${backend.name} (requested ${backend.requested}), ${backend.threads} thread(s)`);
  for (const note of backend.notes) progress.line(`  skipped: ${note}`);
  const store = flags.noCache
    ? undefined
    : await openStore(flags.cacheDir, { warn: (m) => progress.line(`WARNING ${m}`) });
  const exported = flags.exportName ? ["--export", flags.exportName] : [];
  const command = `deno task exp ${[flags.file, ...exported, ...(flags.full ? ["--full"] : [])].join(" ")}`;
  return { progress, backend, store, started, t0, command };
}

/** Runs a composed experiment from a user's file (the `--full`, `--seeds`, `--rounds` flags reach its run builder). */
async function runUserComposition(exp: Experiment, flags: CliFlags): Promise<CliResult> {
  return await runComposed(exp, flags, flags.out, await startRun(exp.name, flags, new Date(), performance.now()));
}

/** The command-line arguments a worker gets: the parent's, less `--workers` and `--out`, plus its shard. */
function workerArgs(flags: CliFlags, index: number, count: number, out: string): string[] {
  return [
    flags.file,
    "--backend",
    flags.backend,
    "--cache-dir",
    flags.cacheDir,
    "--out",
    out,
    "--shard",
    `${index}/${count}`,
    ...(flags.noCache ? ["--no-cache"] : []),
    ...(flags.full ? ["--full"] : []),
    ...(flags.download ? [] : ["--no-download"]),
    ...(flags.dataDir !== undefined ? ["--data-dir", flags.dataDir] : []),
    ...(flags.exportName !== undefined ? ["--export", flags.exportName] : []),
    ...(flags.seeds ? ["--seeds", flags.seeds.join(",")] : []),
    ...(flags.rounds ? ["--rounds", String(flags.rounds)] : []),
    ...flags.refresh.flatMap((r) => ["--refresh", r]),
  ];
}

/**
 * `--workers N`: runs the experiment's runs in N worker processes (`--shard
 * k/N` each, into `<out>/.shards/k`), all on one cache, then writes the
 * results folder from theirs: the records in the order one process would
 * have written them, so the results are the same whatever ran them.
 */
async function runWorkers(name: string, flags: CliFlags, outDir: string, ctx: RunContext): Promise<CliResult> {
  if (flags.adjust || flags.checksums) throw new Error("--workers: not available with programmatic flags");
  const count = flags.workers ?? 1;
  const shards = `${outDir}/.shards`;
  await Deno.remove(shards, { recursive: true }).catch(() => {});
  ctx.progress.line(`${count} workers, each on one shard of the runs, sharing the cache ${flags.cacheDir}`);
  const env = Deno.env.get("DBAL_WASM_THREADS") === undefined ? { DBAL_WASM_THREADS: "1" } : {};
  const children = Array.from({ length: count }, (_, k) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./cli.ts", import.meta.url).pathname,
        ...workerArgs(flags, k, count, `${shards}/${k}`),
      ],
      env,
      stdout: "null",
      stderr: "inherit",
    }).spawn());
  const statuses = await Promise.all(children.map((c) => c.status));
  const failed = statuses.findIndex((s) => !s.success);
  if (failed >= 0) throw new Error(`worker ${failed} failed (exit ${statuses[failed]?.code}); its messages are above`);
  // Shard k holds runs k, k+N, ...: each run's records are consecutive; interleave the runs back into one order.
  const runsOf = async (k: number) => {
    const runs: RoundRecord[][] = [];
    for (const r of await readRounds(`${shards}/${k}/rounds.jsonl`)) {
      const last = runs[runs.length - 1];
      const same = last && last[0] && last[0].acquisition === r.acquisition && last[0].seed === r.seed &&
        (last[0].variant ?? "") === (r.variant ?? "") && r.round > (last[last.length - 1]?.round ?? -1);
      if (same) last.push(r);
      else runs.push([r]);
    }
    return runs;
  };
  const perShard = await Promise.all(Array.from({ length: count }, (_, k) => runsOf(k)));
  const records: RoundRecord[] = [];
  for (let i = 0; perShard.some((runs) => runs[i] !== undefined); i++) {
    for (const runs of perShard) records.push(...(runs[i] ?? []));
  }
  await writeTextAtomic(`${outDir}/rounds.jsonl`, records.map((r) => JSON.stringify(r) + "\n").join(""));
  const metas = await Promise.all(
    Array.from({ length: count }, async (_, k) => JSON.parse(await Deno.readTextFile(`${shards}/${k}/meta.json`))),
  );
  const add = (key: string) => {
    const out: Record<string, number> = {};
    for (const m of metas) {
      for (const [kind, n] of Object.entries(m[key] ?? {})) out[kind] = (out[kind] ?? 0) + Number(n);
    }
    return out;
  };
  const executed = add("executed"), hits = add("cacheHits");
  const wallSeconds = (performance.now() - ctx.t0) / 1000;
  const meta = {
    ...metas[0],
    command: ctx.command,
    argv: Deno.args,
    workers: count,
    started: ctx.started.toISOString(),
    wallSeconds,
    executed,
    cacheHits: hits,
    stageSeconds: add("stageSeconds"),
  };
  await writeTextAtomic(`${outDir}/meta.json`, JSON.stringify(meta, null, 2) + "\n");
  await writeReport(outDir, reportHeader(meta, name), reportOptions(meta));
  await Deno.remove(shards, { recursive: true });
  ctx.progress.line(`done in ${formatDuration(wallSeconds)} with ${count} workers; results in ${outDir}/`);
  return { outDir, records, executed, hits };
}

/** What {@link runComposed} needs from its caller. */
interface RunContext {
  readonly progress: Progress;
  readonly backend: BackendInfo;
  readonly store: Store | undefined;
  readonly started: Date;
  readonly t0: number;
  readonly command: string;
}

/** The kernel set in use, for the keys of numeric stages. */
async function kernelSet(backend: string): Promise<string> {
  if (backend !== "wasm") return "stock";
  const on = Object.entries(wasmGradKernelStatus()).filter(([, registered]) => registered).map(([name]) => name);
  if (on.length === 0) return "stock";
  // The version is bumped by hand when results move; the source hash catches edits nobody versioned.
  const source = (await kernelSourceHash()) ?? `unhashable-${crypto.randomUUID()}`;
  return `dbal-wasm-grad/${WASM_KERNEL_SET_VERSION}:${on.join("+")}/${source}`;
}

/**
 * Interprets a composed experiment (a preset's or a user's): runs or
 * restores every step, writes `rounds.jsonl`, `meta.json`, the summary and
 * the plot, or, with `--dry-run`, prints the plan.
 */
async function runComposed<D>(
  exp: Experiment<D>,
  flags: CliFlags,
  out: string | undefined,
  ctx: RunContext,
): Promise<CliResult> {
  const { progress, backend, store } = ctx;
  const outDir = out ?? `results/${exp.name}`;
  // One run per folder: held until this function returns; a dry run writes nothing and takes none.
  await using _lock = flags.dryRun
    ? undefined
    : await lockResultsDir(outDir, { onWarning: (m) => progress.line(`WARNING ${m}`) });
  if ((flags.workers ?? 1) > 1 && !flags.dryRun && !flags.shard) return await runWorkers(exp.name, flags, outDir, ctx);
  let partial: string | undefined;
  const records: RoundRecord[] = [];
  const result = await interpret(exp, {
    ...(flags.shard ? { shard: flags.shard } : {}),
    progress,
    env: { backend: backend.name, kernels: await kernelSet(backend.name) },
    ...(store ? { store } : {}),
    refresh: new Set(flags.refresh),
    execute: !flags.dryRun,
    scale: {
      full: flags.full,
      ...(flags.seeds ? { seeds: flags.seeds } : {}),
      ...(flags.rounds ? { rounds: flags.rounds } : {}),
    },
    data: {
      ...(flags.dataDir !== undefined ? { dataDir: flags.dataDir } : {}),
      download: flags.download,
      ...(flags.checksums !== undefined ? { checksums: flags.checksums } : {}),
    },
    onRound: async (record) => {
      if (partial === undefined) {
        await Deno.mkdir(outDir, { recursive: true });
        partial = `${outDir}/rounds.jsonl.partial`;
        await Deno.writeTextFile(partial, "");
      }
      records.push(record);
      await Deno.writeTextFile(partial, JSON.stringify(record) + "\n", { append: true });
    },
  })();
  if (E.isLeft(result)) throw new Error(result.left.message, { cause: result.left.cause });
  const { stats, dataKey, loaded } = result.right;
  if (flags.dryRun) {
    printPlan(exp.name, dataKey, result.right.plan);
    return { outDir: "", records: [], executed: {}, hits: {} };
  }
  const wallSeconds = (performance.now() - ctx.t0) / 1000;
  await Deno.mkdir(outDir, { recursive: true });
  if (partial !== undefined) await Deno.rename(partial, `${outDir}/rounds.jsonl`);
  else await writeTextAtomic(`${outDir}/rounds.jsonl`, "");
  const meta = {
    experiment: exp.name,
    command: ctx.command,
    argv: Deno.args,
    backend: backend.name,
    threads: backend.threads,
    deno: Deno.version.deno,
    commit: await gitCommit(),
    started: ctx.started.toISOString(),
    wallSeconds,
    dataset: exp.load.stage.name.replace(/^load\//, ""),
    contentHash: dataKey,
    executed: stats.executed,
    cacheHits: stats.hits,
    stageSeconds: stats.seconds,
    ...(exp.description !== undefined ? { description: exp.description } : {}),
    ...(exp.meta ?? {}),
  };
  await writeTextAtomic(`${outDir}/meta.json`, JSON.stringify(meta, null, 2) + "\n");
  await writeReport(outDir, reportHeader(meta as Parameters<typeof reportHeader>[0], exp.name), reportOptions(meta));
  progress.line(`done in ${formatDuration(wallSeconds)}; results in ${outDir}/`);
  if (tf.memory().numTensors > 0) progress.line(`  (${tf.memory().numTensors} tensors still allocated)`);
  const ran = Object.entries(stats.executed).map(([k, n]) => `${k} ${n}`).join(", ") || "none";
  const hit = Object.entries(stats.hits).map(([k, n]) => `${k} ${n}`).join(", ") || "none";
  progress.line(`stages executed: ${ran}; restored from cache: ${hit}`);
  void loaded;
  return { outDir, records, executed: stats.executed, hits: stats.hits };
}

if (import.meta.main) {
  const flags = parseCli(Deno.args);
  if (typeof flags === "string") {
    console.error(flags === usage ? usage : `exp: ${flags}\n\n${usage}`);
    Deno.exit(flags === usage ? 0 : 2);
  }
  exitWhenOrphaned({ cleanup: releaseHeldLocksSync }); // `deno task` killed: stop too, releasing the results lock
  try {
    await runExperimentCommand(flags);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      Deno.exit(2);
    }
    console.error(`exp: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
