/**
 * The active-learning loop: for every acquisition function and seed,
 * warm-start -> (retrain -> fit-posterior -> evaluate -> score -> acquire)
 * per round, following the plan of {@link planRun} through the caching
 * runner, with one JSONL record per round.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ExperimentConfig } from "../dsl/experiment.ts";
import type { Store } from "./cache/mod.ts";
import { disposeNet, type Net, netFromArrays, netToArrays } from "./net.ts";
import { planRun, type RunPlan } from "./plan.ts";
import { formatDuration, type Progress } from "./progress.ts";
import type { RoundRecord } from "./results.ts";
import { type Codec, makeRunner, type RunnerStats } from "./runner.ts";
import type { LabelledImages, McDropoutPosterior, Metrics, Scored } from "./stages.ts";

/** An image data set split for AL. */
export interface AlData {
  readonly train: LabelledImages;
  readonly test: LabelledImages;
  readonly classes: number;
  /** sha256 of the files read: the root of every cache key. */
  readonly contentHash: string;
}

/** Options of {@link runActiveLearning}. */
export interface AlOptions {
  readonly progress: Progress;
  readonly backend: string;
  /** The cache, or undefined for `--no-cache`. */
  readonly store?: Store;
  /** Stage kinds or names to recompute even when cached. */
  readonly refresh?: ReadonlySet<string>;
  /** Receives each round's record as soon as it is complete. */
  readonly onRound: (record: RoundRecord) => Promise<void>;
}

const indicesCodec: Codec<unknown, number[]> = {
  encode: (out) => ({ json: {}, arrays: { indices: { data: Int32Array.from(out), shape: [out.length] } } }),
  decode: (entry) => Array.from(entry.arrays["indices"]?.data ?? []),
};

const splitCodec: Codec<unknown, { labelled: number[]; pool: number[] }> = {
  encode: (out) => ({
    json: {},
    arrays: {
      labelled: { data: Int32Array.from(out.labelled), shape: [out.labelled.length] },
      pool: { data: Int32Array.from(out.pool), shape: [out.pool.length] },
    },
  }),
  decode: (entry) => ({
    labelled: Array.from(entry.arrays["labelled"]?.data ?? []),
    pool: Array.from(entry.arrays["pool"]?.data ?? []),
  }),
};

function fitCodec(config: ExperimentConfig): Codec<unknown, { net: Net; imagesPerSecond: number; loss: number }> {
  return {
    encode: async (out) => ({
      json: { imagesPerSecond: out.imagesPerSecond, loss: Number.isFinite(out.loss) ? out.loss : null },
      arrays: await netToArrays(out.net),
    }),
    decode: (entry) => {
      const json = entry.json as { imagesPerSecond: number; loss: number | null };
      return {
        net: netFromArrays(config.model, entry.arrays),
        imagesPerSecond: json.imagesPerSecond,
        loss: json.loss ?? NaN,
      };
    },
  };
}

const posteriorCodec: Codec<Net, McDropoutPosterior> = {
  encode: (out) => ({ json: { kind: "mc-dropout", samples: out.samples } }),
  decode: (entry, input) => ({ net: input(), samples: (entry.json as { samples: number }).samples }),
};

const metricsCodec: Codec<unknown, Metrics> = {
  encode: (out) => ({ json: out }),
  decode: (entry) => entry.json as Metrics,
};

const scoredCodec: Codec<unknown, Scored> = {
  encode: (out) => ({
    json: {},
    arrays: {
      candidates: { data: Int32Array.from(out.candidates), shape: [out.candidates.length] },
      scores: { data: out.scores, shape: [out.scores.length] },
    },
  }),
  decode: (entry) => ({
    candidates: Array.from(entry.arrays["candidates"]?.data ?? []),
    scores: Float64Array.from(entry.arrays["scores"]?.data ?? []),
  }),
};

/**
 * Plans every (acquisition, seed) run of an experiment.
 *
 * @param config the experiment
 * @param dataKey the data set's content hash
 * @returns one plan per run
 */
export function planExperiment(config: ExperimentConfig, dataKey: string): Promise<RunPlan[]> {
  return Promise.all(
    config.acquisitions.flatMap((acquisition) =>
      config.seeds.map((seed) => planRun(config, dataKey, acquisition, seed))
    ),
  );
}

/**
 * Runs every (acquisition, seed) pair of the experiment.
 *
 * @param config the decoded experiment (already at the chosen scale)
 * @param data train (labelled set + pool) and test images
 * @param opts progress, cache and result sinks
 * @returns stage counters of the whole run
 */
export async function runActiveLearning(
  config: ExperimentConfig,
  data: AlData,
  opts: AlOptions,
): Promise<RunnerStats> {
  let where = "";
  const runner = makeRunner(opts.progress, () => where, {
    ...(opts.store ? { store: opts.store } : {}),
    refresh: opts.refresh ?? new Set(),
  });
  const plans = await planExperiment(config, data.contentHash);
  const totalRounds = plans.length * (config.rounds + 1);
  let doneRounds = 0;
  const start = performance.now();
  const fit = fitCodec(config);

  for (const [runIndex, plan] of plans.entries()) {
    const { acquisition, seed } = plan;
    where = `${acquisition} seed ${seed}`;
    const split = await runner.run(
      plan.warmStart.stage,
      plan.warmStart.key,
      () => ({ y: data.train.y, classes: data.classes }),
      splitCodec,
    );
    const labelled = [...split.out.labelled];
    let pool = split.out.pool;
    let previous: Net | undefined;
    try {
      for (const step of plan.rounds) {
        const round = step.round;
        where = `run ${runIndex + 1}/${plans.length} ${acquisition} seed ${seed} round ${round}/${config.rounds}`;
        const numTensors = tf.memory().numTensors;
        const from = config.train.init === "previous" ? previous : undefined;
        const fitted = await runner.run(
          step.retrain.stage,
          step.retrain.key,
          () => ({ data: data.train, labelled, classes: data.classes, ...(from ? { from } : {}) }),
          fit,
        );
        if (previous && previous !== fitted.out.net) disposeNet(previous);
        previous = fitted.out.net;
        const net = fitted.out.net;
        const posterior = await runner.run(step.posterior.stage, step.posterior.key, () => net, posteriorCodec);
        const evaluated = await runner.run(
          step.evaluate.stage,
          step.evaluate.key,
          () => ({ posterior: posterior.out, test: data.test }),
          metricsCodec,
        );
        let acquired: number[] = [];
        const seconds: Record<string, number> = { retrain: fitted.seconds, evaluate: evaluated.seconds };
        const hits: string[] = [
          ...(fitted.hit ? ["retrain"] : []),
          ...(posterior.hit ? ["fit-posterior"] : []),
          ...(evaluated.hit ? ["evaluate"] : []),
        ];
        if (step.score && step.acquire) {
          const currentPool = pool;
          const scored = await runner.run(
            step.score.stage,
            step.score.key,
            () => ({ posterior: posterior.out, images: data.train, pool: currentPool }),
            scoredCodec,
          );
          const picked = await runner.run(step.acquire.stage, step.acquire.key, () => scored.out, indicesCodec);
          acquired = picked.out;
          seconds.score = scored.seconds;
          seconds.acquire = picked.seconds;
          if (scored.hit) hits.push("score");
          if (picked.hit) hits.push("acquire");
        }
        const record: RoundRecord = {
          experiment: config.name,
          acquisition,
          seed,
          round,
          labelled: labelled.length,
          accuracy: evaluated.out.accuracy,
          nll: evaluated.out.nll,
          acquired,
          seconds,
          cacheHits: hits,
          trainImagesPerSecond: fitted.out.imagesPerSecond,
          numTensors,
          backend: opts.backend,
        };
        await opts.onRound(record);
        const taken = new Set(acquired);
        labelled.push(...acquired);
        pool = pool.filter((i) => !taken.has(i));
        if (config.train.init === "scratch") {
          disposeNet(previous);
          previous = undefined;
        }
        doneRounds++;
        const elapsed = (performance.now() - start) / 1000;
        opts.progress.line(
          `${where} | labelled ${record.labelled} accuracy ${(100 * record.accuracy).toFixed(2)}%` +
            `${hits.length > 0 ? ` (cached: ${hits.join(", ")})` : ""} | ` +
            `${doneRounds}/${totalRounds} rounds, ETA ${
              formatDuration((elapsed / doneRounds) * (totalRounds - doneRounds))
            }`,
        );
      }
    } finally {
      if (previous) disposeNet(previous);
    }
  }
  return runner.stats;
}
