/**
 * What the submitting command and every worker share: turning an experiment
 * file and its flags into the composed experiment, starting a run (backend,
 * cache, progress) and interpreting some or all of its runs. The `exp`
 * command runs everything here in one process (`--workers 1`); a worker runs
 * one job (one run) of a sweep with the very same code, so that results do
 * not depend on what executed them.
 *
 * @module
 */
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as E from "fp-ts/Either.js";
import { atFullScale, type ExperimentConfig } from "../../dsl/experiment.ts";
import { type Experiment, isExperiment } from "../../dsl/compose.ts";
import { openRedisStore, openStore, type RedisStore, type StageStore } from "../run/cache/mod.ts";
import { hashModuleGraph } from "../run/cache/module_hash.ts";
import { sha256HexOfText } from "../run/cache/_sha256.ts";
import { type BackendInfo, selectBackend } from "../tensor/backend.ts";
import type { ChecksumPolicy } from "../data/mod.ts";
import { type FinishedRunsSink, interpret, type InterpretResult } from "../run/interpreter.ts";
import { WASM_KERNEL_SET_VERSION, wasmGradKernelStatus } from "../tensor/kernels/mod.ts";
import { DEVICE_SCORES_VERSION, scoresOnDevice } from "../tensor/device_scores.ts";
import { presetExperiment } from "../packs/preset.ts";
import { loadRunnable } from "./experiment_file.ts";
import { makeProgress, type Progress } from "../run/progress.ts";
import type { RoundRecord } from "../run/results.ts";

/** The checkout this code runs from. */
const ROOT = resolve(new URL("../../", import.meta.url).pathname);

/**
 * How a job names its experiment file: relative to the checkout when the
 * file is inside it (so a worker in another folder or on another machine
 * finds its own copy), else the absolute path (then it must be on a shared
 * mount).
 *
 * @param file the file as given on the command line
 * @returns the job's path
 */
export function portablePath(file: string): string {
  const abs = resolve(file);
  const rel = relative(ROOT, abs);
  return rel.startsWith("..") || isAbsolute(rel) ? abs : rel;
}

/**
 * Where a job's file is in this worker's checkout.
 *
 * @param file the job's path ({@link portablePath})
 * @returns an absolute path
 */
export function localPath(file: string): string {
  return isAbsolute(file) ? file : resolve(ROOT, file);
}

/** What decides an experiment's numbers: the file, which export and suite member, and the scale flags. */
export interface ExperimentSelection {
  readonly file: string;
  /** The named export to run (default: the default export). */
  readonly exportName?: string;
  /** The member of a suite (its index), when the file's export is a suite. */
  readonly part?: number;
  readonly full: boolean;
  readonly seeds?: readonly number[];
  readonly rounds?: number;
  readonly backend: string;
  readonly refresh: readonly string[];
}

/** Where a process finds data and keeps its cache. */
export interface MachineFlags {
  readonly dataDir?: string;
  readonly download: boolean;
  readonly cacheDir: string;
  readonly noCache: boolean;
  /** Checksums to enforce on data files (programmatic only; default the official ones). */
  readonly checksums?: ChecksumPolicy;
}

/** A started run: its progress printer, backend, cache and command line. */
export interface RunContext {
  readonly progress: Progress;
  readonly backend: BackendInfo;
  readonly store: StageStore | undefined;
  readonly started: Date;
  readonly t0: number;
  readonly command: string;
}

/**
 * Applies the scale flags to a preset record and builds its composition (a
 * preset's own data is found relative to the experiment file).
 *
 * @param config the decoded preset
 * @param sel the flags
 * @param adjust a programmatic change applied last (tests shrink examples)
 * @returns the composed experiment
 */
export function composePreset(
  config: ExperimentConfig,
  sel: ExperimentSelection,
  adjust?: (config: ExperimentConfig) => ExperimentConfig,
): Experiment {
  let c = config;
  if (sel.full) c = atFullScale(c);
  if (sel.seeds) c = { ...c, seeds: sel.seeds as ExperimentConfig["seeds"] };
  if (sel.rounds) c = { ...c, rounds: sel.rounds as ExperimentConfig["rounds"] };
  if (adjust) c = adjust(c);
  return presetExperiment(c, { baseDir: dirname(sel.file) });
}

/**
 * Loads the experiment a selection names, as a worker does: the file's
 * export, the suite member `part`, the scale flags applied.
 *
 * @param sel the selection
 * @returns the composed experiment
 * @throws ConfigError when the file cannot be read or decoded, Error when `part` is not in the suite
 */
export async function loadSelected(sel: ExperimentSelection): Promise<Experiment> {
  const runnable = await loadRunnable(sel.file, sel.exportName);
  if (runnable.kind === "experiment") return composePreset(runnable.config, sel);
  if (runnable.kind === "composed") return runnable.experiment;
  const item = runnable.experiments[sel.part ?? -1];
  if (item === undefined) {
    throw new Error(`${sel.file}: the suite has ${runnable.experiments.length} experiments, no member ${sel.part}`);
  }
  return isExperiment(item) ? item : composePreset(item, sel);
}

/**
 * The hash a worker must match before it runs a job: the experiment file's
 * module graph (the file and its local imports) together with this library's
 * own (the presets and packs a YAML file relies on).
 *
 * @param file the experiment file
 * @returns the sha256, or undefined when a module cannot be read
 */
export async function experimentCodeHash(file: string): Promise<string | undefined> {
  const own = await hashModuleGraph(new URL("./execute.ts", import.meta.url).href);
  const theirs = await hashModuleGraph(pathToFileURL(resolve(file)).href);
  if (own === undefined || theirs === undefined) return undefined;
  return await sha256HexOfText(`${theirs}\n${own}`);
}

/**
 * Starts a run: its progress printer, the backend (printed), the cache.
 *
 * @param name the experiment's name (progress lines' prefix)
 * @param sel the backend request
 * @param machine the cache location
 * @param command the command line recorded in `meta.json`
 * @returns the context every execution needs
 */
export async function startRun(
  name: string,
  sel: Pick<ExperimentSelection, "backend">,
  machine: MachineFlags,
  command: string,
): Promise<RunContext> {
  const started = new Date(), t0 = performance.now();
  const progress = makeProgress(name);
  const backend = await selectBackend(sel.backend as Parameters<typeof selectBackend>[0]);
  progress.line(`backend ${backend.name} (requested ${backend.requested}), ${backend.threads} thread(s)`);
  for (const note of backend.notes) progress.line(`  skipped: ${note}`);
  const store = machine.noCache ? undefined : await openStageStore(machine.cacheDir, progress);
  return { progress, backend, store, started, t0, command };
}

const redisStores = new Set<RedisStore>();

/**
 * Opens the cache: a folder (the filesystem store, on a shared mount for many
 * machines) or a `redis://` / `rediss://` URL (the Redis store, for a fleet
 * without one).
 *
 * @param location `--cache-dir`
 * @param progress where warnings go
 * @returns the store
 */
export async function openStageStore(location: string, progress: Progress): Promise<StageStore> {
  const warn = (m: string) => progress.line(`WARNING ${m}`);
  if (!/^rediss?:\/\//.test(location)) return await openStore(location, { warn });
  const store = await openRedisStore(location, { warn });
  redisStores.add(store);
  return store;
}

/** Closes the connections of the Redis stores this process opened (so that it can exit). */
export function closeStores(): void {
  for (const s of redisStores) s.close();
  redisStores.clear();
}

/** The sha256 of a module under `pipeline/tensor/` (and what it imports). */
function tensorSourceHash(path: string): Promise<string | undefined> {
  return hashModuleGraph(new URL(`../tensor/${path}`, import.meta.url).href);
}

/**
 * The kernel set in use, for the keys of numeric stages.
 *
 * @param backend the backend's name
 * @returns "stock", or the set's name, version, kernels and source hash (on a
 *   GPU backend: the built-in scores' tensor forms, see `device_scores.ts`)
 */
export async function kernelSet(backend: string): Promise<string> {
  if (scoresOnDevice(backend)) {
    // The built-in scores' tensor forms and BatchBALD's tensor part run there instead of their JS twins.
    const sources = await Promise.all(["device_scores.ts", "device_batch.ts"].map(tensorSourceHash));
    const source = sources.every((h) => h !== undefined) ? sources.join("+") : `unhashable-${crypto.randomUUID()}`;
    return `dbal-device-scores/${DEVICE_SCORES_VERSION}/${source}`;
  }
  if (backend !== "wasm") return "stock";
  const on = Object.entries(wasmGradKernelStatus()).filter(([, registered]) => registered).map(([name]) => name);
  if (on.length === 0) return "stock";
  // The version is bumped by hand when results move; the source hash catches edits nobody versioned.
  const source = (await tensorSourceHash("kernels/mod.ts")) ?? `unhashable-${crypto.randomUUID()}`;
  return `dbal-wasm-grad/${WASM_KERNEL_SET_VERSION}:${on.join("+")}/${source}`;
}

/** What {@link executeRuns} is asked to do. */
export interface ExecuteOptions {
  /** Only these runs (see `InterpretOptions.shard`). */
  readonly shard?: { readonly index: number; readonly count: number };
  /** Plan and check the cache, run nothing (`--dry-run`). */
  readonly dryRun?: boolean;
  /** List the runs only. */
  readonly listOnly?: boolean;
  /** A job's check of the run it was made for (see `InterpretOptions.expectRun`). */
  readonly expectRun?: { readonly index: number; readonly count: number; readonly label: string };
  readonly onRound?: (record: RoundRecord) => Promise<void>;
  /** With `listOnly`: compute each run's key. */
  readonly runKeys?: boolean;
  /** The results folder's finished runs (see `InterpretOptions.finishedRuns`). */
  readonly finishedRuns?: FinishedRunsSink;
}

/**
 * Interprets an experiment in this process: every run, or a job's share.
 *
 * @param exp the experiment
 * @param sel its flags
 * @param machine data and cache
 * @param ctx the started run
 * @param opts shard, dry run, listing, round sink
 * @returns the interpretation
 * @throws Error with the interpreter's message when a stage fails
 */
export async function executeRuns<D>(
  exp: Experiment<D>,
  sel: ExperimentSelection,
  machine: MachineFlags,
  ctx: RunContext,
  opts: ExecuteOptions = {},
): Promise<InterpretResult<D>> {
  const result = await interpret(exp, {
    ...(opts.shard ? { shard: opts.shard } : {}),
    ...(opts.listOnly ? { listOnly: true } : {}),
    ...(opts.expectRun ? { expectRun: opts.expectRun } : {}),
    progress: ctx.progress,
    env: { backend: ctx.backend.name, kernels: await kernelSet(ctx.backend.name) },
    ...(ctx.store ? { store: ctx.store } : {}),
    refresh: new Set(sel.refresh),
    execute: !opts.dryRun,
    scale: {
      full: sel.full,
      ...(sel.seeds ? { seeds: [...sel.seeds] } : {}),
      ...(sel.rounds ? { rounds: sel.rounds } : {}),
    },
    data: {
      ...(machine.dataDir !== undefined ? { dataDir: machine.dataDir } : {}),
      download: machine.download,
      ...(machine.checksums !== undefined ? { checksums: machine.checksums } : {}),
    },
    ...(opts.onRound ? { onRound: opts.onRound } : {}),
    ...(opts.runKeys ? { runKeys: true } : {}),
    ...(opts.finishedRuns ? { finishedRuns: opts.finishedRuns } : {}),
  })();
  if (E.isLeft(result)) throw new Error(result.left.message, { cause: result.left.cause });
  return result.right;
}
