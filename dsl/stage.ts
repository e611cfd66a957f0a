/**
 * Stages as plain values: a name from the stage vocabulary, a version bumped
 * by hand when its maths changes, its params, and a run function returning a
 * `TaskEither`. The runner in `pipeline/` is the only interpreter.
 *
 * @module
 */
import type * as TE from "fp-ts/TaskEither.js";

/** The stage vocabulary of an active-learning experiment. */
export type StageKind =
  | "load"
  | "warm-start"
  | "fit-posterior"
  | "score"
  | "acquire"
  | "pseudo-label"
  | "retrain"
  | "evaluate";

/** What went wrong in a stage, as a value. */
export interface StageError {
  readonly _tag: "StageError";
  readonly stage: string;
  readonly message: string;
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
}

/** A typed pipeline stage from `I` to `O`. */
export interface Stage<I, O> {
  readonly kind: StageKind;
  /** Unique name, e.g. "score/bald". */
  readonly name: string;
  readonly version: number;
  /** JSON-serialisable parameters: part of the stage's identity. */
  readonly params: Readonly<Record<string, unknown>>;
  /** Source text of user-supplied code the stage runs; its hash joins the cache key. */
  readonly code?: string;
  readonly run: (input: I, ctx: StageContext) => TE.TaskEither<StageError, O>;
}
