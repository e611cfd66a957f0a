/**
 * The plan of an AL run: every stage of every round with its cache key,
 * computed before anything runs. Keys are made of keys (the root is the data
 * set's content hash), so the whole plan is known up front: `--dry-run`
 * prints it, and the executor follows it.
 *
 * @module
 */
import type { AcquisitionName, ExperimentConfig } from "../dsl/experiment.ts";
import type { Stage } from "../dsl/stage.ts";
import { stageKey } from "./cache/mod.ts";
import { deriveSeed } from "./rng.ts";
import { acquireTopK, evaluate, mcDropout, retrain, score, warmStart } from "./stages.ts";

/** A stage with the keys of its inputs and its own key. */
export interface Planned<S> {
  readonly stage: S;
  readonly inputs: readonly string[];
  readonly key: string;
}

/** The stages of one round (the last round has no score or acquire). */
export interface RoundPlan {
  readonly round: number;
  /** Identifies the labelled set the round trains on. */
  readonly labelledKey: string;
  readonly retrain: Planned<ReturnType<typeof retrain>>;
  readonly posterior: Planned<ReturnType<typeof mcDropout>>;
  readonly evaluate: Planned<ReturnType<typeof evaluate>>;
  readonly score?: Planned<ReturnType<typeof score>>;
  readonly acquire?: Planned<ReturnType<typeof acquireTopK>>;
}

/** All stages of one (acquisition, seed) run. */
export interface RunPlan {
  readonly acquisition: AcquisitionName;
  readonly seed: number;
  readonly warmStart: Planned<ReturnType<typeof warmStart>>;
  readonly rounds: readonly RoundPlan[];
}

async function plan<S extends Stage<never, unknown>>(stage: S, inputs: readonly string[]): Promise<Planned<S>> {
  const key = await stageKey({ name: stage.name, version: stage.version, params: stage.params, inputs });
  return { stage, inputs, key };
}

/**
 * Plans one run.
 *
 * @param config the experiment
 * @param dataKey the data set's content hash
 * @param acquisition the acquisition function of this run
 * @param seed the run's seed
 * @returns every stage with its key
 */
export async function planRun(
  config: ExperimentConfig,
  dataKey: string,
  acquisition: AcquisitionName,
  seed: number,
): Promise<RunPlan> {
  const start = await plan(warmStart(config.initialPerClass, deriveSeed(seed, "warm-start")), [dataKey]);
  const rounds: RoundPlan[] = [];
  let labelledKey = start.key;
  let previousFit: string | undefined;
  for (let round = 0; round <= config.rounds; round++) {
    const fromPrevious = config.train.init === "previous" && previousFit !== undefined;
    const fit = await plan(
      retrain(
        config.model,
        config.train,
        deriveSeed(seed, `init/${config.train.init === "previous" ? 0 : round}`),
        deriveSeed(seed, `train/${round}`),
      ),
      fromPrevious ? [dataKey, labelledKey, previousFit as string] : [dataKey, labelledKey],
    );
    previousFit = fit.key;
    const posterior = await plan(mcDropout(config.mcSamples), [fit.key]);
    const evaluated = await plan(
      evaluate(deriveSeed(seed, `evaluate/${round}`), config.testSubset),
      [posterior.key, dataKey],
    );
    if (round === config.rounds) {
      rounds.push({ round, labelledKey, retrain: fit, posterior, evaluate: evaluated });
      break;
    }
    const scored = await plan(
      score(acquisition, deriveSeed(seed, `score/${round}`), config.poolSubset),
      [posterior.key, labelledKey, dataKey],
    );
    const acquired = await plan(acquireTopK(config.acquireSize), [scored.key]);
    rounds.push({ round, labelledKey, retrain: fit, posterior, evaluate: evaluated, score: scored, acquire: acquired });
    labelledKey = await stageKey({ name: "labelled-set", version: 1, params: {}, inputs: [labelledKey, acquired.key] });
  }
  return { acquisition, seed, warmStart: start, rounds };
}
