/**
 * Stages as plain values: a name from the stage vocabulary, a version bumped
 * by hand when its maths changes, its params, and a run function returning a
 * `TaskEither`. The runner in `pipeline/` is the only interpreter.
 *
 * @module
 */
import type * as TE from "fp-ts/TaskEither.js";
import { callerModule } from "./origin.ts";

/** The stage vocabulary of an active-learning experiment. */
export type StageKind =
  | "load"
  | "warm-start"
  | "fit-posterior"
  | "score"
  | "acquire"
  | "pseudo-label"
  | "retrain"
  | "evaluate"
  | "labelled-set";

/** A stage's kind: one of the vocabulary's, or a user's own (e.g. "filter"). */
export type AnyStageKind = StageKind | (string & Record<never, never>);

/** What went wrong in a stage, as a value. */
export interface StageError {
  /** Tells a stage error apart from other errors. */
  readonly _tag: "StageError";
  /** Name of the failing stage. */
  readonly stage: string;
  /** What went wrong, in sentence case. */
  readonly message: string;
  /** The underlying exception, if any. */
  readonly cause?: unknown;
}

/**
 * Builds a {@link StageError}.
 *
 * @param stage name of the failing stage
 * @param message what went wrong, in sentence case
 * @param cause the underlying exception, if any
 * @returns the error value
 */
export function stageError(stage: string, message: string, cause?: unknown): StageError {
  return cause === undefined ? { _tag: "StageError", stage, message } : { _tag: "StageError", stage, message, cause };
}

/** Services the runner lends to a running stage. */
export interface StageContext {
  /** Report progress (shown on stderr by the runner). */
  readonly progress: (message: string) => void;
  /** Print a warning (shown on stderr by the runner). */
  readonly warn: (message: string) => void;
  /** Where load stages find their files (the command line's `--data-dir`, `--no-download`). */
  readonly data?: DataAccess;
}

/** How load stages reach data files: set by the command line, never part of a key (files are hashed). */
export interface DataAccess {
  /** Data directory; default: env `DBAL_DATA`, else the per-user cache. */
  readonly dataDir?: string;
  /** Download missing built-in data sets. */
  readonly download: boolean;
  /** Which checksums files must match (the loaders' `ChecksumPolicy`; default the official ones). */
  readonly checksums?: unknown;
}

/** A cache entry as a stage's codec sees it: a JSON payload and named typed arrays. */
export interface StoredValue {
  /** Plain JSON (no NaN, no typed arrays). */
  readonly json: unknown;
  /** Named typed arrays with their shapes. */
  readonly arrays?: Readonly<
    Record<
      string,
      { readonly data: Float32Array | Int32Array | Uint8Array | Float64Array; readonly shape: readonly number[] }
    >
  >;
}

/**
 * How the runner stores a stage's output in the cache and restores it.
 * (Methods, not function properties: a step of any output type can then be
 * handled as a step of `unknown` by the interpreter.)
 */
export interface StageCodec<I, O> {
  /** Turns an output into a cache entry (JSON and typed arrays). */
  encode(out: O): Promise<StoredValue> | StoredValue;
  /** Rebuilds the output; `input` computes the stage's input, only when the output needs it (e.g. a net to wrap). */
  decode(entry: Required<StoredValue>, input: () => Promise<I>): O | Promise<O>;
}

/** A typed pipeline stage from `I` to `O`. */
export interface Stage<I, O> {
  /** Its role: a kind of the vocabulary ("score", "retrain", ...) or your own ("filter"). */
  readonly kind: AnyStageKind;
  /** Unique name, e.g. "score/bald". */
  readonly name: string;
  /** Bump by hand when the stage's maths changes (its code is hashed too). */
  readonly version: number;
  /** JSON-serialisable parameters: part of the stage's identity. */
  readonly params: Readonly<Record<string, unknown>>;
  /** Source text of user-supplied code the stage runs; its hash joins the cache key. */
  readonly code?: string;
  /** Computes the output; errors are values (a Left), never thrown. */
  readonly run: (input: I, ctx: StageContext) => TE.TaskEither<StageError, O>;
  /** How its output is cached; without one the stage runs every time it is needed. */
  readonly codec?: StageCodec<I, O>;
  /** Frees what an output owns (tensors); the runner calls it once the output is no longer needed. */
  release?(out: O): void;
  /** Tensors an output holds (the runner's leak check discounts outputs kept across rounds). */
  tensors?(out: O): number;
  /**
   * URLs of the modules that implement the stage: the sha256 of each, with
   * the local modules it imports, transitively, joins the cache key.
   */
  readonly modules?: readonly string[];
  /** False for stages whose output does not depend on the tensor backend (index bookkeeping). */
  readonly numeric?: boolean;
}

/**
 * Defines a stage of your own. The module that calls this (your file) and
 * the local modules it imports are hashed into the stage's cache keys, so
 * editing its code or a helper recomputes it and everything downstream.
 * Give it a `codec` to cache its output on its own key.
 *
 * @param stage its kind (e.g. "filter"), name, version, params, run, and optionally codec and release
 * @returns the stage
 * @throws {TypeError} for an empty name, {RangeError} for a version that is not an integer >= 0
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as TE from "fp-ts/TaskEither.js";
 * import { defineStage } from "./stage.ts";
 * const double = defineStage({
 *   kind: "filter", name: "filter/double", version: 1, params: {},
 *   run: ({ x }: { x: number }) => TE.right(2 * x),
 * });
 * assert(double.modules !== undefined && double.modules.length === 1);
 * ```
 */
export function defineStage<I, O>(stage: Stage<I, O>): Stage<I, O> {
  if (typeof stage.name !== "string" || stage.name === "") throw new TypeError("name: expected a non-empty string");
  if (!Number.isSafeInteger(stage.version) || stage.version < 0) {
    throw new RangeError(`version: expected an integer >= 0, got ${String(stage.version)}`);
  }
  const definedIn = callerModule();
  return { ...stage, modules: [...(stage.modules ?? []), ...(definedIn ? [definedIn] : [])] };
}
