/**
 * The image pack: the stages of image active learning as composable values
 * (load, warm-start, retrain, fit-posterior, evaluate, score, acquire,
 * pseudo-label, and the labelled-set bookkeeping), the standard round built
 * from them, and the preset that turns an `experiment({...})` record (or its
 * YAML twin) into a composed {@link Experiment}. Every stage here wraps the
 * tensor stage of `pipeline/tensor/stages.ts` with the same identity (name,
 * version, params), adding how its output is cached, released and keyed.
 *
 * @module
 */
import * as E from "fp-ts/Either.js";
import * as TE from "fp-ts/TaskEither.js";
import {
  composeExperiment,
  derive,
  type Experiment,
  type Metrics,
  type Round,
  type RoundOutcome,
  type Run,
  source,
  type Step,
  step,
  type StepsOf,
} from "../../dsl/compose.ts";
import {
  datasetLabel,
  type ExperimentConfig,
  type ImageDatasetName,
  imagePartsOf,
  strategiesOf,
  TrainConfig,
} from "../../dsl/experiment.ts";
import { checkModelOutput, checkModelShapes, NetSpec, type NetSpecInput } from "../../dsl/model.ts";
import { formatDecodeErrors } from "../../dsl/codecs.ts";
import type * as t from "io-ts";
import { type Stage, stageError, type StoredValue } from "../../dsl/stage.ts";
import { isTextDataset } from "../../dsl/text.ts";
import type { Entry } from "../run/cache/mod.ts";
import type { AcquireNeed, PosteriorDef, PseudoLabels, ScoreDef, Strategy } from "../../dsl/strategy.ts";
import { describeStrategy } from "../../dsl/strategy.ts";
import { jsonCodec, scoredCodec, splitCodec } from "./codecs.ts";
import type { ChecksumPolicy } from "../data/mod.ts";
import { type LoadedImages as ImageData, loadImageDataset } from "../data/datasets.ts";
import { cloneNet, disposeNet, type Net, netFromArrays, netToArrays, netVariables } from "../tensor/net.ts";
import { type FitInput, type Posterior, posteriorImpl } from "../tensor/posterior.ts";
import { deriveSeed } from "../tensor/rng.ts";
import * as base from "../tensor/stages.ts";
import { variantsOf } from "./variants.ts";
import { acquisitionSteps, identityOf, type LabelledSet, partModules, presetLoops, type Scored } from "./common.ts";

// The stages every pack shares live in common.ts (the text pack uses them too).
export { acquireStage, type LabelledSet, labelledSetStage, pseudoLabelStage, type Scored } from "./common.ts";
import { checkPresetModels, presetImages, residentImages } from "./image_sources.ts";

// The data set every image stage reads: `LoadedImages` of pipeline/data/datasets.ts, documented there.
export type { ImageData };

/** A trained net and how its training went. */
export interface TrainedNet {
  /** The trained net: its spec and weights (the runner frees them once no step needs the net). */
  readonly net: Net;
  /** Training throughput: images processed per second, over all epochs. */
  readonly imagesPerSecond: number;
  /** Mean minibatch loss of the last epoch (NaN when no epoch ran, or a non-finite loss restored from the cache). */
  readonly loss: number;
}

const here = import.meta.url;
const modules = [here];

/**
 * Load: one of the built-in image data sets, from `--data-dir`, checked
 * against its official checksums.
 *
 * @param dataset mnist, fashion-mnist or cifar10
 * @returns the stage
 */
export function builtinImages(dataset: ImageDatasetName): Stage<Record<string, never>, ImageData> {
  const name = `load/${dataset}`;
  return {
    kind: "load",
    name,
    version: 1,
    params: { dataset },
    numeric: false,
    release: residentImages.release,
    tensors: residentImages.tensors,
    run: (_input, ctx) =>
      TE.tryCatch(
        async () =>
          residentImages.allow(
            await loadImageDataset(dataset, {
              ...(ctx.data?.dataDir !== undefined ? { dataDir: ctx.data.dataDir } : {}),
              download: ctx.data?.download ?? true,
              ...(ctx.data?.checksums !== undefined ? { checksums: ctx.data.checksums as ChecksumPolicy } : {}),
              log: ctx.progress,
            }),
          ),
        (e) => stageError(name, (e as Error).message, e),
      ),
  };
}

/**
 * Warm start: a class-balanced random labelled set; the rest is the pool.
 *
 * @param perClass labelled items per class
 * @param seed which items
 * @returns the stage
 */
export function warmStartStage(perClass: number, seed: number): Stage<{ readonly data: ImageData }, LabelledSet> {
  const inner = base.warmStart(perClass, seed);
  return {
    ...identityOf(inner),
    modules,
    numeric: false,
    codec: splitCodec,
    run: ({ data }, ctx) => inner.run({ y: data.train.y, classes: data.classes }, ctx),
  };
}

/**
 * Retrain: fits a net on the labelled items (plus pseudo-labelled ones),
 * from fresh weights or from a copy of `from`.
 *
 * @param spec architecture
 * @param train hyper-parameters
 * @param initSeed seed of the initial weights
 * @param trainSeed seed of data order and dropout masks
 * @returns the stage
 */
export function retrainStage(
  spec: NetSpecInput,
  train: t.OutputOf<typeof TrainConfig>,
  initSeed: number,
  trainSeed: number,
): Stage<
  {
    readonly data: ImageData;
    readonly labelled: LabelledSet;
    readonly from?: TrainedNet;
    readonly pseudo?: PseudoLabels;
  },
  TrainedNet
> {
  const { spec: decodedSpec, train: decodedTrain } = decodeModel(spec, train, "retrainStage");
  const inner = base.retrain(decodedSpec, decodedTrain, initSeed, trainSeed);
  return {
    ...identityOf(inner),
    modules,
    run: ({ data, labelled, from, pseudo }, ctx) => async () => {
      // Training a copy leaves the previous round's net as it was cached.
      const start = from ? cloneNet(from.net) : undefined;
      const result = await inner.run({
        data: data.train,
        labelled: labelled.labelled,
        classes: data.classes,
        ...(start ? { from: start } : {}),
        ...(pseudo ? { pseudo } : {}),
      }, ctx)();
      if (start && E.isLeft(result)) disposeNet(start);
      return result;
    },
    codec: {
      encode: async (out) => ({
        json: { imagesPerSecond: out.imagesPerSecond, loss: Number.isFinite(out.loss) ? out.loss : null },
        arrays: await netToArrays(out.net),
      }),
      decode: (entry) => {
        const json = entry.json as { imagesPerSecond: number; loss: number | null };
        return {
          net: netFromArrays(spec, entry.arrays),
          imagesPerSecond: json.imagesPerSecond,
          loss: json.loss ?? NaN,
        };
      },
    },
    release: (out) => disposeNet(out.net),
    tensors: (out) => netVariables(out.net).length,
  };
}

type PosteriorInput = {
  readonly data: ImageData;
  readonly labelled: LabelledSet;
  readonly nets: readonly TrainedNet[];
};

function fitInput({ data, labelled, nets }: PosteriorInput): Omit<FitInput, "seed"> {
  const first = nets[0];
  if (!first) throw new Error("fit-posterior got no trained net");
  return {
    net: first.net,
    members: nets.map((n) => n.net),
    images: data.train,
    labelled: labelled.labelled,
    classes: data.classes,
  };
}

/**
 * Fit-posterior: the strategy's posterior around the round's net(s). Cached
 * through the posterior's own save/load (without them it is refitted).
 *
 * @param def the posterior
 * @param seed seeds anything the fit draws
 * @returns the stage
 */
export function posteriorStage(
  def: PosteriorDef,
  seed: number,
): Stage<
  { readonly data: ImageData; readonly labelled: LabelledSet; readonly nets: readonly TrainedNet[] },
  Posterior
> {
  const inner = base.fitPosterior(def, seed);
  const impl = posteriorImpl(def);
  const { save, load } = impl;
  return {
    ...identityOf(inner),
    modules: [...modules, ...partModules(def)],
    run: (input, ctx) =>
      TE.chain((fit: Omit<FitInput, "seed">) => inner.run(fit, ctx))(
        TE.tryCatch(() => Promise.resolve(fitInput(input)), (e) => stageError(inner.name, (e as Error).message, e)),
      ),
    ...(save && load
      ? {
        codec: {
          encode: (out: Posterior) => save.call(impl, out),
          decode: async (entry: Required<StoredValue>, input: () => Promise<PosteriorInput>) =>
            load.call(impl, entry as unknown as Entry, { ...fitInput(await input()), seed }),
        },
      }
      : {}),
    release: (out) => out.dispose(),
  };
}

/**
 * Evaluate: accuracy and NLL of the posterior's MC-averaged predictive on the test items.
 *
 * @param seed seeds the samples
 * @param testSubset how many test items (0: all)
 * @returns the stage
 */
export function evaluateStage(
  seed: number,
  testSubset: number,
): Stage<{ readonly posterior: Posterior; readonly data: ImageData }, Metrics> {
  const inner = base.evaluate(seed, testSubset);
  return {
    ...identityOf(inner),
    modules,
    codec: jsonCodec<Metrics>(),
    run: ({ posterior, data }, ctx) =>
      TE.map((m: base.Metrics): Metrics => ({ accuracy: m.accuracy, nll: m.nll }))(
        inner.run({ posterior, test: data.test }, ctx),
      ),
  };
}

/**
 * Score: a random subset of the pool (all when 0) scored under the posterior.
 *
 * @param def the score
 * @param seed seeds the subset and the samples
 * @param poolSubset how many pool items (0: all)
 * @param keep what the acquisition rule needs kept beside the scores
 * @returns the stage
 */
export function scoreStage(
  def: ScoreDef,
  seed: number,
  poolSubset: number,
  keep: readonly AcquireNeed[] = [],
): Stage<{ readonly posterior: Posterior; readonly data: ImageData; readonly labelled: LabelledSet }, Scored> {
  const inner = base.score(def, seed, poolSubset, keep);
  return {
    ...identityOf(inner),
    modules: [...modules, ...partModules(def)],
    codec: scoredCodec,
    run: ({ posterior, data, labelled }, ctx) =>
      inner.run({
        posterior,
        images: data.train,
        pool: labelled.pool,
        labelled: labelled.labelled,
        labels: data.train.y,
      }, ctx),
  };
}

/** What a retrain stage of a model pack reads. */
export interface RetrainInput<T> {
  /** The data set: the labelled and pseudo-labelled items index its train split. */
  readonly data: ImageData;
  /** The labelled set: the model trains on its `labelled` items. */
  readonly labelled: LabelledSet;
  /** Last round's trained model, to continue from (`init: "previous"`). */
  readonly from?: T;
  /** Pseudo-labels made last round (CEAL): pool items trained on with the model's labels, this round only. */
  readonly pseudo?: PseudoLabels;
}

/**
 * How the standard round trains its models and wraps them in a posterior:
 * {@link netSpecModel} for a `NetSpec`, or a pack for another kind of model
 * (e.g. a TensorFlow.js layers model). `T` is what one training gives.
 */
export interface ModelPack<T> {
  /** A retrain stage: `init` seeds fresh weights, `train` the data order and dropout. */
  readonly retrain: (seeds: { readonly init: number; readonly train: number }) => Stage<RetrainInput<T>, T>;
  /** A fit-posterior stage over the round's trained models (one, or an ensemble's members). */
  readonly posterior: (
    def: PosteriorDef,
    seed: number,
  ) => Stage<{ readonly data: ImageData; readonly labelled: LabelledSet; readonly nets: readonly T[] }, Posterior>;
  /** Training speed (images/s) of a trained model, for the round's record. */
  readonly speed: (trained: T) => number;
  /** Whether each round continues from the last round's model. */
  readonly init: "scratch" | "previous";
  /**
   * Checks the model before any work, when the round is built: against the data set's classes, the
   * strategy's posterior and, when the round knows it, the images' [H, W, C]. Throws an Error naming the problem.
   */
  readonly check?: (against: {
    readonly classes: number;
    readonly posterior: PosteriorDef;
    readonly inputShape?: readonly number[];
  }) => void;
}

/**
 * The model pack of a `NetSpec`: `retrain/adam` on our layer stack, and the built-in or user posteriors.
 *
 * @param spec the architecture
 * @param train the training settings
 * @returns the pack
 */
export function netSpecModel(
  spec: NetSpecInput,
  train: t.OutputOf<typeof TrainConfig>,
): ModelPack<TrainedNet> {
  const decoded = decodeModel(spec, train, "netSpecModel");
  return netSpecPack(decoded.spec, decoded.train);
}

/** Values from TypeScript pass the same codecs and checks as YAML; a bad one throws, naming every problem. */
function decodeModel(
  spec: NetSpecInput,
  train: t.OutputOf<typeof TrainConfig>,
  where: string,
): { spec: NetSpec; train: TrainConfig } {
  const problems: string[] = [];
  const decodedSpec = NetSpec.decode(spec);
  const decodedTrain = TrainConfig.decode(train);
  if (E.isLeft(decodedSpec)) problems.push(...formatDecodeErrors(decodedSpec.left).map((p) => `model.${p}`));
  else problems.push(...checkModelShapes(decodedSpec.right), ...checkModelOutput(decodedSpec.right));
  if (E.isLeft(decodedTrain)) problems.push(...formatDecodeErrors(decodedTrain.left).map((p) => `train.${p}`));
  if (E.isLeft(decodedSpec) || E.isLeft(decodedTrain) || problems.length > 0) {
    throw new TypeError(`${where}: invalid model or training settings:\n  ${problems.join("\n  ")}`);
  }
  return { spec: decodedSpec.right, train: decodedTrain.right };
}

function netSpecPack(spec: NetSpec, train: TrainConfig): ModelPack<TrainedNet> {
  return {
    retrain: ({ init, train: seed }) => retrainStage(spec, train, init, seed),
    posterior: (def, seed) => posteriorStage(def, seed),
    speed: (t) => t.imagesPerSecond,
    init: train.init,
  };
}

/** A round's state in the standard image round. */
export interface ImageState<T = TrainedNet> {
  /** The labelled set this round trains on. */
  readonly labelled: Step<LabelledSet>;
  /** Its size, known before anything runs (the label budget is planned from it). */
  readonly size: number;
  /** Last round's models, for `init: "previous"`. */
  readonly nets: readonly Step<T>[];
  /** Pseudo-labels made last round, for this round's nets. */
  readonly pseudo?: Step<PseudoLabels>;
}

/** What the standard round's hook between score and acquire receives. */
export interface ScoredContext {
  /** The load step: the data set. */
  readonly data: Step<ImageData>;
  /** This round's labelled set and pool (the candidates come from the pool). */
  readonly labelled: Step<LabelledSet>;
  /** The posterior the candidates were scored under. */
  readonly posterior: Step<Posterior>;
  /** The round: 0 for the first (trained on the warm start). */
  readonly round: number;
}

/** The parts of the standard image round. */
export interface ImageRoundParts<T> {
  /** The load step: the data set every stage of the round reads. */
  readonly data: Step<ImageData>;
  /** How models are trained and wrapped in posteriors (e.g. `netSpecModel(spec, train)`). */
  readonly model: ModelPack<T>;
  /** The posterior, score and acquisition rule of the round (and its pseudo-labelling, if any). */
  readonly strategy: Strategy;
  /** The run's seed: each stage's seed is derived from it, the stage and the round. */
  readonly seed: number;
  /** Number of classes of the data set (for the model pack's check and pseudo-labelling). */
  readonly classes: number;
  /** Pool items scored per round (0: all). */
  readonly poolSubset: number;
  /** Test items evaluated per round (0: all). */
  readonly testSubset: number;
  /** The posterior every strategy is evaluated by (the experiment's `evaluator`); default the strategy's own. */
  readonly evaluator?: PosteriorDef;
  /** Label budget: the run ends when the labelled set reaches it (the last batch is cut to fit). */
  readonly budget?: number;
  /** Extra items the score stage keeps for stages between score and acquire (e.g. "embeddings"). */
  readonly keep?: readonly AcquireNeed[];
  /** A step between score and acquire: gets the scored candidates, returns those the rule picks from. */
  readonly between?: (scored: Step<Scored>, at: ScoredContext) => Step<Scored>;
  /** [H, W, C] of the data set's images, for the model pack's check (e.g. `imageShape(value)`). */
  readonly inputShape?: readonly [number, number, number];
}

/**
 * The start state of a run: the balanced warm start.
 *
 * @param data the load step
 * @param perClass labelled items per class
 * @param classes number of classes
 * @param seed the run's seed
 * @returns the state of round 0
 */
export function warmStartState<T = TrainedNet>(
  data: Step<ImageData>,
  perClass: number,
  classes: number,
  seed: number,
): ImageState<T> {
  return {
    labelled: step(warmStartStage(perClass, deriveSeed(seed, "warm-start")), { data }),
    size: perClass * classes,
    nets: [],
  };
}

/**
 * The standard round: retrain (every net the posterior needs) → fit-posterior
 * → evaluate → score → [between] → acquire → [pseudo-label], then the next
 * labelled set. The last round (or the one that reaches the budget) only
 * trains and evaluates.
 *
 * @param parts the round's model, training, strategy, seed and sizes
 * @returns the round
 */
export function imageRound<T>(parts: ImageRoundParts<T>): Round<ImageState<T>> {
  const { data, model, strategy, seed, classes } = parts;
  const budget = parts.budget ?? Infinity;
  const nets = strategy.posterior.nets ?? 1;
  const keep = [...new Set([...(strategy.acquire.needs ?? []), ...(parts.keep ?? [])])];
  if (strategy.pseudoLabel && !keep.includes("meanProbs")) keep.push("meanProbs");
  const previousInit = model.init === "previous";
  for (const posterior of [strategy.posterior, ...(parts.evaluator ? [parts.evaluator] : [])]) {
    model.check?.({ classes, posterior, ...(parts.inputShape ? { inputShape: parts.inputShape } : {}) });
  }
  return (state, at): RoundOutcome<ImageState<T>> => {
    const { round } = at;
    const trained: Step<T>[] = [];
    for (let k = 0; k < nets; k++) {
      // Net 0 keeps the seeds of a single-net run, so strategies share it; members k > 0 get their own.
      const member = k === 0 ? "" : `/member-${k}`;
      const previous = previousInit ? state.nets[k] : undefined;
      const stage = model.retrain({
        init: deriveSeed(seed, `init/${previousInit ? 0 : round}${member}`),
        train: deriveSeed(seed, `train/${round}${member}`),
      });
      // (A step of T feeds an input of T; the conditional type StepFor<T> cannot see it for a generic T.)
      const inputs = {
        data,
        labelled: state.labelled,
        ...(previous ? { from: previous } : {}),
        ...(state.pseudo ? { pseudo: state.pseudo } : {}),
      } as StepsOf<RetrainInput<T>>;
      trained.push(step(stage, inputs));
    }
    const posterior = step(model.posterior(strategy.posterior, deriveSeed(seed, `posterior/${round}`)), {
      data,
      labelled: state.labelled,
      nets: trained,
    });
    // A common evaluator: its own posterior over the first nets, seeded by the run's seed and the round only,
    // so strategies that train the same nets share its evaluation (one cache entry).
    const judge = parts.evaluator
      ? step(model.posterior(parts.evaluator, deriveSeed(seed, `evaluator/${round}`)), {
        data,
        labelled: state.labelled,
        nets: trained.slice(0, parts.evaluator.nets ?? 1),
      })
      : posterior;
    const metrics = step(evaluateStage(deriveSeed(seed, `evaluate/${round}`), parts.testSubset), {
      posterior: judge,
      data,
    });
    const speed = derive(
      "train-speed",
      { trained: trained[0] as Step<TrainedNet> },
      ({ trained }) => trained.imagesPerSecond,
    );
    const outcome = { labelled: state.labelled, metrics, notes: { trainImagesPerSecond: speed } };
    if (at.last || state.size >= budget) return outcome;
    const scoredAll = step(
      scoreStage(strategy.score, deriveSeed(seed, `score/${round}`), parts.poolSubset, keep),
      { posterior, data, labelled: state.labelled },
    );
    const scored = parts.between
      ? parts.between(scoredAll, { data, labelled: state.labelled, posterior, round })
      : scoredAll;
    const { acquired, take, labelled, pseudo } = acquisitionSteps({
      scored,
      labelled: state.labelled,
      strategy,
      seed: deriveSeed(seed, `acquire/${round}`),
      round,
      classes: classes,
      size: state.size,
      budget,
    });
    const next: ImageState<T> = {
      labelled,
      size: state.size + take,
      nets: previousInit ? trained : [],
      ...(pseudo ? { pseudo } : {}),
    };
    const notes = {
      ...outcome.notes,
      ...(pseudo
        ? {
          pseudoLabelled: derive("pseudo-count", { pseudo }, ({ pseudo }) => pseudo.indices.length),
          // Diagnostics only: how many pseudo-labels agree with the withheld true labels.
          pseudoCorrect: derive(
            "pseudo-correct",
            { pseudo, data },
            ({ pseudo, data }) => pseudo.indices.filter((i, k) => data.train.y[i] === pseudo.labels[k]).length,
          ),
        }
        : {}),
    };
    return { ...outcome, acquired, notes, next };
  };
}

/**
 * The runs of one preset variant: every strategy x seed, each a loop of the
 * standard round from the balanced warm start.
 *
 * @param config the experiment (one grid point)
 * @param data the load step
 * @param classes number of classes
 * @param variant the grid point's label ("" without a grid)
 * @returns the runs
 */
export function presetRuns(config: ExperimentConfig, data: Step<ImageData>, classes: number, variant = ""): Run[] {
  const parts = imagePartsOf(config);
  return presetLoops(config, strategiesOf(config), variant, (strategy, seed, sizes) => ({
    start: warmStartState(data, parts.initialPerClass, classes, seed),
    round: imageRound({
      data,
      model: netSpecPack(parts.model, parts.train),
      strategy,
      seed,
      classes,
      ...sizes,
      ...(config.evaluator ? { evaluator: config.evaluator } : {}),
    }),
  }));
}

/**
 * The composed experiment of a preset record (TypeScript `experiment({...})`
 * or YAML): its data set's load step, and for every grid point, strategy and
 * seed the standard loop. A user's own data set (`{ folder }`, `{ npz }`) is
 * read by the stages of `image_sources.ts`, and the model is checked against
 * it once loaded.
 *
 * @param config the decoded experiment, at the scale to run
 * @param opts `baseDir`: the experiment file's directory, which relative data paths start from
 * @returns the composed experiment
 */
export function presetExperiment(
  config: ExperimentConfig,
  opts: { readonly baseDir?: string } = {},
): Experiment<ImageData> {
  const dataset = config.dataset;
  if (isTextDataset(dataset)) {
    throw new TypeError(
      `${config.name}: ${datasetLabel(dataset)} is text (presetExperiment of packs/preset.ts runs it)`,
    );
  }
  const variants = variantsOf(config);
  const own = typeof dataset === "string" ? undefined : dataset;
  return composeExperiment({
    name: config.name,
    ...(config.description !== undefined ? { description: config.description } : {}),
    load: source(own ? presetImages(own, opts.baseDir) : builtinImages(config.dataset as ImageDatasetName)),
    runs: ({ data, value }) => {
      // A user's data set: the model is checked against what was loaded, before any stage runs.
      if (own) checkPresetModels(variants, value);
      return variants.flatMap(({ label, config }) => presetRuns(config, data, value.classes, label));
    },
    meta: { config, strategies: strategiesOf(config).map(describeStrategy) },
  });
}
