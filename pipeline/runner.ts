/**
 * The stage interpreter: looks a planned stage up in the cache, runs it on a
 * miss (or when refreshed), stores its output, routes its progress and
 * warnings to stderr, and counts executions and hits per stage kind.
 *
 * @module
 */
import * as E from "fp-ts/Either.js";
import type { Stage, StageError } from "../dsl/stage.ts";
import type { Entry, EntryInput, Store } from "./cache/mod.ts";
import type { Progress } from "./progress.ts";

/** Raised at the edge when a stage returns a Left. */
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

/** How a stage's output is stored in and restored from the cache. */
export interface Codec<I, O> {
  readonly encode: (out: O) => Promise<EntryInput> | EntryInput;
  /** Rebuilds the output; gets the stage's input, e.g. to reattach a net. */
  readonly decode: (entry: Entry, input: () => I) => O;
}

/** Cache policy of a runner. */
export interface CachePolicy {
  /** The store, or undefined for `--no-cache`. */
  readonly store?: Store;
  /** Stage kinds or names to recompute even when cached (`--refresh`). */
  readonly refresh: ReadonlySet<string>;
}

/** Runs stages and keeps counters. */
export interface Runner {
  readonly stats: RunnerStats;
  /**
   * Runs a stage (or restores it from the cache).
   *
   * @param stage the stage
   * @param key its cache key (from the plan)
   * @param input a thunk giving its input: only called when the stage runs or decodes
   * @param codec how to store its output; undefined: never cached (runs every time)
   * @returns its output, whether it came from the cache, and the seconds it took
   */
  run<I, O>(
    stage: Stage<I, O>,
    key: string,
    input: () => I,
    codec: Codec<I, O> | undefined,
  ): Promise<{ out: O; hit: boolean; seconds: number }>;
}

/**
 * Makes a runner.
 *
 * @param progress where progress and warnings go
 * @param context text put before each progress message (e.g. "bald seed 0 round 3/10")
 * @param cache store and refresh policy
 * @returns the runner
 */
export function makeRunner(progress: Progress, context: () => string, cache: CachePolicy): Runner {
  const executed: Record<string, number> = {};
  const hits: Record<string, number> = {};
  const seconds: Record<string, number> = {};
  const count = (table: Record<string, number>, kind: string, by = 1) => {
    table[kind] = (table[kind] ?? 0) + by;
  };
  return {
    stats: { executed, hits, seconds },
    async run<I, O>(stage: Stage<I, O>, key: string, input: () => I, codec: Codec<I, O> | undefined) {
      const start = performance.now();
      const refresh = cache.refresh.has(stage.kind) || cache.refresh.has(stage.name);
      if (cache.store && codec && !refresh) {
        const entry = await cache.store.get(key);
        if (entry) {
          try {
            const out = codec.decode(entry, input);
            count(hits, stage.kind);
            return { out, hit: true, seconds: (performance.now() - start) / 1000 };
          } catch (e) {
            progress.line(
              `WARNING cache entry ${key} of ${stage.name} cannot be used (${(e as Error).message}); recomputing`,
            );
            await cache.store.remove(key);
          }
        }
      }
      const result = await stage.run(input(), {
        progress: (m) => progress.tick(`${context()} | ${m}`),
        warn: (m) => progress.line(`WARNING ${context()} | ${m}`),
      })();
      const took = (performance.now() - start) / 1000;
      count(executed, stage.kind);
      count(seconds, stage.kind, took);
      if (E.isLeft(result)) throw new StageFailure(result.left);
      if (cache.store && codec) await cache.store.put(key, stage.name, await codec.encode(result.right));
      return { out: result.right, hit: false, seconds: took };
    },
  };
}
