/**
 * The plan of an AL run: every stage of every round with its cache key,
 * computed before anything runs. Keys are made of keys (the root is the data
 * set's content hash), so the whole plan is known up front: `--dry-run`
 * prints it, and the executor follows it.
 *
 * @module
 */
import type { ExperimentConfig, Variant } from "../dsl/experiment.ts";
import { strategiesOf } from "../dsl/experiment.ts";
import type { Stage } from "../dsl/stage.ts";
import type { Strategy } from "../dsl/strategy.ts";
import { stageKey } from "./cache/mod.ts";
import { sha256HexOfText } from "./cache/_sha256.ts";
import { deriveSeed } from "./rng.ts";
import { acquire, evaluate, fitPosterior, pseudoLabel, retrain, score, warmStart } from "./stages.ts";

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
  /** Size of that labelled set. */
  readonly labelled: number;
  readonly retrain: Planned<ReturnType<typeof retrain>>;
  /** Extra nets the posterior needs (ensemble members 2..N), each cached on its own key. */
  readonly members: readonly Planned<ReturnType<typeof retrain>>[];
  readonly posterior: Planned<ReturnType<typeof fitPosterior>>;
  readonly evaluate: Planned<ReturnType<typeof evaluate>>;
  readonly score?: Planned<ReturnType<typeof score>>;
  readonly acquire?: Planned<ReturnType<typeof acquire>>;
  /** Pseudo-labels for the next round's nets (strategies with a pseudo-labelling part). */
  readonly pseudo?: Planned<ReturnType<typeof pseudoLabel>>;
  /** The pseudo-labels this round's nets train on (made by the previous round). */
  readonly trainPseudo?: Planned<ReturnType<typeof pseudoLabel>>;
  /** How many of the acquired items join the labelled set (a label budget may cut the last batch). */
  readonly take?: number;
}

/** All stages of one (variant, strategy, seed) run. */
export interface RunPlan {
  /** The grid point ("" without a grid). */
  readonly variant: string;
  readonly config: ExperimentConfig;
  readonly strategy: Strategy;
  readonly seed: number;
  readonly warmStart: Planned<ReturnType<typeof warmStart>>;
  readonly rounds: readonly RoundPlan[];
}

/**
 * Keys a stage: its name, version, params (with the hash of its user code,
 * if any) and the keys of its inputs.
 *
 * @param stage the stage
 * @param inputs keys of what it reads
 * @returns the stage with its key
 */
export async function plan<S extends Stage<never, unknown>>(stage: S, inputs: readonly string[]): Promise<Planned<S>> {
  const params = stage.code === undefined ? stage.params : { ...stage.params, code: await sha256HexOfText(stage.code) };
  const key = await stageKey({ name: stage.name, version: stage.version, params, inputs });
  return { stage, inputs, key };
}

/**
 * Plans one run. Rounds stop at `config.rounds`, or earlier when the label
 * budget `stop.labels` is reached (known up front); a target accuracy can only
 * stop the run while it executes.
 *
 * @param config the experiment (one variant)
 * @param dataKey the data set's content hash
 * @param classes number of classes (sizes the warm start)
 * @param strategy the strategy of this run
 * @param seed the run's seed
 * @param variant the grid point's label
 * @returns every stage with its key
 */
export async function planRun(
  config: ExperimentConfig,
  dataKey: string,
  classes: number,
  strategy: Strategy,
  seed: number,
  variant = "",
): Promise<RunPlan> {
  const start = await plan(warmStart(config.initialPerClass, deriveSeed(seed, "warm-start")), [dataKey]);
  const rounds: RoundPlan[] = [];
  let labelledKey = start.key;
  let labelled = config.initialPerClass * classes;
  const budget = config.stop?.labels ?? Infinity;
  const nets = strategy.posterior.nets ?? 1;
  let previousFits: string[] = [];
  let trainPseudo: Planned<ReturnType<typeof pseudoLabel>> | undefined;
  const keep = [...(strategy.acquire.needs ?? [])];
  if (strategy.pseudoLabel && !keep.includes("meanProbs")) keep.push("meanProbs");
  for (let round = 0; round <= config.rounds; round++) {
    const trained: Planned<ReturnType<typeof retrain>>[] = [];
    for (let k = 0; k < nets; k++) {
      // Net 0 keeps the seeds of a single-net run, so strategies share it; members k > 0 get their own.
      const member = k === 0 ? "" : `/member-${k}`;
      const previousFit = config.train.init === "previous" ? previousFits[k] : undefined;
      const inputs = previousFit !== undefined ? [dataKey, labelledKey, previousFit] : [dataKey, labelledKey];
      trained.push(
        await plan(
          retrain(
            config.model,
            config.train,
            deriveSeed(seed, `init/${config.train.init === "previous" ? 0 : round}${member}`),
            deriveSeed(seed, `train/${round}${member}`),
          ),
          trainPseudo ? [...inputs, trainPseudo.key] : inputs,
        ),
      );
    }
    previousFits = trained.map((t) => t.key);
    const [fit, ...members] = trained as [
      Planned<ReturnType<typeof retrain>>,
      ...Planned<ReturnType<typeof retrain>>[],
    ];
    const posterior = await plan(
      fitPosterior(strategy.posterior, deriveSeed(seed, `posterior/${round}`)),
      [...previousFits, dataKey, labelledKey],
    );
    const evaluated = await plan(
      evaluate(deriveSeed(seed, `evaluate/${round}`), config.testSubset),
      [posterior.key, dataKey],
    );
    const pseudoIn = trainPseudo ? { trainPseudo } : {};
    if (round === config.rounds || labelled >= budget) {
      rounds.push({ round, labelledKey, labelled, retrain: fit, members, posterior, evaluate: evaluated, ...pseudoIn });
      break;
    }
    const scored = await plan(
      score(strategy.score, deriveSeed(seed, `score/${round}`), config.poolSubset, keep),
      [posterior.key, labelledKey, dataKey],
    );
    const acquired = await plan(acquire(strategy.acquire, deriveSeed(seed, `acquire/${round}`)), [scored.key]);
    const pseudo = strategy.pseudoLabel
      ? await plan(pseudoLabel(strategy.pseudoLabel, round, classes), [scored.key, acquired.key])
      : undefined;
    const take = Math.min(strategy.acquire.size, budget - labelled);
    rounds.push({
      round,
      labelledKey,
      labelled,
      retrain: fit,
      members,
      posterior,
      evaluate: evaluated,
      score: scored,
      acquire: acquired,
      take,
      ...(pseudo ? { pseudo } : {}),
      ...pseudoIn,
    });
    trainPseudo = pseudo;
    labelledKey = await stageKey({
      name: "labelled-set",
      version: 1,
      params: take < strategy.acquire.size ? { take } : {},
      inputs: [labelledKey, acquired.key],
    });
    labelled += take;
  }
  return { variant, config, strategy, seed, warmStart: start, rounds };
}

/**
 * Plans every run of an experiment: variants x strategies x seeds.
 *
 * @param variants the grid points (see `expandGrid`)
 * @param dataKey the data set's content hash
 * @param classes number of classes
 * @returns one plan per run
 */
export function planExperiment(variants: readonly Variant[], dataKey: string, classes: number): Promise<RunPlan[]> {
  return Promise.all(
    variants.flatMap(({ label, config }) =>
      strategiesOf(config).flatMap((strategy) =>
        config.seeds.map((seed) => planRun(config, dataKey, classes, strategy, seed, label))
      )
    ),
  );
}
