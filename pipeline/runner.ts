/**
 * The stage interpreter: runs a stage, times it, routes its progress and
 * warnings to stderr, and counts executions per stage kind.
 *
 * @module
 */
import * as E from "fp-ts/Either.js";
import type { Stage, StageError, StageKind } from "../dsl/stage.ts";
import type { Progress } from "./progress.ts";

/** Raised at the edge when a stage returns a Left. */
export class StageFailure extends Error {
  constructor(readonly error: StageError) {
    super(`Stage "${error.stage}" failed: ${error.message}`);
    this.name = "StageFailure";
  }
}

/** Per-kind execution counters and accumulated seconds. */
export interface RunnerStats {
  readonly executed: Record<string, number>;
  readonly seconds: Record<string, number>;
}

/** Runs stages and keeps counters. */
export interface Runner {
  readonly stats: RunnerStats;
  /** Runs a stage; returns its output and the seconds it took. */
  run<I, O>(stage: Stage<I, O>, input: I, label?: string): Promise<{ out: O; seconds: number }>;
}

/**
 * Makes a runner.
 *
 * @param progress where progress and warnings go
 * @param context text put before each progress message (e.g. "bald seed 0 round 3/10")
 * @returns the runner
 */
export function makeRunner(progress: Progress, context: () => string): Runner {
  const executed: Record<string, number> = {};
  const seconds: Record<string, number> = {};
  return {
    stats: { executed, seconds },
    async run<I, O>(stage: Stage<I, O>, input: I) {
      const start = performance.now();
      const result = await stage.run(input, {
        progress: (m) => progress.tick(`${context()} | ${m}`),
        warn: (m) => progress.line(`WARNING ${context()} | ${m}`),
      })();
      const took = (performance.now() - start) / 1000;
      const kind: StageKind = stage.kind;
      executed[kind] = (executed[kind] ?? 0) + 1;
      seconds[kind] = (seconds[kind] ?? 0) + took;
      if (E.isLeft(result)) throw new StageFailure(result.left);
      return { out: result.right, seconds: took };
    },
  };
}
