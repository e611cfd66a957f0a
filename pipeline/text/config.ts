/**
 * The configuration of a text active-learning experiment (the NLP part of
 * S. Loustau's talk "Bayesian Deep Active Learning: Computer vision and NLP",
 * 2023): one io-ts codec gives the runtime check and the static type.
 *
 * A text experiment is told apart from an image one by its `_tag`,
 * `"text-experiment"`, which {@link textExperiment} adds.
 *
 * @example
 * ```ts
 * import { decodeTextExperiment, textExperiment } from "./config.ts";
 * const cfg = textExperiment({
 *   name: "tiny", dataset: "trec", initialLabelled: 10, acquireSize: 5, rounds: 1, seeds: [0],
 *   encoder: { buckets: 1024, maxTokens: 50, dim: 8, hidden: 8, epochs: 2, batchSize: 8, learningRate: 0.01 },
 *   head: { samples: 5, priorPrecision: 1, epochs: 5 },
 *   strategies: [{ name: "random", bayesian: false, score: "random" }],
 *   poolSubset: 100, testSubset: 50,
 * });
 * console.assert(decodeTextExperiment(cfg)._tag === "Right");
 * ```
 *
 * @module
 */
import * as E from "fp-ts/Either.js";
import { pipe } from "fp-ts/function.js";
import * as t from "io-ts";
import { formatDecodeErrors, NonNegativeInt, PositiveInt, PositiveNumber, strictFields } from "../../dsl/codecs.ts";

/** Which data set: Reuters-21578 ModApte (multi-label) or TREC with coarse or fine classes (single-label). */
export const TextDatasetName = t.keyof({ "reuters": null, "trec": null, "trec-fine": null });
/** Which data set. */
export type TextDatasetName = t.TypeOf<typeof TextDatasetName>;

/** Acquisition scores of a text strategy. */
export const TextScoreName = t.keyof({ "random": null, "entropy": null, "bald": null, "margin": null, "top-u": null });
/** Acquisition scores of a text strategy. */
export type TextScoreName = t.TypeOf<typeof TextScoreName>;

/** How per-label uncertainties of a multi-label item are combined (see `dsl/multilabel.ts`). */
export const TextAggregate = t.keyof({ "mean": null, "max": null, "sum-per-tag": null });

/**
 * A strategy: a score computed either from the VOGN head's posterior
 * (`bayesian: true`, T = `head.samples` weight draws) or from the encoder's
 * own point-estimate output layer (`bayesian: false`, one "draw").
 */
export const TextStrategy = strictFields(t.intersection([
  t.type({ name: t.string, bayesian: t.boolean, score: TextScoreName }),
  t.partial({
    /** Multi-label only: how per-label entropy/BALD are combined (default "sum-per-tag"). */
    aggregate: TextAggregate,
    /** top-u only: u (default 1). */
    u: PositiveInt,
  }),
]));
/** A strategy. */
export type TextStrategy = t.TypeOf<typeof TextStrategy>;

/** The encoder trained from scratch each round (see `encoder.ts`). */
export const TextEncoderConfig = strictFields(t.type({
  /** Hash buckets B of the unigram+bigram features. */
  buckets: PositiveInt,
  /** Tokens read per text. */
  maxTokens: PositiveInt,
  /** Embedding width. */
  dim: PositiveInt,
  /** Width of the ReLU hidden layer: the features the VOGN head sees. */
  hidden: PositiveInt,
  epochs: PositiveInt,
  batchSize: PositiveInt,
  learningRate: PositiveNumber,
}));
/** The encoder settings. */
export type TextEncoderConfig = t.TypeOf<typeof TextEncoderConfig>;

/** The VOGN head fitted on the encoder's penultimate features (see `pipeline/vogn.ts`). */
export const TextHeadConfig = strictFields(t.intersection([
  t.type({
    /** T, posterior draws for evaluation and scoring (the talk: N = 10). */
    samples: PositiveInt,
    /** δ, prior precision. */
    priorPrecision: PositiveNumber,
    epochs: PositiveInt,
  }),
  t.partial({
    learningRate: PositiveNumber,
    batchSize: PositiveInt,
    mcSamples: PositiveInt,
    temperature: PositiveNumber,
  }),
]));
/** The head settings. */
export type TextHeadConfig = t.TypeOf<typeof TextHeadConfig>;

/** The settings `full` may override (the paper's scale). */
const Scalable = strictFields(t.partial({
  initialLabelled: PositiveInt,
  acquireSize: PositiveInt,
  rounds: NonNegativeInt,
  seeds: t.array(NonNegativeInt),
  poolSubset: PositiveInt,
  testSubset: PositiveInt,
  encoder: TextEncoderConfig,
  head: TextHeadConfig,
}));

/** A text experiment. */
export const TextExperimentConfig = strictFields(t.intersection([
  t.type({
    _tag: t.literal("text-experiment"),
    name: t.string,
    dataset: TextDatasetName,
    /** Random documents labelled before the first round. */
    initialLabelled: PositiveInt,
    /** Documents acquired per round. */
    acquireSize: PositiveInt,
    /** Acquisition rounds (evaluations: rounds + 1). */
    rounds: NonNegativeInt,
    seeds: t.array(NonNegativeInt),
    encoder: TextEncoderConfig,
    head: TextHeadConfig,
    strategies: t.array(TextStrategy),
    /** Pool documents scored per round (a fresh random subset each round). */
    poolSubset: PositiveInt,
    /** Test documents evaluated (one fixed random subset for the whole experiment). */
    testSubset: PositiveInt,
  }),
  t.partial({ description: t.string, full: Scalable }),
]));
/** A decoded text experiment. */
export type TextExperimentConfig = t.TypeOf<typeof TextExperimentConfig>;
/** What a TypeScript experiment file writes (plain numbers, no brands). */
export type TextExperimentInput = t.OutputOf<typeof TextExperimentConfig>;

/**
 * Marks a plain object as a text experiment (adds `_tag`), for TypeScript
 * experiment files: `export default textExperiment({...})`.
 *
 * @param config the experiment without its tag
 * @returns the tagged experiment, still to be decoded
 */
export function textExperiment(config: Omit<TextExperimentInput, "_tag">): TextExperimentInput {
  return { _tag: "text-experiment", ...config };
}

/**
 * Whether a value (an experiment file's default export) claims to be a text
 * experiment: an object whose `_tag` is `"text-experiment"`.
 *
 * @param value anything
 * @returns true for a text experiment (not yet validated)
 */
export function isTextExperiment(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as { _tag?: unknown })._tag === "text-experiment";
}

/**
 * Decodes and checks a text experiment: the codec (strict at every depth: an
 * unknown field such as `encoder.dimm` is an error), then rules across fields
 * (unique strategy names, no posterior-only score without a posterior, at
 * least one strategy and seed).
 *
 * @param value the module's default export
 * @returns the config, or one message per problem (`path: problem`)
 */
export function decodeTextExperiment(value: unknown): E.Either<string[], TextExperimentConfig> {
  return pipe(
    TextExperimentConfig.decode(value),
    E.mapLeft(formatDecodeErrors),
    E.chain((cfg) => {
      const problems: string[] = [];
      const names = new Set<string>();
      cfg.strategies.forEach((s, i) => {
        if (names.has(s.name)) problems.push(`strategies.${i}.name: "${s.name}" is used twice`);
        names.add(s.name);
        if (!s.bayesian && (s.score === "bald" || s.score === "top-u")) {
          problems.push(`strategies.${i}.score: "${s.score}" needs posterior samples, so "bayesian" must be true`);
        }
      });
      if (cfg.strategies.length === 0) problems.push("strategies: at least one strategy is needed");
      if (cfg.seeds.length === 0) problems.push("seeds: at least one seed is needed");
      return problems.length > 0 ? E.left(problems) : E.right(cfg);
    }),
  );
}

/**
 * Applies the `full` overrides to a config.
 *
 * @param config the decoded config
 * @returns the config at full scale
 */
export function textAtFullScale(config: TextExperimentConfig): TextExperimentConfig {
  return { ...config, ...(config.full ?? {}) };
}
