/**
 * An experiment as a composition of stages. A {@link Step} is what a stage
 * will produce from the steps that feed it; a round is a function from the
 * round's state (steps) to the steps it shows and the next state; a run is a
 * {@link loop} of rounds under stop conditions; an {@link Experiment} is a
 * load step and the runs built on it. Nothing here runs anything: the
 * interpreter in `pipeline/run/interpreter.ts` derives every cache key and every
 * input from this one value, then runs or restores each step.
 *
 * A wrong composition is a type error: a step is typed by what its stage
 * outputs, and {@link step} only accepts, for each input of a stage, a step
 * that produces that input's type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as TE from "fp-ts/TaskEither.js";
 * import { source, step } from "./compose.ts";
 * import type { Stage } from "./stage.ts";
 *
 * const numbers: Stage<Record<string, never>, { contentHash: string; xs: number[] }> = {
 *   kind: "load", name: "load/numbers", version: 1, params: {},
 *   run: () => TE.right({ contentHash: "ab".repeat(32), xs: [3, 1, 2] }),
 * };
 * const sum: Stage<{ data: { xs: number[] } }, number> = {
 *   kind: "evaluate", name: "evaluate/sum", version: 1, params: {},
 *   run: ({ data }) => TE.right(data.xs.reduce((a, b) => a + b, 0)),
 * };
 * const total = step(sum, { data: source(numbers) });
 * assert(total.inputs["data"] !== undefined);
 * ```
 *
 * @module
 */
import { callerModule } from "./origin.ts";
import { type Stage, stageError } from "./stage.ts";

/** The output a stage will produce from the steps feeding its inputs. */
export interface Step<O> {
  /** Tells a step apart from other values. */
  readonly _tag: "Step";
  /** The stage that produces the step's output. */
  readonly stage: Stage<never, O>;
  /** One step (or a list of steps, for a list input) per input of the stage. */
  readonly inputs: Readonly<Record<string, Step<unknown> | readonly Step<unknown>[]>>;
}

/**
 * The step that may feed an input of type `T`: a step of `T`, or for a
 * list, a list of steps of its items.
 */
export type StepFor<T> = [T] extends [readonly (infer E)[]] ? Step<T> | readonly Step<E>[] : Step<T>;

/** For each input of a stage taking `I`, the step feeding it (optional inputs stay optional). */
export type StepsOf<I> = { readonly [K in keyof I]: StepFor<Exclude<I[K], undefined>> };

/**
 * Feeds a stage from other steps.
 *
 * @param stage the stage
 * @param inputs for each of its inputs, the step producing it
 * @returns the step of the stage's output
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as TE from "fp-ts/TaskEither.js";
 * import { source, step } from "./compose.ts";
 * import type { Stage } from "./stage.ts";
 * const load: Stage<Record<string, never>, { contentHash: string; n: number }> = {
 *   kind: "load", name: "load/n", version: 1, params: {},
 *   run: () => TE.right({ contentHash: "cd".repeat(32), n: 4 }),
 * };
 * const double: Stage<{ data: { n: number } }, number> = {
 *   kind: "evaluate", name: "evaluate/double", version: 1, params: {}, run: ({ data }) => TE.right(2 * data.n),
 * };
 * assert(step(double, { data: source(load) }).stage.name === "evaluate/double");
 * ```
 */
export function step<I, O>(stage: Stage<I, O>, inputs: StepsOf<I>): Step<O> {
  return { _tag: "Step", stage, inputs: inputs as Step<O>["inputs"] };
}

/**
 * A step with no inputs whose output identifies itself: a load stage, keyed
 * by the content hash of what it read (the root of every key).
 *
 * @param stage a stage with no inputs whose output has a `contentHash`
 * @returns its step
 */
export function source<O extends { readonly contentHash: string }>(stage: Stage<Record<string, never>, O>): Step<O> {
  return step(stage, {} as StepsOf<Record<string, never>>);
}

/**
 * True for a {@link Step} value.
 *
 * @param u anything
 * @returns whether it is a step
 */
export function isStep(u: unknown): u is Step<unknown> {
  return typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "Step";
}

/** Named numbers: a round's metrics (accuracy, nll, F1, ...). */
export type Metrics = Readonly<Record<string, number>>;

/** What a round shows, and the state it hands to the next round. */
export interface RoundOutcome<S> {
  /** The labelled set the round trained on (its size goes into the round's record). */
  readonly labelled: Step<{ readonly labelled: readonly number[] }>;
  /** Test metrics of the round's model; read before anything is acquired, so a stop rule can end the run. */
  readonly metrics: Step<Metrics>;
  /** Items acquired for the next round; absent in a run's last round. */
  readonly acquired?: Step<readonly number[]>;
  /** Extra numbers for the round's record, read after the acquisition (e.g. training speed). */
  readonly notes?: Readonly<Record<string, Step<number>>>;
  /** The next round's state; absent: the run ends after this round. */
  readonly next?: S;
}

/** Where a round sits in its run. */
export interface RoundAt {
  /** 0 for the first round (trained on the warm start). */
  readonly round: number;
  /** The most rounds the run may have after the first (the loop's `rounds`). */
  readonly rounds: number;
  /** True for round `rounds`: it trains and evaluates but acquires nothing. */
  readonly last: boolean;
}

/** A round: builds its steps from the state the previous round left. */
export type Round<S> = (state: S, at: RoundAt) => RoundOutcome<S>;

/** What a stop predicate sees after a round's evaluation. */
export interface RoundView {
  /** The round just evaluated (0 for the first). */
  readonly round: number;
  /** Size of the labelled set it trained on. */
  readonly labelled: number;
  /** Its test metrics. */
  readonly metrics: Metrics;
}

/** When a run ends before its last round (it always ends after `rounds` acquisition rounds). */
export interface StopRule {
  /** End after the round whose test accuracy reaches this. */
  readonly accuracy?: number;
  /** End after the round for which this returns true. */
  readonly when?: (view: RoundView) => boolean;
}

/** One run: a start state and the round repeated on it. */
export interface Run {
  /** Tells a run apart from other values. */
  readonly _tag: "Run";
  /** Shown in progress and records: the strategy (or curve) name, its seed, the grid point. */
  readonly label: { readonly curve: string; readonly seed: number; readonly variant?: string };
  /** The state of round 0 (its steps). */
  readonly start: unknown;
  /** Builds each round's steps from the state the previous round left. */
  readonly round: Round<unknown>;
  /** The most rounds after the first. */
  readonly rounds: number;
  /** When the run ends early. */
  readonly stop: StopRule;
}

/**
 * Repeats a round from a start state: round 0, 1, ... up to `rounds`, or
 * until the round hands no next state, or a stop rule fires.
 *
 * @param spec the run's label, start state, round, number of rounds and stop rule
 * @returns the run
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loop } from "./compose.ts";
 * const run = loop({
 *   label: { curve: "noop", seed: 0 }, start: {}, rounds: 0,
 *   round: () => { throw new Error("not interpreted here"); },
 * });
 * assert(run.rounds === 0);
 * ```
 */
export function loop<S>(spec: {
  readonly label: Run["label"];
  readonly start: S;
  readonly round: Round<S>;
  readonly rounds: number;
  readonly stop?: StopRule;
}): Run {
  if (!Number.isInteger(spec.rounds) || spec.rounds < 0) {
    throw new RangeError(`rounds: expected an integer >= 0, got ${spec.rounds}`);
  }
  return {
    _tag: "Run",
    label: spec.label,
    start: spec.start,
    // The interpreter only hands back the states this round made.
    round: spec.round as Round<unknown>,
    rounds: spec.rounds,
    stop: spec.stop ?? {},
  };
}

/** The scale flags of the command line, for experiments that honour them. */
export interface Scale {
  /** `--full`: the paper's scale. */
  readonly full: boolean;
  /** `--seeds`. */
  readonly seeds?: readonly number[];
  /** `--rounds`. */
  readonly rounds?: number;
}

/** An experiment: a load step and the runs built on what it loaded. */
export interface Experiment<D = unknown> {
  /** Tells an experiment apart from other values (and from preset records). */
  readonly _tag: "Experiment";
  /** Names the results folder (`results/<name>`). */
  readonly name: string;
  /** One paragraph for the results' summary. */
  readonly description?: string;
  /** The load step: what every run is built on, the root of every key. */
  readonly load: Step<D>;
  /**
   * Builds the runs once the data are loaded (their size and classes shape
   * the warm start); `data` is the load step to feed stages from.
   */
  readonly runs: (loaded: { readonly data: Step<D>; readonly value: D; readonly scale: Scale }) => readonly Run[];
  /** What the results record about it (e.g. the preset's config), plain JSON. */
  readonly meta?: Readonly<Record<string, unknown>>;
}

/**
 * Declares a composed experiment.
 *
 * @param spec its name, load step and runs
 * @returns the experiment value
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as TE from "fp-ts/TaskEither.js";
 * import { composeExperiment, source } from "./compose.ts";
 * const load = source({
 *   kind: "load", name: "load/none", version: 1, params: {},
 *   run: () => TE.right({ contentHash: "ef".repeat(32) }),
 * });
 * const exp = composeExperiment({ name: "empty", load, runs: () => [] });
 * assert(exp._tag === "Experiment");
 * ```
 */
export function composeExperiment<D>(spec: Omit<Experiment<D>, "_tag">): Experiment<D> {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(spec.name)) {
    throw new TypeError(`name: expected letters, digits, '.', '_' or '-', got ${JSON.stringify(spec.name)}`);
  }
  return { _tag: "Experiment", ...spec };
}

/**
 * True for an {@link Experiment} value.
 *
 * @param u anything
 * @returns whether it is a composed experiment
 */
export function isExperiment(u: unknown): u is Experiment {
  return typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "Experiment";
}

/**
 * A step computed by a small pure function of other steps' outputs: never
 * cached (it is recomputed from its inputs), keyed by its name, the text of
 * the function and the module that defines it.
 *
 * @param name what it computes, e.g. "train-speed"
 * @param inputs the steps it reads
 * @param fn the function
 * @returns the step
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as TE from "fp-ts/TaskEither.js";
 * import { derive, source } from "./compose.ts";
 * const data = source({
 *   kind: "load", name: "load/xs", version: 1, params: {},
 *   run: () => TE.right({ contentHash: "01".repeat(32), xs: [1, 2] }),
 * });
 * const count = derive("count", { data }, ({ data }) => data.xs.length);
 * assert(count.stage.kind === "derive");
 * ```
 */
export function derive<I, O>(name: string, inputs: StepsOf<I>, fn: (input: I) => O): Step<O> {
  const definedIn = callerModule();
  const stage: Stage<I, O> = {
    kind: "derive",
    name: `derive/${name}`,
    version: 1,
    params: {},
    code: fn.toString(),
    numeric: false,
    ...(definedIn ? { modules: [definedIn] } : {}),
    run: (input) => () => {
      try {
        return Promise.resolve({ _tag: "Right", right: fn(input) });
      } catch (e) {
        return Promise.resolve({ _tag: "Left", left: stageError(`derive/${name}`, (e as Error).message, e) });
      }
    },
  };
  return step(stage, inputs);
}
