/**
 * The configuration of an active-learning experiment, as one io-ts codec that
 * gives both the runtime check and the static type. A TypeScript experiment
 * file default-exports the result of {@link experiment}; the runner decodes it
 * again before any work starts, so a bad value fails early with its path.
 *
 * @module
 */
import * as E from "fp-ts/Either.js";
import { pipe } from "fp-ts/function.js";
import * as t from "io-ts";
import { formatDecodeErrors, NonNegativeInt, NonNegativeNumber, PositiveInt, PositiveNumber } from "./codecs.ts";
import { NetSpec } from "./model.ts";

/** Acquisition functions known by name. */
export const AcquisitionName = t.keyof({
  "bald": null,
  "max-entropy": null,
  "variation-ratios": null,
  "mean-std": null,
  "random": null,
});
/** Acquisition functions known by name. */
export type AcquisitionName = t.TypeOf<typeof AcquisitionName>;

/** Image data sets the loaders know. */
export const ImageDatasetName = t.keyof({ "mnist": null, "fashion-mnist": null, "cifar10": null });
/** Image data sets the loaders know. */
export type ImageDatasetName = t.TypeOf<typeof ImageDatasetName>;

/** How each round's model is trained. */
export const TrainConfig = t.type({
  epochs: PositiveInt,
  batchSize: PositiveInt,
  learningRate: PositiveNumber,
  weightDecay: NonNegativeNumber,
  /** "scratch": re-initialise every round (Gal et al. 2017); "previous": continue from last round's weights. */
  init: t.keyof({ scratch: null, previous: null }),
});
/** How each round's model is trained. */
export type TrainConfig = t.TypeOf<typeof TrainConfig>;

/** The sizes that `--full` may override. */
const ScaleFields = {
  rounds: PositiveInt,
  /** Items scored per round: a random subset of the pool; 0 scores the whole pool. */
  poolSubset: NonNegativeInt,
  /** Test items evaluated per round; 0 evaluates the whole test set. */
  testSubset: NonNegativeInt,
  mcSamples: PositiveInt,
  seeds: t.array(t.Int),
  train: TrainConfig,
};

/** The experiment configuration. */
export const ExperimentConfig = t.intersection([
  t.type({
    name: t.string,
    dataset: ImageDatasetName,
    model: NetSpec,
    /** Initial labelled items per class (balanced warm start). */
    initialPerClass: PositiveInt,
    /** Items acquired per round. */
    acquireSize: PositiveInt,
    acquisitions: t.array(AcquisitionName),
    ...ScaleFields,
  }),
  t.partial({
    /** Overrides applied by `--full`: the paper's scale. */
    full: t.partial(ScaleFields),
    description: t.string,
  }),
]);
/** The experiment configuration. */
export type ExperimentConfig = t.TypeOf<typeof ExperimentConfig>;
/** The configuration as a user writes it (plain numbers). */
export type ExperimentInput = t.OutputOf<typeof ExperimentConfig>;

const topLevelKeys = new Set([
  "name",
  "dataset",
  "model",
  "initialPerClass",
  "acquireSize",
  "acquisitions",
  "full",
  "description",
  ...Object.keys(ScaleFields),
]);

/**
 * Checks an unknown value against {@link ExperimentConfig}, also rejecting
 * unknown top-level fields (a misspelt field would otherwise be ignored).
 *
 * @param value the decoded YAML or the module's default export
 * @returns the config, or every problem with its path
 */
export function decodeExperiment(value: unknown): E.Either<string[], ExperimentConfig> {
  const unknown = value && typeof value === "object"
    ? Object.keys(value).filter((k) => !topLevelKeys.has(k)).map((k) =>
      `${k}: unknown field (known fields: ${[...topLevelKeys].join(", ")})`
    )
    : [];
  return pipe(
    ExperimentConfig.decode(value),
    E.mapLeft((errors) => [...unknown, ...formatDecodeErrors(errors)]),
    E.chain((config) => {
      const problems = [...unknown, ...checkConsistency(config)];
      return problems.length > 0 ? E.left(problems) : E.right(config);
    }),
  );
}

function checkConsistency(c: ExperimentConfig): string[] {
  const problems: string[] = [];
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(c.name)) {
    problems.push(`name: expected letters, digits, '.', '_' or '-', got ${JSON.stringify(c.name)}`);
  }
  if (c.acquisitions.length === 0) problems.push("acquisitions: expected at least one acquisition function");
  if (c.seeds.length === 0) problems.push("seeds: expected at least one seed");
  c.model.layers.forEach((layer, i) => {
    if (layer.kind === "dropout" && !(layer.rate >= 0 && layer.rate < 1)) {
      problems.push(`model.layers.${i}.rate: expected a number in [0, 1), got ${layer.rate}`);
    }
  });
  const last = c.model.layers[c.model.layers.length - 1];
  if (!last || last.kind !== "dense" || last.activation !== "linear") {
    problems.push("model.layers: the last layer must be a linear dense layer (the class logits)");
  }
  return problems;
}

/**
 * Declares an experiment. Type-checks the literal; the runner decodes it again
 * at run time.
 *
 * @param config the experiment
 * @returns the same value, typed
 */
export function experiment(config: ExperimentInput): ExperimentInput {
  return config;
}

/**
 * Applies the `full` overrides (the paper's scale) to a config.
 *
 * @param config the decoded config
 * @returns the config at full scale
 */
export function atFullScale(config: ExperimentConfig): ExperimentConfig {
  return { ...config, ...(config.full ?? {}) };
}
