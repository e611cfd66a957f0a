/**
 * The active-learning loop: for every acquisition function and seed,
 * warm-start -> (retrain -> fit-posterior -> evaluate -> score -> acquire)
 * per round, following the plan of {@link planRun} through the caching
 * runner, with one JSONL record per round.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { expandGrid, type ExperimentConfig, type Variant } from "../dsl/experiment.ts";
import type { PosteriorDef, PseudoLabels } from "../dsl/strategy.ts";
import type { Store } from "./cache/mod.ts";
import { disposeNet, type Net, netFromArrays, netToArrays, netVariables } from "./net.ts";
import { planExperiment } from "./plan.ts";
import { type FitInput, type Posterior, posteriorImpl } from "./posterior.ts";
import { formatDuration, type Progress } from "./progress.ts";
import type { RoundRecord } from "./results.ts";
import { type Codec, makeRunner, type RunnerStats } from "./runner.ts";
import { indicesCodec, jsonCodec, pseudoCodec, scoredCodec, splitCodec } from "./codecs.ts";
import type { LabelledImages, Metrics } from "./stages.ts";

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

/**
 * Caches a posterior through its implementation's save/load; none means
 * "always fit". `load` gets the same seed the fit got (e.g. the seed of
 * consistent MC-dropout masks), so a restored posterior samples like the fitted one.
 */
function posteriorCodec(def: PosteriorDef, seed: number): Codec<Omit<FitInput, "seed">, Posterior> | undefined {
  const impl = posteriorImpl(def);
  const { save, load } = impl;
  if (!save || !load) return undefined;
  return {
    encode: (out) => save.call(impl, out),
    decode: (entry, input) => load.call(impl, entry, { ...input(), seed }),
  };
}

/**
 * Expands the grid of an experiment, throwing on a bad grid.
 *
 * @param config the decoded experiment
 * @returns its variants
 */
export function variantsOf(config: ExperimentConfig): Variant[] {
  const expanded = expandGrid(config);
  if (expanded._tag === "Left") throw new Error(`invalid grid:\n  ${expanded.left.join("\n  ")}`);
  return expanded.right;
}

/**
 * Runs every (variant, strategy, seed) run of the experiment: warm start,
 * then per round retrain -> fit-posterior -> evaluate -> score -> acquire,
 * until the last round, the label budget or the target accuracy.
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
  const plans = await planExperiment(variantsOf(config), data.contentHash, data.classes);
  let total = plans.reduce((n, p) => n + p.rounds.length, 0);
  let doneRounds = 0;
  const start = performance.now();

  for (const [runIndex, plan] of plans.entries()) {
    const { strategy, seed, variant } = plan;
    const cfg = plan.config;
    const fit = fitCodec(cfg);
    const label = `${strategy.name}${variant ? ` [${variant}]` : ""} seed ${seed}`;
    where = label;
    const split = await runner.run(
      plan.warmStart.stage,
      plan.warmStart.key,
      () => ({ y: data.train.y, classes: data.classes }),
      splitCodec,
    );
    const labelled = [...split.out.labelled];
    let pool = split.out.pool;
    // Nets carried to the next round (init "previous"): the round's net, then extra ensemble members.
    let previous: Net[] = [];
    // Pseudo-labels made last round, for this round's nets (CEAL).
    let pseudo: PseudoLabels | undefined;
    const carried = () => previous.reduce((n, net) => n + netVariables(net).length, 0);
    try {
      for (const step of plan.rounds) {
        const round = step.round;
        where = `run ${runIndex + 1}/${plans.length} ${label} round ${round}/${cfg.rounds}`;
        // Nets carried over from the last round are not a leak.
        const numTensors = tf.memory().numTensors - carried();
        const nets: Net[] = [];
        let fitted;
        const memberHits: boolean[] = [];
        try {
          for (const [k, member] of [step.retrain, ...step.members].entries()) {
            const from = cfg.train.init === "previous" ? previous[k] : undefined;
            const trained = await runner.run(
              member.stage,
              member.key,
              () => ({
                data: data.train,
                labelled,
                classes: data.classes,
                ...(from ? { from } : {}),
                ...(pseudo ? { pseudo } : {}),
              }),
              fit,
            );
            if (k === 0) fitted = trained;
            memberHits.push(trained.hit);
            nets.push(trained.out.net);
          }
        } catch (e) {
          for (const net of nets) if (!previous.includes(net)) disposeNet(net);
          throw e;
        }
        for (const old of previous) if (!nets.includes(old)) disposeNet(old);
        previous = nets;
        if (!fitted) throw new Error("internal: no net trained");
        const net = fitted.out.net;
        const fitInput = () => ({ net, members: nets, images: data.train, labelled, classes: data.classes });
        const posterior = await runner.run(
          step.posterior.stage,
          step.posterior.key,
          fitInput,
          posteriorCodec(strategy.posterior, step.posterior.stage.params["seed"] as number),
        );
        let acquired: number[] = [];
        let madePseudo: PseudoLabels | undefined;
        let evaluated;
        let reached = false;
        const seconds: Record<string, number> = {};
        const hits: string[] = [];
        try {
          evaluated = await runner.run(
            step.evaluate.stage,
            step.evaluate.key,
            () => ({ posterior: posterior.out, test: data.test }),
            jsonCodec<Metrics>(),
          );
          seconds.retrain = fitted.seconds;
          seconds["fit-posterior"] = posterior.seconds;
          seconds.evaluate = evaluated.seconds;
          if (memberHits.every((h) => h)) hits.push("retrain");
          if (posterior.hit) hits.push("fit-posterior");
          if (evaluated.hit) hits.push("evaluate");
          reached = cfg.stop?.accuracy !== undefined && evaluated.out.accuracy >= cfg.stop.accuracy;
          if (step.score && step.acquire && !reached) {
            const currentPool = pool;
            const scored = await runner.run(
              step.score.stage,
              step.score.key,
              () => ({
                posterior: posterior.out,
                images: data.train,
                pool: currentPool,
                labelled,
                labels: data.train.y,
              }),
              scoredCodec,
            );
            const picked = await runner.run(step.acquire.stage, step.acquire.key, () => scored.out, indicesCodec);
            acquired = picked.out.slice(0, step.take ?? picked.out.length);
            seconds.score = scored.seconds;
            seconds.acquire = picked.seconds;
            if (scored.hit) hits.push("score");
            if (picked.hit) hits.push("acquire");
            if (step.pseudo) {
              const made = await runner.run(
                step.pseudo.stage,
                step.pseudo.key,
                () => ({ scored: scored.out, acquired: picked.out }),
                pseudoCodec,
              );
              madePseudo = made.out;
              seconds["pseudo-label"] = made.seconds;
              if (made.hit) hits.push("pseudo-label");
            }
          }
        } finally {
          posterior.out.dispose();
        }
        const record: RoundRecord = {
          experiment: cfg.name,
          acquisition: strategy.name,
          ...(variant ? { variant } : {}),
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
          ...(madePseudo
            ? {
              pseudoLabelled: madePseudo.indices.length,
              // Diagnostics only: how many pseudo-labels agree with the withheld true labels.
              pseudoCorrect: madePseudo.indices.filter((i, k) => data.train.y[i] === madePseudo?.labels[k]).length,
            }
            : {}),
        };
        await opts.onRound(record);
        const taken = new Set(acquired);
        labelled.push(...acquired);
        pseudo = madePseudo;
        pool = pool.filter((i) => !taken.has(i));
        if (cfg.train.init === "scratch") {
          for (const old of previous) disposeNet(old);
          previous = [];
        }
        doneRounds++;
        const stopped = reached && step.score !== undefined;
        if (stopped) total -= plan.rounds.length - round - 1;
        const elapsed = (performance.now() - start) / 1000;
        opts.progress.line(
          `${where} | labelled ${record.labelled} accuracy ${(100 * record.accuracy).toFixed(2)}%` +
            `${hits.length > 0 ? ` (cached: ${hits.join(", ")})` : ""} | ` +
            `${doneRounds}/${total} rounds, ETA ${formatDuration((elapsed / doneRounds) * (total - doneRounds))}`,
        );
        if (stopped) {
          opts.progress.line(`${where} | target accuracy ${cfg.stop?.accuracy} reached: run stops`);
          break;
        }
      }
    } finally {
      for (const old of previous) disposeNet(old);
    }
  }
  return runner.stats;
}
