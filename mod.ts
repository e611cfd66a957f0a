/**
 * dbal: deep Bayesian active learning on TensorFlow.js.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bald, experiment, galCnn, mcDropout, strategy, topK } from "./mod.ts";
 * const exp = experiment({
 *   name: "tiny", dataset: "mnist", model: galCnn(10), initialPerClass: 2,
 *   strategies: [strategy({ posterior: mcDropout({ samples: 10 }), score: bald, acquire: topK(10) })],
 *   rounds: 2, poolSubset: 500, testSubset: 500, seeds: [0],
 *   train: { epochs: 5, batchSize: 32, learningRate: 1e-3, weightDecay: 0, init: "scratch" },
 * });
 * assert(exp.rounds === 2);
 * ```
 *
 * @module
 */
// The user's vocabulary only: constructors, their input types and the part types. The io-ts codecs that check
// them stay in `dsl/` (import them from there to decode configs yourself).
export {
  type DatasetConfig,
  decodeExperiment,
  experiment,
  type ExperimentConfig,
  type ExperimentInput,
  type FolderDataset,
  type ImageDatasetName,
  type NpzDataset,
  type StopConfig,
  type Suite,
  suite,
  type TrainConfig,
} from "./dsl/experiment.ts";
export {
  checkModelClasses,
  checkModelInput,
  galCnn,
  type HybridOptions,
  hybridPreset,
  type HybridPresetName,
  hybridPresetNames,
  type LayerSpec,
  type NetSpec,
  type NetSpecInput,
  smallCnn,
} from "./dsl/model.ts";
export * from "./dsl/stage.ts";
export {
  type AcquireDef,
  type AcquireNeed,
  badge,
  bald,
  batchBald,
  bayesByBackprop,
  builtinPartNames,
  ceal,
  type CealOptions,
  coreSet,
  deepEnsemble,
  defineAcquire,
  definePseudoLabel,
  defineScore,
  describeStrategy,
  deterministic,
  discriminative,
  type DiscriminativeRuleOptions,
  emoc,
  learningLoss,
  type LearningLossRuleOptions,
  leastConfidence,
  margin,
  maxEntropy,
  mcDropout,
  meanStd,
  multiLabelBald,
  multiLabelEntropy,
  type PartIdentity,
  type PartSource,
  type PosteriorCode,
  type PosteriorDef,
  powerTopK,
  type PseudoLabelDef,
  type PseudoLabelInput,
  type PseudoLabels,
  random,
  type Rows,
  type ScoredCandidates,
  type ScoreDef,
  scoresByName,
  type SelectContext,
  type SelectFn,
  type Strategy,
  strategy,
  suggestive,
  topK,
  topU,
  variationRatios,
  vogn,
  vognHead,
  type VognHeadOptions,
  type VognOptions,
} from "./dsl/strategy.ts";
export type { LogProbs, ScoreFn } from "./pipeline/algorithms/scores.ts";
export type { EmocOutput } from "./pipeline/algorithms/emoc.ts";
export type { MultiLabelAggregate } from "./pipeline/algorithms/multilabel.ts";
export type { JointEntropyDevice, LoadedJointEntropies, NearestCentresDevice } from "./pipeline/algorithms/batch.ts";
export { definePosterior, type FitInput, type Posterior, type PosteriorImpl } from "./pipeline/tensor/posterior.ts";
export type { LayerWeights, Net } from "./pipeline/tensor/net.ts";
export type { Rng } from "./pipeline/tensor/rng.ts";
export type { ImageArray } from "./pipeline/tensor/train.ts";
export type { LabelledImages } from "./pipeline/tensor/stages.ts";
export type { Entry, EntryInput, StoredArray, StoredArrayData } from "./pipeline/run/cache/mod.ts";
export {
  composeExperiment,
  derive,
  type Experiment,
  loop,
  type Metrics,
  type Round,
  type RoundAt,
  type RoundOutcome,
  type RoundView,
  type Run,
  type Scale,
  source,
  type Step,
  step,
  type StepFor,
  type StepsOf,
  type StopRule,
} from "./dsl/compose.ts";
export {
  acquireStage,
  builtinImages,
  evaluateStage,
  type ImageData,
  imageRound,
  type ImageRoundParts,
  type ImageState,
  type LabelledSet,
  labelledSetStage,
  type ModelPack,
  netSpecModel,
  posteriorStage,
  pseudoLabelStage,
  type RetrainInput,
  retrainStage,
  type Scored,
  type ScoredContext,
  scoreStage,
  type TrainedNet,
  warmStartStage,
  warmStartState,
} from "./pipeline/packs/images.ts";
export { type Codec, indicesCodec, jsonCodec, scoredCodec } from "./pipeline/packs/codecs.ts";
export {
  imageFolder,
  type ImageFolderSourceOptions,
  npyImages,
  type NpySourceOptions,
  npzImages,
  type NpzSourceOptions,
} from "./pipeline/packs/image_sources.ts";
export {
  imageShape,
  type LayersCheck,
  layersModel,
  type LayersModelPack,
  type LayersTrainOptions,
  type TrainedLayers,
} from "./pipeline/packs/layers_model.ts";
export {
  type TableDatasetConfig,
  type TextDatasetConfig,
  type TextDatasetName,
  textEncoder,
  type TextEncoderInput,
  type TextEncoderSpec,
} from "./dsl/text.ts";
export type { VognHead } from "./pipeline/tensor/vogn.ts";
export {
  balancedWarmStartStage,
  builtinText,
  type EncodedText,
  type EncoderInput,
  encoderStage,
  predictText,
  presetTextExperiment,
  randomWarmStartStage,
  type TextData,
  textEvaluateStage,
  type TextPosterior,
  type TextPosteriorInput,
  textPosteriorStage,
  textRound,
  type TextRoundParts,
  type TextScoredContext,
  textScoreStage,
  type TextSplit,
  type TextState,
  textTable,
  textWarmStartState,
} from "./pipeline/packs/text.ts";
export { presetExperiment } from "./pipeline/packs/preset.ts";
