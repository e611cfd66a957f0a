/**
 * The active-learning loop: for every acquisition function and seed,
 * warm-start -> (retrain -> fit-posterior -> evaluate -> score -> acquire)
 * per round, one JSONL record per round.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ExperimentConfig } from "../dsl/experiment.ts";
import { deriveSeed, makeRng, shuffled } from "./rng.ts";
import { disposeNet, type Net } from "./net.ts";
import { formatDuration, type Progress } from "./progress.ts";
import type { RoundRecord } from "./results.ts";
import { makeRunner, type RunnerStats } from "./runner.ts";
import { acquireTopK, evaluate, type LabelledImages, mcDropout, retrain, score, warmStart } from "./stages.ts";

/** An image data set split for AL. */
export interface AlData {
  readonly train: LabelledImages;
  readonly test: LabelledImages;
  readonly classes: number;
}

/** Options of {@link runActiveLearning}. */
export interface AlOptions {
  readonly progress: Progress;
  readonly backend: string;
  /** Receives each round's record as soon as it is complete. */
  readonly onRound: (record: RoundRecord) => Promise<void>;
}

/**
 * Runs every (acquisition, seed) pair of the experiment.
 *
 * @param config the decoded experiment (already at the chosen scale)
 * @param data train (labelled set + pool) and test images
 * @param opts progress and result sinks
 * @returns stage counters of the whole run
 */
export async function runActiveLearning(
  config: ExperimentConfig,
  data: AlData,
  opts: AlOptions,
): Promise<RunnerStats> {
  let where = "";
  const runner = makeRunner(opts.progress, () => where);
  const runs = config.acquisitions.flatMap((acquisition) => config.seeds.map((seed) => ({ acquisition, seed })));
  const totalRounds = runs.length * (config.rounds + 1);
  let doneRounds = 0;
  const start = performance.now();

  // The same test items for every run, so curves are comparable.
  const testAll = Array.from({ length: data.test.y.length }, (_, i) => i);
  const testIndices = config.testSubset > 0 && config.testSubset < testAll.length
    ? shuffled(testAll, makeRng(deriveSeed(0, "test-subset"))).slice(0, config.testSubset).sort((a, b) => a - b)
    : testAll;

  for (const [runIndex, { acquisition, seed }] of runs.entries()) {
    where = `${acquisition} seed ${seed}`;
    const { out: split } = await runner.run(
      warmStart(config.initialPerClass, deriveSeed(seed, "warm-start")),
      { y: data.train.y, classes: data.classes },
    );
    const labelled = [...split.labelled];
    let pool = split.pool;
    let previous: Net | undefined;
    try {
      for (let round = 0; round <= config.rounds; round++) {
        where = `run ${runIndex + 1}/${runs.length} ${acquisition} seed ${seed} round ${round}/${config.rounds}`;
        const numTensors = tf.memory().numTensors;
        const from = config.train.init === "previous" ? previous : undefined;
        const fitted = await runner.run(
          retrain(
            config.model,
            config.train,
            deriveSeed(seed, `init/${config.train.init === "previous" ? 0 : round}`),
            deriveSeed(seed, `train/${round}`),
          ),
          from ? { data: data.train, labelled, classes: data.classes, from } : {
            data: data.train,
            labelled,
            classes: data.classes,
          },
        );
        if (previous && previous !== fitted.out.net) disposeNet(previous);
        previous = fitted.out.net;
        const { out: posterior } = await runner.run(mcDropout(config.mcSamples), fitted.out.net);
        const evaluated = await runner.run(
          evaluate(deriveSeed(seed, `evaluate/${round}`)),
          { posterior, test: data.test, indices: testIndices },
        );
        let acquired: number[] = [];
        const seconds: Record<string, number> = { retrain: fitted.seconds, evaluate: evaluated.seconds };
        if (round < config.rounds) {
          const candidates = config.poolSubset > 0 && config.poolSubset < pool.length
            ? shuffled(pool, makeRng(deriveSeed(seed, `pool-subset/${round}`))).slice(0, config.poolSubset)
            : pool;
          const scored = await runner.run(
            score(acquisition, deriveSeed(seed, `score/${round}`)),
            { posterior, images: data.train, candidates },
          );
          const picked = await runner.run(acquireTopK(config.acquireSize), { candidates, scores: scored.out });
          acquired = picked.out;
          seconds.score = scored.seconds;
          seconds.acquire = picked.seconds;
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
          `${where} | labelled ${record.labelled} accuracy ${(100 * record.accuracy).toFixed(2)}% | ` +
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
