/**
 * The one interpreter of composed experiments (`dsl/compose.ts`). From the
 * experiment value alone it derives each step's cache key (its stage's name,
 * version, params, the hash of its code and of the modules that implement
 * it, the tensor backend and kernel set where numbers depend on them, and
 * the keys of its inputs) and each step's input (the outputs of the steps
 * feeding it). It runs or restores each step, owns the outputs' tensors
 * (released once no later round needs them), reports progress, writes one
 * record per round, and returns every failure as a value. `--dry-run` is the
 * same walk with execution switched off.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as E from "fp-ts/Either.js";
import * as TE from "fp-ts/TaskEither.js";
import {
  type Experiment,
  isStep,
  type Metrics,
  type RoundOutcome,
  type Run,
  type Scale,
  type Step,
} from "../../dsl/compose.ts";
import type { DataAccess, StageError } from "../../dsl/stage.ts";
import { stageKey, type StageStore } from "./cache/mod.ts";
import { hashModuleGraph } from "./cache/module_hash.ts";
import { sha256HexOfText } from "./cache/_sha256.ts";
import { formatDuration, type Progress } from "./progress.ts";
import type { RoundRecord } from "./results.ts";
import { runKey } from "./finished_runs.ts";

/** Raised inside the interpreter when a stage returns a Left; surfaces as that Left. */
export class StageFailure extends Error {
  constructor(readonly error: StageError) {
    super(`Stage "${error.stage}" failed: ${error.message}`);
    this.name = "StageFailure";
  }
}

/** Per-kind counters: stages executed, cache hits, seconds spent executing. */
export interface RunnerStats {
  readonly executed: Record<string, number>;
  readonly hits: Record<string, number>;
  readonly seconds: Record<string, number>;
}

/** What the tensor backend contributes to the keys of numeric stages. */
export interface NumericEnv {
  /** The tfjs backend in use ("wasm", "webgpu", ...). */
  readonly backend: string;
  /** The kernel set registered on it (name and version), or "stock". */
  readonly kernels: string;
}

/** Options of {@link interpret}. */
export interface InterpretOptions {
  readonly progress: Progress;
  readonly env: NumericEnv;
  /** The cache, or undefined for `--no-cache`. */
  readonly store?: StageStore;
  /** Stage kinds or names to recompute (with everything downstream) and overwrite in the cache. */
  readonly refresh: ReadonlySet<string>;
  /** False: `--dry-run`, plan and check the cache, run nothing but the load. */
  readonly execute: boolean;
  /** The command line's scale flags, handed to the experiment's run builder. */
  readonly scale: Scale;
  /** Where load stages find files. */
  readonly data: DataAccess;
  /**
   * Run only the runs i with i % count === index (one worker's share of a
   * sweep; with count = the number of runs, exactly run `index`).
   */
  readonly shard?: { readonly index: number; readonly count: number };
  /**
   * A job's check before it runs anything: the experiment has `count` runs
   * here and run `index` has this label, as the submitter saw them; otherwise
   * this copy of the code or the data differs from the submitter's.
   */
  readonly expectRun?: { readonly index: number; readonly count: number; readonly label: string };
  /** True: load the data and list the runs (into `runs`), run nothing else. */
  readonly listOnly?: boolean;
  /** Receives each round's record as soon as it is complete. */
  readonly onRound?: (record: RoundRecord) => Promise<void>;
  /** With `listOnly`: give each run its {@link RunSummary.key}. */
  readonly runKeys?: boolean;
  /**
   * A results folder's finished runs (`finished_runs.ts`): a run whose key it
   * knows is not run, its records are taken from there; each run that
   * finishes here is handed to it.
   */
  readonly finishedRuns?: FinishedRunsSink;
}

/** Where an interpretation finds and puts whole finished runs. */
export interface FinishedRunsSink {
  /** The records of a finished run with this key, if known. */
  readonly restore: (runKey: string) => readonly RoundRecord[] | undefined;
  /** Told when a run has finished here. */
  readonly done: (run: { runKey: string; label: string; records: RoundRecord[]; wallSeconds: number }) => Promise<void>;
}

/** One step of a dry run's plan. */
export interface PlannedStep {
  readonly run: string;
  readonly round: number;
  readonly name: string;
  readonly key: string;
  readonly status: "hit" | "miss" | "refresh" | "no-cache" | "uncached" | "damaged";
}

/** What an interpretation returns. */
export interface InterpretResult<D> {
  readonly loaded: D;
  /** Key of the load step: the content hash of the data read. */
  readonly dataKey: string;
  readonly records: RoundRecord[];
  readonly stats: RunnerStats;
  /** Every step that would run or be restored, in order (dry runs; also filled when executing). */
  readonly plan: PlannedStep[];
  /** Every run of the experiment (before any shard), with the rounds it has when no stop rule fires. */
  readonly runs: readonly RunSummary[];
}

/** A run as a sweep hands it out: its label and how many rounds it plans. */
export interface RunSummary {
  readonly label: string;
  readonly rounds: number;
  /**
   * The run's key (with `runKeys`): the hash of the keys of every step its
   * records are read from, round by round; undefined when its stop rule is a
   * function, which cannot be hashed.
   */
  readonly key?: string;
}

/** A failure of an interpretation, as a value. */
export interface InterpretError {
  readonly _tag: "InterpretError";
  readonly message: string;
  readonly stage?: string;
  readonly cause?: unknown;
}

/**
 * Interprets a composed experiment.
 *
 * @param exp the experiment value
 * @param opts progress, cache, environment and result sink
 * @returns the records and counters, or the failure
 */
export function interpret<D>(
  exp: Experiment<D>,
  opts: InterpretOptions,
): TE.TaskEither<InterpretError, InterpretResult<D>> {
  return TE.tryCatch(
    () => new Interpreter(exp.name, opts).experiment(exp),
    (e) =>
      e instanceof StageFailure
        ? { _tag: "InterpretError", message: e.message, stage: e.error.stage, cause: e.error.cause }
        : { _tag: "InterpretError", message: (e as Error).message ?? String(e), cause: e },
  );
}

/** Every step a value holds (a state, an outcome): fields and list items, searched deeply. */
export function stepsIn(value: unknown, found: Step<unknown>[] = [], seen = new Set<unknown>()): Step<unknown>[] {
  if (typeof value !== "object" || value === null || seen.has(value)) return found;
  seen.add(value);
  if (isStep(value)) {
    found.push(value);
    return found;
  }
  for (const v of Array.isArray(value) ? value : Object.values(value)) stepsIn(v, found, seen);
  return found;
}

function inputSteps(step: Step<unknown>): Step<unknown>[] {
  return Object.values(step.inputs).flatMap((v) => (Array.isArray(v) ? v : [v])) as Step<unknown>[];
}

/** Bookkeeping steps (no cache, no numbers) are not counted, printed or timed. */
function isBookkeeping(step: Step<unknown>): boolean {
  return step.stage.codec === undefined && step.stage.numeric === false;
}

interface Memo {
  readonly step: Step<unknown>;
  readonly value: Promise<unknown>;
  /** Set once the value is computed, so that it can be released synchronously. */
  settled?: { readonly value: unknown };
}

/** Keys and values of steps; one per interpretation, with a value memo per run. */
class Interpreter {
  readonly stats: RunnerStats = { executed: {}, hits: {}, seconds: {} };
  readonly plan: PlannedStep[] = [];
  readonly #keys = new WeakMap<Step<unknown>, Promise<string>>();
  readonly #refreshed = new WeakMap<Step<unknown>, boolean>();
  readonly #sources = new Map<Step<unknown>, { key: string; value: unknown }>();
  #memo = new Map<string, Memo>();
  #where = "";
  #runLabel = "";
  #round = 0;
  /** Per-round: seconds per kind, and kinds whose every step was restored (in first-seen order). */
  #roundSeconds: Record<string, number> = {};
  #roundKinds: { kind: string; allHits: boolean }[] = [];
  readonly #planned = new Set<string>();
  readonly #moduleHashes = new Map<string, Promise<string | undefined>>();

  constructor(readonly name: string, readonly opts: InterpretOptions) {}

  async experiment<D>(exp: Experiment<D>): Promise<InterpretResult<D>> {
    const loaded = await this.#load(exp.load);
    const shard = this.opts.shard;
    const all = exp.runs({ data: exp.load, value: loaded.value as D, scale: this.opts.scale });
    const summaries: RunSummary[] = all.map((run) => ({ label: runLabel(run), rounds: plannedRounds(run) }));
    const result = (records: RoundRecord[]) => ({
      loaded: loaded.value as D,
      dataKey: loaded.key,
      records,
      stats: this.stats,
      plan: this.plan,
      runs: summaries,
    });
    if (this.opts.listOnly) {
      if (this.opts.runKeys) {
        for (const [i, run] of all.entries()) {
          const key = await this.#runKey(exp.name, run);
          summaries[i] = { ...summaries[i] as RunSummary, ...(key !== undefined ? { key } : {}) };
        }
      }
      return result([]);
    }
    const expect = this.opts.expectRun;
    if (expect && (all.length !== expect.count || summaries[expect.index]?.label !== expect.label)) {
      throw new Error(
        `the job is run ${expect.index + 1}/${expect.count} "${expect.label}", but here the experiment has ` +
          `${all.length} runs and run ${expect.index + 1} is "${summaries[expect.index]?.label ?? "missing"}": ` +
          "this worker's data or code differs from the submitter's",
      );
    }
    const indices = all.map((_, i) => i).filter((i) => !shard || i % shard.count === shard.index);
    const runs = indices.map((i) => all[i] as Run);
    const records: RoundRecord[] = [];
    const planned = indices.map((i) => summaries[i]?.rounds ?? 0);
    let total = planned.reduce((a, b) => a + b, 0);
    let done = 0;
    const start = performance.now();
    for (const [i, run] of runs.entries()) {
      const label = runLabel(run);
      const number = (indices[i] ?? i) + 1;
      this.#runLabel = label;
      this.#where = label;
      this.#memo = new Map();
      const finished = this.opts.finishedRuns;
      const key = finished && this.opts.execute ? await this.#runKey(exp.name, run) : undefined;
      const restored = key !== undefined && this.opts.refresh.size === 0 ? finished?.restore(key) : undefined;
      if (restored) {
        records.push(...restored);
        for (const record of restored) await this.opts.onRound?.(record);
        total -= planned[i] ?? 0; // neither done nor to do here: out of the rate and the ETA
        this.opts.progress.line(
          `run ${number}/${all.length} ${label} | restored from the results folder's finished runs ` +
            `(${restored.length} rounds, run key ${key?.slice(0, 12)})`,
        );
        continue;
      }
      const runStart = performance.now();
      const runRecords: RoundRecord[] = [];
      try {
        let state: unknown = run.start;
        for (let round = 0; round <= run.rounds; round++) {
          this.#round = round;
          this.#where = `run ${number}/${all.length} ${label} round ${round}/${run.rounds}`;
          const outcome = run.round(state, { round, rounds: run.rounds, last: round === run.rounds });
          if (!this.opts.execute) {
            await this.#planOutcome(outcome);
            if (!outcome.next || round === run.rounds) break;
            state = outcome.next;
            continue;
          }
          const { record, stopped } = await this.#executeRound(exp.name, run, round, outcome);
          records.push(record);
          runRecords.push(record);
          await this.opts.onRound?.(record);
          done++;
          const continues = !stopped && outcome.next !== undefined && round < run.rounds;
          if (!continues) total -= (planned[i] ?? 0) - round - 1;
          const elapsed = (performance.now() - start) / 1000;
          const cached = record.cacheHits.length > 0 ? ` (cached: ${record.cacheHits.join(", ")})` : "";
          this.opts.progress.line(
            `${this.#where} | labelled ${record.labelled} accuracy ${(100 * record.accuracy).toFixed(2)}%${cached}` +
              ` | ${done}/${total} rounds, ETA ${formatDuration((elapsed / done) * Math.max(0, total - done))}`,
          );
          if (stopped) this.opts.progress.line(`${this.#where} | ${stopped}: run stops`);
          if (!continues) break;
          // The next state's values are all the next round needs: compute them, then free the rest.
          for (const s of stepsIn(outcome.next)) await this.value(s);
          this.#releaseAllBut(new Set(await Promise.all(stepsIn(outcome.next).map((s) => this.key(s)))));
          state = outcome.next;
        }
      } finally {
        this.#releaseAllBut(new Set());
      }
      if (key !== undefined) {
        await finished?.done({
          runKey: key,
          label,
          records: runRecords,
          wallSeconds: (performance.now() - runStart) / 1000,
        });
      }
    }
    return result(records);
  }

  /**
   * A run's key: its label, the experiment's name, its stop rule and, round
   * by round, the keys of the steps its record is read from (built, not run);
   * undefined when the stop rule is a function.
   */
  async #runKey(experiment: string, run: Run): Promise<string | undefined> {
    if (run.stop.when !== undefined) return undefined;
    const label = runLabel(run);
    const rounds: string[][] = [[experiment, JSON.stringify(run.stop.accuracy ?? null)]];
    let state = run.start;
    for (let round = 0; round <= run.rounds; round++) {
      const outcome = run.round(state, { round, rounds: run.rounds, last: round === run.rounds });
      const roots = [outcome.labelled, outcome.metrics, ...(outcome.acquired ? [outcome.acquired] : [])];
      const notes = Object.entries(outcome.notes ?? {}).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
      rounds.push([
        ...(await Promise.all(roots.map((s) => this.key(s)))),
        ...(await Promise.all(notes.map(async ([name, s]) => `${name}=${await this.key(s)}`))),
      ]);
      if (!outcome.next || round === run.rounds) break;
      state = outcome.next;
    }
    return await runKey(label, rounds);
  }

  async #load(step: Step<unknown>): Promise<{ key: string; value: unknown }> {
    const known = this.#sources.get(step);
    if (known) return known;
    if (inputSteps(step).length > 0) throw new Error(`the load step "${step.stage.name}" must have no inputs`);
    this.opts.progress.line(`stage ${step.stage.name}`);
    const value = await this.#runStage(step, {});
    const key = (value as { contentHash?: unknown }).contentHash;
    if (typeof key !== "string" || !/^[0-9a-f]{64}$/.test(key)) {
      throw new Error(`the load stage "${step.stage.name}" gave no contentHash (the sha256 of the bytes it read)`);
    }
    const loaded = { key, value };
    this.#sources.set(step, loaded);
    return loaded;
  }

  /**
   * The cache key of a step: a load step's is its content hash; any other's
   * is the hash of its stage's identity, code, implementing modules, numeric
   * environment and the keys of its inputs (by input name).
   */
  key(step: Step<unknown>): Promise<string> {
    let key = this.#keys.get(step);
    if (!key) {
      key = this.#computeKey(step);
      this.#keys.set(step, key);
    }
    return key;
  }

  async #computeKey(step: Step<unknown>): Promise<string> {
    const source = this.#sources.get(step);
    if (source) return source.key;
    if (inputSteps(step).length === 0 && step.stage.kind === "load") return (await this.#load(step)).key;
    const { stage } = step;
    const names = Object.keys(step.inputs).sort();
    const inputs: string[] = [];
    const shape: string[] = [];
    for (const name of names) {
      const v = step.inputs[name] as Step<unknown> | readonly Step<unknown>[];
      const list = Array.isArray(v) ? v : [v];
      shape.push(Array.isArray(v) ? `${name}[${list.length}]` : name);
      for (const s of list) inputs.push(await this.key(s));
    }
    const modules: Record<string, string> = {};
    for (const url of stage.modules ?? []) {
      const hash = await hashModuleGraph(url, this.#moduleHashes);
      if (hash === undefined) {
        // What cannot be hashed gets a fresh key: a miss, never a false hit.
        this.opts.progress.line(
          `WARNING stage ${stage.name}: cannot read its module ${url} to hash it; it will be recomputed every run`,
        );
        modules[url] = `unhashable-${crypto.randomUUID()}`;
      } else {
        modules[url.startsWith(projectRoot) ? url.slice(projectRoot.length) : url] = hash;
      }
    }
    const params = {
      ...stage.params,
      $inputs: shape,
      ...(stage.code !== undefined ? { $code: await sha256HexOfText(stage.code) } : {}),
      ...(Object.keys(modules).length > 0 ? { $modules: modules } : {}),
      ...(stage.numeric !== false ? { $env: this.opts.env } : {}),
    };
    return await stageKey({ name: stage.name, version: stage.version, params, inputs });
  }

  /** Whether a step is recomputed: its kind or name was asked for, or an input's was. */
  #isRefreshed(step: Step<unknown>): boolean {
    let r = this.#refreshed.get(step);
    if (r === undefined) {
      r = this.opts.refresh.has(step.stage.kind) || this.opts.refresh.has(step.stage.name) ||
        inputSteps(step).some((s) => this.#isRefreshed(s));
      this.#refreshed.set(step, r);
    }
    return r;
  }

  /** The value of a step: from this run's memo, the cache, or by running its stage. */
  async value(step: Step<unknown>): Promise<unknown> {
    const source = this.#sources.get(step);
    if (source) return source.value;
    const key = await this.key(step);
    const known = this.#memo.get(key);
    if (known) return await known.value;
    const value = this.#compute(step, key);
    const memo: Memo = { step, value };
    this.#memo.set(key, memo);
    const out = await value;
    memo.settled = { value: out };
    return out;
  }

  async #inputs(step: Step<unknown>): Promise<Record<string, unknown>> {
    const input: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(step.inputs)) {
      input[name] = Array.isArray(v)
        ? await sequential(v as Step<unknown>[], (s) => this.value(s))
        : await this.value(v as Step<unknown>);
    }
    return input;
  }

  async #compute(step: Step<unknown>, key: string): Promise<unknown> {
    const { stage } = step;
    const counted = !isBookkeeping(step);
    const start = performance.now();
    const refresh = this.#isRefreshed(step);
    const store = this.opts.store;
    if (store && stage.codec && !refresh) {
      const entry = await store.get(key);
      if (entry) {
        try {
          const out = await stage.codec.decode(entry, () => this.#inputs(step) as Promise<never>);
          if (counted) this.#count(stage.kind, true, (performance.now() - start) / 1000);
          return out;
        } catch (e) {
          this.opts.progress.line(
            `WARNING cache entry ${key} of ${stage.name} cannot be used (${(e as Error).message}); recomputing`,
          );
          await store.remove(key);
        }
      }
    }
    // A key being computed is leased: another worker that needs it waits, then reads what this one stored.
    await using _lease = store && stage.codec ? await this.#lease(key) : undefined;
    if (store && stage.codec && !refresh && _lease?.storedMeanwhile) {
      const entry = await store.get(key);
      if (entry) {
        const out = await stage.codec.decode(entry, () => this.#inputs(step) as Promise<never>);
        if (counted) this.#count(stage.kind, true, (performance.now() - start) / 1000);
        return out;
      }
    }
    const input = await this.#inputs(step);
    const began = performance.now();
    const out = await this.#runStage(step, input);
    if (counted) this.#count(stage.kind, false, (performance.now() - began) / 1000);
    if (store && stage.codec) {
      const encoded = await stage.codec.encode(out);
      if (refresh) await store.remove(key);
      await store.put(key, stage.name, encoded);
    }
    return out;
  }

  /**
   * Takes the lease of a key in the store, waiting while a live worker holds
   * it; a dead worker's lease is taken over (see `StageStore.lease`).
   */
  async #lease(key: string): Promise<AsyncDisposable & { readonly storedMeanwhile: boolean }> {
    const store = this.opts.store as StageStore;
    const lease = await store.lease(key, (m) => this.opts.progress.line(`WARNING cache lease: ${m}`));
    // Someone else held it first when their entry is now in the store.
    const storedMeanwhile = await store.has(key);
    return { storedMeanwhile, [Symbol.asyncDispose]: () => lease[Symbol.asyncDispose]() };
  }

  async #runStage(step: Step<unknown>, input: Record<string, unknown>): Promise<unknown> {
    const result = await step.stage.run(input as never, {
      progress: (m) => this.opts.progress.tick(`${this.#where} | ${m}`),
      warn: (m) => this.opts.progress.line(`WARNING ${this.#where} | ${m}`),
      data: this.opts.data,
    })();
    if (E.isLeft(result)) throw new StageFailure(result.left);
    return result.right;
  }

  #count(kind: string, hit: boolean, seconds: number): void {
    const table = hit ? this.stats.hits : this.stats.executed;
    table[kind] = (table[kind] ?? 0) + 1;
    if (!hit) this.stats.seconds[kind] = (this.stats.seconds[kind] ?? 0) + seconds;
    this.#roundSeconds[kind] = (this.#roundSeconds[kind] ?? 0) + seconds;
    const seen = this.#roundKinds.find((k) => k.kind === kind);
    if (seen) seen.allHits &&= hit;
    else this.#roundKinds.push({ kind, allHits: hit });
  }

  /** Frees every memoised output except those of the given keys. */
  #releaseAllBut(keep: ReadonlySet<string>): void {
    for (const [key, memo] of this.#memo) {
      if (keep.has(key)) continue;
      this.#memo.delete(key);
      const release = memo.step.stage.release;
      if (!release) continue;
      if (memo.settled) release(memo.settled.value as never);
      else memo.value.then((v) => release(v as never), () => {});
    }
  }

  /** Tensors held by outputs kept from earlier rounds (the leak check discounts them). */
  async #carriedTensors(): Promise<number> {
    let n = 0;
    for (const memo of this.#memo.values()) {
      const count = memo.step.stage.tensors;
      if (count) n += count(await memo.value as never);
    }
    return n;
  }

  async #executeRound(
    experiment: string,
    run: Run,
    round: number,
    outcome: RoundOutcome<unknown>,
  ): Promise<{ record: RoundRecord; stopped?: string }> {
    this.#roundSeconds = {};
    this.#roundKinds = [];
    const carried = await this.#carriedTensors();
    const numTensors = tf.memory().numTensors - carried;
    const labelled = (await this.value(outcome.labelled)) as { labelled: readonly number[] };
    const metrics = (await this.value(outcome.metrics)) as Metrics;
    const view = { round, labelled: labelled.labelled.length, metrics };
    let stopped: string | undefined;
    const target = run.stop.accuracy;
    if (target !== undefined && (metrics["accuracy"] ?? -Infinity) >= target) {
      stopped = `target accuracy ${target} reached`;
    } else if (run.stop.when?.(view)) stopped = "stop condition met";
    const acquired = outcome.acquired && !stopped ? [...(await this.value(outcome.acquired)) as number[]] : [];
    const notes: Record<string, number> = {};
    for (const [name, s] of Object.entries(outcome.notes ?? {})) {
      // Notes that depend on the acquisition are left out when the run stopped before it.
      if (stopped && outcome.acquired && (await this.#dependsOn(s, outcome.acquired))) continue;
      notes[name] = (await this.value(s)) as number;
    }
    const { accuracy = NaN, nll = NaN, ...otherMetrics } = metrics;
    const { trainImagesPerSecond = NaN, ...otherNotes } = notes;
    const record: RoundRecord = {
      experiment,
      acquisition: run.label.curve,
      ...(run.label.variant ? { variant: run.label.variant } : {}),
      seed: run.label.seed,
      round,
      labelled: labelled.labelled.length,
      accuracy,
      nll,
      acquired,
      seconds: this.#roundSeconds,
      cacheHits: this.#roundKinds.filter((k) => k.allHits).map((k) => k.kind),
      trainImagesPerSecond,
      numTensors,
      backend: this.opts.env.backend,
      ...otherNotes,
      ...(Object.keys(otherMetrics).length > 0 ? { metrics: otherMetrics } : {}),
    };
    return stopped ? { record, stopped } : { record };
  }

  async #dependsOn(step: Step<unknown>, on: Step<unknown>): Promise<boolean> {
    const target = await this.key(on);
    const seen = new Set<Step<unknown>>();
    const visit = async (s: Step<unknown>): Promise<boolean> => {
      if (seen.has(s)) return false;
      seen.add(s);
      if ((await this.key(s)) === target) return true;
      for (const i of inputSteps(s)) if (await visit(i)) return true;
      return false;
    };
    return await visit(step);
  }

  /** Dry run: lists the round's steps (inputs first) with what the cache holds for each. */
  async #planOutcome(outcome: RoundOutcome<unknown>): Promise<void> {
    const roots = stepsIn({ labelled: outcome.labelled, metrics: outcome.metrics, acquired: outcome.acquired });
    roots.push(...stepsIn(outcome.notes), ...stepsIn(outcome.next));
    const order: Step<unknown>[] = [];
    const seen = new Set<string>();
    const visit = async (s: Step<unknown>) => {
      const key = await this.key(s);
      if (seen.has(key) || this.#sources.has(s)) return;
      seen.add(key);
      for (const i of inputSteps(s)) await visit(i);
      order.push(s);
    };
    for (const r of roots) await visit(r);
    for (const s of order) {
      if (isBookkeeping(s)) continue;
      const key = await this.key(s);
      const id = `${this.#runLabel}\n${key}`;
      if (this.#planned.has(id)) continue;
      this.#planned.add(id);
      const store = this.opts.store;
      const status: PlannedStep["status"] = this.#isRefreshed(s)
        ? "refresh"
        : !s.stage.codec
        ? "uncached"
        : !store
        ? "no-cache"
        : await store.check(key);
      this.plan.push({ run: this.#runLabel, round: this.#round, name: s.stage.name, key, status });
    }
  }
}

const projectRoot = new URL("../../", import.meta.url).href;

async function sequential<T, U>(items: readonly T[], f: (t: T) => Promise<U>): Promise<U[]> {
  const out: U[] = [];
  for (const item of items) out.push(await f(item));
  return out;
}

/** "bald seed 0", "bald [wide] seed 1": how progress lines and sweeps name a run. */
export function runLabel(run: Run): string {
  return `${run.label.curve}${run.label.variant ? ` [${run.label.variant}]` : ""} seed ${run.label.seed}`;
}

/**
 * How many rounds a run has when no stop rule fires: its rounds are built
 * (not run) until one hands no next state or the last is reached.
 *
 * @param run the run
 * @returns the number of rounds, the first included
 */
export function plannedRounds(run: Run): number {
  let state = run.start;
  for (let round = 0; round <= run.rounds; round++) {
    const outcome = run.round(state, { round, rounds: run.rounds, last: round === run.rounds });
    if (!outcome.next || round === run.rounds) return round + 1;
    state = outcome.next;
  }
  return run.rounds + 1;
}
