/**
 * Strategies as values: a strategy is a posterior (how to sample predictions),
 * a score (how much an item is worth labelling, from those samples) and an
 * acquisition rule (which scored items to take). Each part is a plain value
 * with a name, a version and params (its cache identity), so a user can write
 * a new score or posterior in their own file and plug it in:
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineScore, mcDropout, strategy, topK } from "../mod.ts";
 * const margin = defineScore({ name: "margin", fn: (lp) => new Float64Array(lp.n) });
 * const s = strategy({ posterior: mcDropout({ samples: 20 }), score: margin, acquire: topK(10) });
 * assert(s.name === "margin");
 * ```
 *
 * The built-in parts are also known by name, which is how YAML files refer
 * to them (`score: bald`, `posterior: { name: mc-dropout, samples: 20 }`).
 * Everything here is pure: tensor code lives in `pipeline/`, and a custom
 * posterior brings its own (see `pipeline/tensor/posterior.ts`).
 *
 * @module
 */
import * as E from "fp-ts/Either.js";
import * as t from "io-ts";
import { callerModule } from "./origin.ts";
import { type LogProbs, meanPredictive } from "../pipeline/algorithms/scores.ts";
import { topK as topKSelect } from "../pipeline/algorithms/acquire.ts";
import { PositiveInt, PositiveNumber, strictFields } from "./codecs.ts";
import { topUEntropy } from "../pipeline/algorithms/top_u.ts";
import {
  type MultiLabelAggregate,
  multiLabelScoreFn,
  type MultiLabelScoreKind,
} from "../pipeline/algorithms/multilabel.ts";
import { type EmocOutput, emocReference, emocScores } from "../pipeline/algorithms/emoc.ts";
import { representativeSubset } from "../pipeline/algorithms/representative.ts";
import { discriminativeSelect } from "../pipeline/algorithms/discriminative.ts";
import { learningLossSelect, perItemNll } from "../pipeline/algorithms/learning_loss.ts";
import {
  badgeEmbeddings,
  batchBald as batchBaldSelect,
  type JointEntropyDevice,
  kCenterGreedy,
  kMeansPlusPlus,
  type NearestCentresDevice,
  powerAcquisition,
} from "../pipeline/algorithms/batch.ts";
import {
  bald as baldFn,
  leastConfidence as leastConfidenceFn,
  margin as marginFn,
  maxEntropy as maxEntropyFn,
  meanStd as meanStdFn,
  randomScore,
  type ScoreFn,
  variationRatios as variationRatiosFn,
} from "../pipeline/algorithms/scores.ts";

/** Identity of a strategy part: what its cache key is made of. */
export interface PartIdentity {
  /** Letters, digits, '.', '_' or '-'; part of stage names such as "score/bald". */
  readonly name: string;
  /** Bump by hand when the part's maths changes (its code is hashed too). */
  readonly version: number;
  /** JSON parameters. */
  readonly params: Readonly<Record<string, unknown>>;
  /**
   * URL of the module that defined a user part (set by the `define*`
   * constructors): its source and its local imports are hashed into the keys
   * of the stages that run it.
   */
  readonly definedIn?: string;
  /**
   * What a built-in part was built from: its YAML form (`"bald"`, `{ name: "top-k", k: 10 }`). The codecs
   * decode it again, so `topK(0)` in a TypeScript file is rejected exactly as `{ name: top-k, k: 0 }` in
   * YAML. Absent from user-defined parts (`defineScore` and the like).
   */
  readonly source?: PartSource;
}

/** A built-in part's YAML form: its name, or an object with its name and parameters. */
export type PartSource = string | { readonly name: string; readonly [param: string]: unknown };

/** The part, with the YAML form it was built from (parameters left undefined are left out). */
function builtFrom<P extends PartIdentity>(source: PartSource, part: P): P {
  const form = typeof source === "string"
    ? source
    : Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined)) as PartSource;
  // A built-in part is implemented by this module and what it imports (not by the file that called its constructor).
  return { ...part, source: form, definedIn: import.meta.url };
}

/** A score: one number per pool item from a chunk of sampled predictions. */
export interface ScoreDef extends PartIdentity {
  /** Marks a built score, as opposed to its YAML form (a name or `{ name, ...params }`). */
  readonly _tag: "score";
  /** False for scores that ignore the predictions (random): the posterior is then not sampled. */
  readonly usesPredictions: boolean;
  /** Maps a chunk's log-probabilities [N, T, C] to one score per item (higher: more worth labelling). */
  readonly fn: ScoreFn;
}

/** The tensor code of a user posterior, as `dsl/` sees it: something with a `fit`. */
export interface PosteriorCode {
  /** Fits the posterior (the interpreter calls it with the round's nets and data). */
  fit(input: never, ctx: never): Promise<unknown>;
}

/** How a posterior is sampled: built in (known by name) or brought by the user (`impl`). */
export interface PosteriorDef extends PartIdentity {
  /** Marks a built posterior, as opposed to its YAML form (a name or `{ name, ...params }`). */
  readonly _tag: "posterior";
  /** T: samples per item. */
  readonly samples: number;
  /**
   * Nets trained per round for this posterior (default 1). An ensemble of N
   * trains N, each cached on its own key: growing 5 members to 10 trains 5.
   */
  readonly nets?: number;
  /** True when sample t of every item comes from the same weights (joint samples, as BatchBALD needs). */
  readonly consistent?: boolean;
  /**
   * A user posterior's tensor code (a `PosteriorImpl`, see `definePosterior`
   * in `pipeline/tensor/posterior.ts`): opaque here, since `dsl/` knows no tensor types. Absent for built-ins.
   */
  readonly impl?: PosteriorCode;
}

/** A row-major matrix of per-item vectors. */
export interface Rows {
  /** The vectors, one after another: row i is `data[i * d]` to `data[(i + 1) * d - 1]`. */
  readonly data: Float32Array;
  /** Columns (the vector length). */
  readonly d: number;
}

/** Scored pool candidates, as an acquisition rule sees them. */
export interface ScoredCandidates {
  /** Pool items (train-set indices), one per score. */
  readonly candidates: readonly number[];
  /** The strategy's score of each candidate, in the order of `candidates` (higher: more worth labelling). */
  readonly scores: Float64Array;
  /** The posterior samples of the candidates, [N, T, C] (when the rule asks for "logProbs"). */
  readonly logProbs?: LogProbs;
  /** Penultimate-layer features of the candidates (when the rule asks for "embeddings"). */
  readonly embeddings?: Rows;
  /** Penultimate-layer features of the labelled items (when the rule asks for "labelledEmbeddings"). */
  readonly labelledEmbeddings?: Rows;
  /** The MC-averaged predictive distribution of the candidates, [N, C] (when asked for "meanProbs"). */
  readonly meanProbs?: Rows;
  /** The posterior samples of the labelled items, [L, T, C] (when asked for "labelledLogProbs"). */
  readonly labelledLogProbs?: LogProbs;
  /** The labels of the labelled items, in the order of `labelledLogProbs`/`labelledEmbeddings`. */
  readonly labelledLabels?: Int32Array;
}

/**
 * What an acquisition rule may ask the score stage to keep besides the
 * scores. "labelledLogProbs" brings `labelledLabels` with it.
 */
export type AcquireNeed = "logProbs" | "meanProbs" | "embeddings" | "labelledEmbeddings" | "labelledLogProbs";

/** Services an acquisition rule may use. */
export interface SelectContext {
  /** Prints a warning (the score stage's, shown on stderr by the runner), e.g. fewer candidates than the batch. */
  readonly warn: (message: string) => void;
  /** Seeded uniform numbers in [0, 1). */
  readonly rand: () => number;
  /** On a GPU backend: BatchBALD's tensor part there (the runner sets it; absent elsewhere). */
  readonly jointEntropies?: JointEntropyDevice;
  /** On a GPU backend: core-set's distances to the labelled set, computed there (as above). */
  readonly nearestCentres?: NearestCentresDevice;
}

/** Picks items to label from scored candidates; returns pool items, best first. */
export type SelectFn = (scored: ScoredCandidates, ctx: SelectContext) => number[] | Promise<number[]>;

/** An acquisition rule: how many items per round and which. */
export interface AcquireDef extends PartIdentity {
  /** Marks a built acquisition rule, as opposed to its YAML form (`{ name, ...params }`). */
  readonly _tag: "acquire";
  /** Items acquired per round (at most). */
  readonly size: number;
  /** Picks the round's items from the scored candidates, best first (see {@link SelectFn}). */
  readonly select: SelectFn;
  /** Data the rule reads besides the scores (kept by the score stage). */
  readonly needs?: readonly AcquireNeed[];
  /** True when the rule needs joint samples: sample t of every item drawn with the same weights. */
  readonly needsConsistentSamples?: boolean;
}

/** A complete acquisition strategy. */
export interface Strategy {
  /** Marks a strategy built with {@link strategy}, as opposed to its YAML form. */
  readonly _tag: "strategy";
  /** Unique within an experiment; names the curve in results. */
  readonly name: string;
  /** How predictions are sampled: the nets trained per round and the T samples per item. */
  readonly posterior: PosteriorDef;
  /** How much each pool item is worth labelling, from the posterior's samples. */
  readonly score: ScoreDef;
  /** Which scored items are sent to the oracle, and how many per round. */
  readonly acquire: AcquireDef;
  /** Optional pseudo-labels for the next round's training (CEAL). */
  readonly pseudoLabel?: PseudoLabelDef;
}

/**
 * Defines a score from a function over log-probabilities [N, T, C].
 *
 * @param def name, the function, and optionally version, params and whether it reads predictions
 * @returns the score value
 */
export function defineScore(def: {
  readonly name: string;
  readonly fn: ScoreFn;
  readonly version?: number;
  readonly params?: Readonly<Record<string, unknown>>;
  readonly usesPredictions?: boolean;
}): ScoreDef {
  const definedIn = callerModule();
  return {
    _tag: "score",
    ...(definedIn ? { definedIn } : {}),
    name: def.name,
    version: def.version ?? 1,
    params: def.params ?? {},
    usesPredictions: def.usesPredictions ?? true,
    fn: def.fn,
  };
}

/**
 * Defines an acquisition rule.
 *
 * @param def name, batch size, the selection function, and optionally version and params
 * @returns the rule
 */
export function defineAcquire(def: {
  readonly name: string;
  readonly size: number;
  readonly select: SelectFn;
  readonly version?: number;
  readonly params?: Readonly<Record<string, unknown>>;
  readonly needs?: readonly AcquireNeed[];
  readonly needsConsistentSamples?: boolean;
}): AcquireDef {
  const definedIn = callerModule();
  return {
    _tag: "acquire",
    ...(definedIn ? { definedIn } : {}),
    name: def.name,
    version: def.version ?? 1,
    params: { ...(def.params ?? {}), size: def.size },
    size: def.size,
    select: def.select,
    ...(def.needs && def.needs.length > 0 ? { needs: def.needs } : {}),
    ...(def.needsConsistentSamples ? { needsConsistentSamples: true } : {}),
  };
}

/** Built-in parts declare their version: bump it by hand when the part's maths changes. */
type Versioned<D> = D & { readonly version: number };

/** A built-in score: {@link defineScore}, remembering its YAML form. */
function builtinScore(source: PartSource, def: Versioned<Parameters<typeof defineScore>[0]>): ScoreDef {
  return builtFrom(source, defineScore(def));
}

/** A built-in rule: {@link defineAcquire}, remembering its YAML form. */
function builtinAcquire(source: PartSource, def: Versioned<Parameters<typeof defineAcquire>[0]>): AcquireDef {
  return builtFrom(source, defineAcquire(def));
}

/**
 * MC dropout (Gal & Ghahramani 2016): the trained net with dropout kept on at
 * prediction time, sampled T times. `consistent: true` uses the same T masks
 * for every pool item (BatchBALD, Kirsch et al. 2019, needs joint samples).
 *
 * @param opts T, the number of stochastic forward passes, and mask consistency
 * @returns the posterior value
 */
export function mcDropout(opts: { readonly samples: number; readonly consistent?: boolean }): PosteriorDef {
  const params = opts.consistent ? { samples: opts.samples, consistent: true } : { samples: opts.samples };
  return builtFrom({ name: "mc-dropout", ...opts }, {
    _tag: "posterior",
    name: "mc-dropout",
    // Version 2 when consistent: restoring such a posterior from the cache reseeded its masks before the fix
    // of the planned seed, so entries computed from one must not be reused.
    version: opts.consistent ? 2 : 1,
    params,
    samples: opts.samples,
    ...(opts.consistent ? { consistent: true } : {}),
  });
}

/**
 * Bayes-by-backprop (Blundell et al. 2015): the net's mean-field Gaussian
 * layers (a model with `bayesian` layers, e.g. a `hybridPreset`) are sampled
 * T times by reparameterisation; the net is trained on the ELBO. Only the
 * layers from the first stochastic one on are recomputed per sample.
 *
 * @param opts T, and whether the T weight draws are the same for every item
 * @returns the posterior value
 */
export function bayesByBackprop(opts: { readonly samples: number; readonly consistent?: boolean }): PosteriorDef {
  const params = opts.consistent ? { samples: opts.samples, consistent: true } : { samples: opts.samples };
  return builtFrom({ name: "bayes-by-backprop", ...opts }, {
    _tag: "posterior",
    name: "bayes-by-backprop",
    // Version 2 when consistent: restoring such a posterior from the cache reseeded its masks before the fix
    // of the planned seed, so entries computed from one must not be reused.
    version: opts.consistent ? 2 : 1,
    params,
    samples: opts.samples,
    ...(opts.consistent ? { consistent: true } : {}),
  });
}

/**
 * The deterministic net (dropout off): one sample, the non-Bayesian baseline
 * whose softmax gives plain entropy or margin uncertainty.
 *
 * @returns the posterior value
 */
export function deterministic(): PosteriorDef {
  return builtFrom("deterministic", {
    _tag: "posterior",
    name: "deterministic",
    version: 1,
    params: {},
    samples: 1,
    consistent: true,
  });
}

/**
 * A deep ensemble (Lakshminarayanan et al. 2017; for AL, Beluch et al. 2018):
 * `members` nets of the experiment's model, each with its own initial weights
 * and data order, trained on the same labelled set; each member's softmax is
 * one sample. The first member is the net single-net strategies train, so it
 * is shared with them through the cache.
 *
 * @param opts the number of members (T)
 * @returns the posterior value
 */
export function deepEnsemble(opts: { readonly members: number }): PosteriorDef {
  return builtFrom({ name: "ensemble", ...opts }, {
    _tag: "posterior",
    name: "ensemble",
    version: 1,
    params: { members: opts.members },
    samples: opts.members,
    nets: opts.members,
    consistent: true,
  });
}

/** Options of {@link vognHead}. */
export interface VognHeadOptions {
  /** T: weight samples of the head per item (the talk's N = 10). */
  readonly samples: number;
  /** δ, precision of the Gaussian prior (default 1). */
  readonly priorPrecision?: number;
  /** τ, tempering of the KL term (default 1). */
  readonly temperature?: number;
  /** Passes over the labelled features (default 50). */
  readonly epochs?: number;
  /** Step size of the mean (default 0.05). */
  readonly learningRate?: number;
  /** Minibatch size (default 32). */
  readonly batchSize?: number;
  /** Weight draws per VOGN step (default 1). */
  readonly mcSamples?: number;
}

/**
 * A Bayesian last layer fitted with VOGN (Khan et al. 2018; Osawa et al.
 * 2019) on the features of the round's trained net: a diagonal Gaussian over
 * a softmax head. Only the head is sampled, so scoring runs the backbone
 * once per item.
 *
 * @param opts T and the VOGN hyper-parameters
 * @returns the posterior value
 */
export function vognHead(opts: VognHeadOptions): PosteriorDef {
  const params = {
    samples: opts.samples,
    priorPrecision: opts.priorPrecision ?? 1,
    temperature: opts.temperature ?? 1,
    epochs: opts.epochs ?? 50,
    learningRate: opts.learningRate ?? 0.05,
    batchSize: opts.batchSize ?? 32,
    mcSamples: opts.mcSamples ?? 1,
  };
  return builtFrom({ name: "vogn-head", ...opts }, {
    _tag: "posterior",
    name: "vogn-head",
    version: 1,
    params,
    samples: opts.samples,
  });
}

/** Options of {@link vogn}. */
export interface VognOptions {
  /** T: weight draws of the whole net per item (the talk's N = 10). */
  readonly samples: number;
  /** δ: the prior on a layer's weights is N(0, 1 / (δ · fan-in)) (default 1). */
  readonly priorPrecision?: number;
  /**
   * τ, the KL term's weight (default 0.001). A labelled set of a few thousand
   * items leaves most weights of a CNN at their prior under τ = 1, and draws
   * that wide keep VOGN from fitting; τ < 1 counts the data 1/τ times. On the
   * CIFAR-10 small CNN with 1,000 labels and 5 epochs, τ = 1 (step sizes 1e-3
   * and 0.1) and τ = 0.1 (0.01) stayed at chance, τ = 0.01 reached 27% and
   * 0.001 33% at step 1e-3, Adam 30% (`results/bench/2026-12-01-vogn-vs-adam.md`).
   */
  readonly temperature?: number;
  /** Passes over the labelled set (default 15). */
  readonly epochs?: number;
  /** Step size of the mean (default 1e-3). */
  readonly learningRate?: number;
  /** Minibatch size (default 32). */
  readonly batchSize?: number;
  /** Weight draws per VOGN step (default 1). */
  readonly mcSamples?: number;
  /** Start the means from a fresh init of the spec ("scratch", the default) or from the round's trained net ("net"). */
  readonly init?: "scratch" | "net";
}

/**
 * The whole net trained by VOGN (Khan et al. 2018; Osawa et al. 2019), the
 * optimiser the talk in `000_*.txt` swaps in for Adam: a diagonal Gaussian
 * over every conv and dense weight, fitted on the labelled set, sampled T
 * times (each sample a whole net, the same T nets for every item). Dropout
 * layers are off in its nets. Its training is the fit-posterior stage's, so
 * the round's Adam-trained net stays what a common `evaluator` evaluates.
 *
 * @param opts T and the VOGN hyper-parameters
 * @returns the posterior value
 */
export function vogn(opts: VognOptions): PosteriorDef {
  const params = {
    samples: opts.samples,
    priorPrecision: opts.priorPrecision ?? 1,
    temperature: opts.temperature ?? 0.001,
    epochs: opts.epochs ?? 15,
    learningRate: opts.learningRate ?? 1e-3,
    batchSize: opts.batchSize ?? 32,
    mcSamples: opts.mcSamples ?? 1,
    init: opts.init ?? "scratch",
  };
  return builtFrom({ name: "vogn", ...opts }, {
    _tag: "posterior",
    name: "vogn",
    version: 1,
    params,
    samples: opts.samples,
    // Sample t is the same whole net for every item and chunk.
    consistent: true,
  });
}

/**
 * Top-k: the k highest-scored candidates (ties to the candidate listed first).
 *
 * @param k items per round
 * @returns the rule
 */
export function topK(k: number): AcquireDef {
  return builtinAcquire({ name: "top-k", k }, {
    version: 1,
    name: "top-k",
    size: k,
    select: ({ candidates, scores }, ctx) => topKSelect("acquire/top-k", candidates, scores, k, ctx.warn).indices,
  });
}

/**
 * BatchBALD (Kirsch, van Amersfoort & Gal 2019): greedily grows the batch
 * that maximises the joint mutual information between its labels and the
 * weights, so near-duplicates add nothing. Needs joint (consistent) samples.
 * The strategy's score is ignored (use `bald` for the record).
 *
 * @param b items per round
 * @param opts exact joint entropy up to `maxExactConfigs` label configurations, sampled beyond
 * @returns the rule
 */
export function batchBald(
  b: number,
  opts: { readonly maxExactConfigs?: number; readonly sampledConfigs?: number } = {},
): AcquireDef {
  return builtinAcquire({ name: "batch-bald", k: b, ...opts }, {
    name: "batch-bald",
    version: 2,
    size: b,
    params: { ...opts },
    needs: ["logProbs"],
    needsConsistentSamples: true,
    select: async ({ candidates, logProbs }, ctx) => {
      if (!logProbs) throw new Error("batch-bald: the score stage kept no posterior samples");
      const device = ctx.jointEntropies ? { device: ctx.jointEntropies } : {};
      const { picked } = await batchBaldSelect(logProbs, b, { ...opts, rand: ctx.rand, warn: ctx.warn, ...device });
      return picked.map((i) => candidates[i] as number);
    },
  });
}

/**
 * Stochastic power acquisition (Kirsch et al., "Stochastic Batch Acquisition"):
 * b items drawn without replacement with probability proportional to
 * score^beta, which avoids top-k's redundant batches at no extra cost.
 *
 * @param b items per round
 * @param beta sharpness (large beta approaches top-k)
 * @returns the rule
 */
export function powerTopK(b: number, beta = 1): AcquireDef {
  return builtinAcquire({ name: "power", k: b, beta }, {
    version: 1,
    name: "power",
    size: b,
    params: { beta },
    select: ({ candidates, scores }, ctx) =>
      powerAcquisition(scores, Math.min(b, candidates.length), beta, ctx.rand).map((i) => candidates[i] as number),
  });
}

/**
 * Core-set (Sener & Savarese 2018): k-center greedy over penultimate-layer
 * embeddings, covering the pool candidates with balls around the labelled set
 * and the picks. Ignores the scores.
 *
 * @param b items per round
 * @returns the rule
 */
export function coreSet(b: number): AcquireDef {
  return builtinAcquire({ name: "core-set", k: b }, {
    version: 1,
    name: "core-set",
    size: b,
    needs: ["embeddings", "labelledEmbeddings"],
    select: async ({ candidates, embeddings, labelledEmbeddings }, ctx) => {
      if (!embeddings || !labelledEmbeddings) throw new Error("core-set: the score stage kept no embeddings");
      const l = labelledEmbeddings.data.length / Math.max(1, labelledEmbeddings.d);
      const all = new Float32Array(labelledEmbeddings.data.length + embeddings.data.length);
      all.set(labelledEmbeddings.data, 0);
      all.set(embeddings.data, labelledEmbeddings.data.length);
      const n = l + candidates.length;
      if (candidates.length < b) ctx.warn(`core-set: ${candidates.length} candidates, fewer than ${b}: taking all`);
      const labelledRows = Array.from({ length: l }, (_, i) => i);
      const d2 = await ctx.nearestCentres?.minSquaredDistances(all, n, embeddings.d, labelledRows);
      return kCenterGreedy(all, n, embeddings.d, labelledRows, Math.min(b, candidates.length), ctx.warn, d2).map(
        (i) => candidates[i - l] as number,
      );
    },
  });
}

/**
 * BADGE (Ash et al. 2020): k-means++ seeding over gradient embeddings of the
 * last layer under the predicted label, so the batch is both uncertain (large
 * gradients) and diverse. Ignores the scores.
 *
 * @param b items per round
 * @returns the rule
 */
export function badge(b: number): AcquireDef {
  return builtinAcquire({ name: "badge", k: b }, {
    version: 1,
    name: "badge",
    size: b,
    needs: ["logProbs", "embeddings"],
    select: ({ candidates, logProbs, embeddings }, ctx) => {
      if (!logProbs || !embeddings) throw new Error("badge: the score stage kept no samples or embeddings");
      const { n, c } = logProbs;
      const probs = meanPredictive(logProbs);
      const g = badgeEmbeddings(probs, embeddings.data, n, c, embeddings.d);
      return kMeansPlusPlus(g, n, c * embeddings.d, Math.min(b, n), ctx.rand).map((i) => candidates[i] as number);
    },
  });
}

/** Positions 0..n-1 (rules that pick by position and map back to pool items). */
const positions = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * Expected model output change (Käding, Rodner, Freytag & Denzler 2016,
 * "Active and continuous exploration with deep neural networks and expected
 * model output changes"): the items whose label, drawn from the predictive,
 * would move the model's outputs on the pool most after one gradient step,
 * to first order. Computed in closed form for the last layer (`pipeline/algorithms/emoc.ts`)
 * and averaged over `reference` random candidates. Ignores the scores.
 *
 * @param b items per round
 * @param opts reference items (default 500) and which output's change (default "probs")
 * @returns the rule
 */
export function emoc(b: number, opts: { readonly reference?: number; readonly output?: EmocOutput } = {}): AcquireDef {
  const reference = opts.reference ?? 500;
  const output = opts.output ?? "probs";
  return builtinAcquire({ name: "emoc", k: b, ...opts }, {
    version: 1,
    name: "emoc",
    size: b,
    params: { reference, output },
    needs: ["meanProbs", "embeddings"],
    select: ({ candidates, meanProbs, embeddings }, ctx) => {
      if (!meanProbs || !embeddings) throw new Error("emoc: the score stage kept no predictive or embeddings");
      const n = candidates.length;
      if (n === 0) return [];
      const ref = emocReference(n, Math.min(reference, n), ctx.rand);
      const scores = emocScores(meanProbs.data, embeddings.data, n, meanProbs.d, embeddings.d, {
        reference: ref,
        output,
      });
      return topKSelect("acquire/emoc", candidates, scores, b, ctx.warn).indices;
    },
  });
}

/**
 * Suggestive annotation (Yang, Zhang, Chen, Zhang & Chen 2017, "Suggestive
 * Annotation: A Deep Active Learning Framework for Biomedical Image
 * Segmentation", MICCAI): shortlist the `shortlist` highest-scoring
 * candidates (the strategy's score is the uncertainty), then greedily pick
 * the b of them that best represent all scored candidates, by cosine
 * similarity of penultimate embeddings (`pipeline/algorithms/representative.ts`).
 *
 * @param b items per round
 * @param shortlist K, the uncertain candidates considered (default 2b, the paper's 16 for 8)
 * @returns the rule
 */
export function suggestive(b: number, shortlist = 2 * b): AcquireDef {
  return builtinAcquire({ name: "suggestive", k: b, shortlist }, {
    version: 1,
    name: "suggestive",
    size: b,
    params: { shortlist },
    needs: ["embeddings"],
    select: ({ candidates, scores, embeddings }, ctx) => {
      if (!embeddings) throw new Error("suggestive: the score stage kept no embeddings");
      const n = candidates.length;
      const top = topKSelect("acquire/suggestive", positions(n), scores, Math.max(b, shortlist), () => {}).indices;
      return representativeSubset(embeddings.data, n, embeddings.d, top, b, ctx.warn).map(
        (i) => candidates[i] as number,
      );
    },
  });
}

/** Options of {@link discriminative}. */
export interface DiscriminativeRuleOptions {
  /** Mini-queries per round, each after retraining the classifier (default 10, at most b). */
  readonly subBatches?: number;
  /** Hidden layer widths of the classifier (default [128]; the paper's is [256, 256, 256]). */
  readonly hidden?: readonly number[];
  /** Training epochs per mini-query (default 10). */
  readonly epochs?: number;
  /** Adam step size of the classifier (default 0.001). */
  readonly learningRate?: number;
}

/**
 * Discriminative active learning (Gissin & Shalev-Shwartz 2019,
 * "Discriminative Active Learning"): a binary classifier learns to tell the
 * labelled items from the pool on penultimate embeddings, and the pool items
 * it is surest are unlabelled are taken, in mini-queries with the classifier
 * retrained after each (`pipeline/algorithms/discriminative.ts`). Ignores the scores.
 *
 * @param b items per round
 * @param opts mini-queries and the classifier's size and training
 * @returns the rule
 */
export function discriminative(b: number, opts: DiscriminativeRuleOptions = {}): AcquireDef {
  const params = {
    subBatches: opts.subBatches ?? 10,
    hidden: [...(opts.hidden ?? [128])],
    epochs: opts.epochs ?? 10,
    learningRate: opts.learningRate ?? 1e-3,
  };
  return builtinAcquire({ name: "discriminative", k: b, ...opts }, {
    version: 1,
    name: "discriminative",
    size: b,
    params,
    needs: ["embeddings", "labelledEmbeddings"],
    select: ({ candidates, embeddings, labelledEmbeddings }, ctx) => {
      if (!embeddings || !labelledEmbeddings) throw new Error("discriminative: the score stage kept no embeddings");
      const d = embeddings.d, l = labelledEmbeddings.data.length / d;
      return discriminativeSelect(labelledEmbeddings.data, l, embeddings.data, candidates.length, d, b, {
        ...params,
        rand: ctx.rand,
        warn: ctx.warn,
      }).map((i) => candidates[i] as number);
    },
  });
}

/** Options of {@link learningLoss}. */
export interface LearningLossRuleOptions {
  /** Hidden layer widths of the loss-prediction head (default [128]). */
  readonly hidden?: readonly number[];
  /** Training epochs of the head (default 50). */
  readonly epochs?: number;
  /** Adam step size of the head (default 0.001). */
  readonly learningRate?: number;
  /** ξ of the margin ranking loss (default 1, the paper's). */
  readonly margin?: number;
}

/**
 * Learning loss (Yoo & Kweon 2019, "Learning Loss for Active Learning",
 * CVPR): a small head predicts each item's loss from its penultimate
 * embedding, trained with the paper's pairwise margin ranking loss on the
 * labelled items' losses under the posterior; the b pool items with the
 * largest predicted loss are taken (`pipeline/algorithms/learning_loss.ts`). Ours is the
 * detached variant: the head is fitted after the round's net, not jointly
 * with it. Ignores the scores.
 *
 * @param b items per round
 * @param opts the head's size and training
 * @returns the rule
 */
export function learningLoss(b: number, opts: LearningLossRuleOptions = {}): AcquireDef {
  const params = {
    hidden: [...(opts.hidden ?? [128])],
    epochs: opts.epochs ?? 50,
    learningRate: opts.learningRate ?? 1e-3,
    margin: opts.margin ?? 1,
  };
  return builtinAcquire({ name: "learning-loss", k: b, ...opts }, {
    version: 1,
    name: "learning-loss",
    size: b,
    params,
    needs: ["embeddings", "labelledEmbeddings", "labelledLogProbs"],
    select: ({ candidates, embeddings, labelledEmbeddings, labelledLogProbs, labelledLabels }, ctx) => {
      if (!embeddings || !labelledEmbeddings || !labelledLogProbs || !labelledLabels) {
        throw new Error("learning-loss: the score stage kept no embeddings or labelled predictions");
      }
      const d = embeddings.d, l = labelledEmbeddings.data.length / d;
      // Finite targets only: a label the posterior gives probability 0 would be an infinite loss.
      const losses = Array.from(perItemNll(labelledLogProbs, labelledLabels), (v) => Math.min(v, 50));
      return learningLossSelect(labelledEmbeddings.data, l, losses, embeddings.data, candidates.length, d, b, {
        ...params,
        rand: ctx.rand,
        warn: ctx.warn,
      }).map((i) => candidates[i] as number);
    },
  });
}

/** What a pseudo-labelling part sees: the scored candidates' predictive, the round, and the items just acquired. */
export interface PseudoLabelInput {
  /** Pool items (train-set indices) in the order of `meanProbs`. */
  readonly candidates: readonly number[];
  /** The MC-averaged predictive distribution of the candidates, [N, C]. */
  readonly meanProbs: Rows;
  /** Items sent to the oracle this round: never pseudo-labelled. */
  readonly acquired: ReadonlySet<number>;
  /** The round whose model made the predictions (0 = the warm start's). */
  readonly round: number;
}

/** Pool items with the labels the model gives them; they train the next round's nets only. */
export interface PseudoLabels {
  /** Pool items (train-set indices) to pseudo-label. */
  readonly indices: number[];
  /** The class given to each item, in the order of `indices`. */
  readonly labels: number[];
}

/**
 * A pseudo-labelling part: after each acquisition it picks pool items the
 * model is sure of and labels them with its own prediction. The next round's
 * nets train on the labelled set plus these; they never join the labelled set
 * and are chosen afresh every round.
 */
export interface PseudoLabelDef extends PartIdentity {
  /** Marks a built pseudo-labelling part, as opposed to its YAML form (a name or `{ name, ...params }`). */
  readonly _tag: "pseudo-label";
  /** Picks the pool items the model is sure of, with their predicted classes (called after each acquisition). */
  readonly select: (input: PseudoLabelInput) => PseudoLabels;
}

/**
 * Defines a pseudo-labelling part.
 *
 * @param def name, the selection function, and optionally version and params
 * @returns the part
 */
export function definePseudoLabel(def: {
  readonly name: string;
  readonly select: (input: PseudoLabelInput) => PseudoLabels;
  readonly version?: number;
  readonly params?: Readonly<Record<string, unknown>>;
}): PseudoLabelDef {
  const definedIn = callerModule();
  return {
    _tag: "pseudo-label",
    ...(definedIn ? { definedIn } : {}),
    name: def.name,
    version: def.version ?? 1,
    params: def.params ?? {},
    select: def.select,
  };
}

/** A built-in pseudo-labelling part: {@link definePseudoLabel}, remembering its YAML form. */
function builtinPseudoLabel(
  source: PartSource,
  def: Versioned<Parameters<typeof definePseudoLabel>[0]>,
): PseudoLabelDef {
  return builtFrom(source, definePseudoLabel(def));
}

/** Options of {@link ceal}. */
export interface CealOptions {
  /** δ0: the entropy threshold (nats) of round 0 (default 0.005, the paper's). */
  readonly delta?: number;
  /** dr: how much the threshold falls per round (default 0.00033, the paper's). */
  readonly decay?: number;
  /** At most this many pseudo-labels per round, the most confident first (default: no limit). */
  readonly limit?: number;
}

/**
 * CEAL's high-confidence pseudo-labelling (Wang, Zhang, Li, Zhang & Lin 2017,
 * "Cost-Effective Active Learning for Deep Image Classification", IEEE TCSVT).
 * A pool item whose predictive entropy is below δ_r = δ0 - dr·r gets the
 * predicted class as its label for the next round's training only. The
 * uncertain half of CEAL is the strategy's own score and rule (the paper uses
 * least confidence, margin or entropy with top-k).
 *
 * @param opts δ0, dr and an optional per-round limit
 * @returns the part
 */
export function ceal(opts: CealOptions = {}): PseudoLabelDef {
  const delta = opts.delta ?? 0.005;
  const decay = opts.decay ?? 0.00033;
  const limit = opts.limit ?? Infinity;
  return builtinPseudoLabel({ name: "ceal", ...opts }, {
    version: 1,
    name: "ceal",
    params: { delta, decay, ...(Number.isFinite(limit) ? { limit } : {}) },
    select: ({ candidates, meanProbs, acquired, round }) => {
      const threshold = delta - decay * round;
      const c = meanProbs.d;
      const sure: { index: number; label: number; entropy: number }[] = [];
      candidates.forEach((index, i) => {
        if (acquired.has(index)) return;
        let entropy = 0, label = 0, best = -1;
        for (let k = 0; k < c; k++) {
          const p = meanProbs.data[i * c + k] as number;
          if (p > 0) entropy -= p * Math.log(p);
          if (p > best) (best = p), (label = k);
        }
        if (entropy < threshold) sure.push({ index, label, entropy });
      });
      sure.sort((a, b) => a.entropy - b.entropy || a.index - b.index);
      const kept = sure.slice(0, Math.min(sure.length, limit));
      return { indices: kept.map((s) => s.index), labels: kept.map((s) => s.label) };
    },
  });
}

/** BALD (Houlsby et al. 2011): mutual information between prediction and weights. */
export const bald: ScoreDef = builtinScore("bald", { version: 1, name: "bald", fn: baldFn });
/** Entropy of the MC-averaged predictive distribution. */
export const maxEntropy: ScoreDef = builtinScore("max-entropy", { version: 1, name: "max-entropy", fn: maxEntropyFn });
/** Variation ratios (Freeman 1965): 1 - modal count / T. */
export const variationRatios: ScoreDef = builtinScore("variation-ratios", {
  version: 1,
  name: "variation-ratios",
  fn: variationRatiosFn,
});
/** Mean standard deviation of the class probabilities (Kampffmeyer et al. 2016). */
export const meanStd: ScoreDef = builtinScore("mean-std", { version: 1, name: "mean-std", fn: meanStdFn });
/** Least confidence: 1 - the largest MC-averaged class probability. */
export const leastConfidence: ScoreDef = builtinScore("least-confidence", {
  version: 1,
  name: "least-confidence",
  fn: leastConfidenceFn,
});
/** Margin, the "difference" uncertainty of `000_*.txt`: 1 - (p1 - p2) of the MC-averaged predictive. */
export const margin: ScoreDef = builtinScore("margin", { version: 1, name: "margin", fn: marginFn });
/** Uniform random scores: the baseline. */
export const random: ScoreDef = builtinScore("random", {
  version: 1,
  name: "random",
  fn: randomScore,
  usesPredictions: false,
});

/**
 * Top-u Bayesian entropy (the Bayesian-learning-rule talk, `000_*.txt`): the
 * entropy of how often each class appears among the u best classes of the T
 * samples. Its companion posterior there is a VOGN head ({@link vognHead}).
 *
 * @param u classes taken from each sample
 * @returns the score value
 */
export function topU(u: number): ScoreDef {
  // A bad u does not throw here: the codec rejects it with its path, as it does `{ name: top-u, u: 0 }`.
  const fn: ScoreFn = Number.isInteger(u) && u >= 1 ? topUEntropy(u) : () => {
    throw new RangeError(`top-u: u must be a positive integer, got ${u}`);
  };
  return builtinScore({ name: "top-u", u }, { version: 1, name: "top-u", params: { u }, fn });
}

/** How a multi-label score combines the uncertainties of an item's labels. */
const multiLabelAggregates: readonly MultiLabelAggregate[] = ["sum-per-tag", "mean", "max"];

function multiLabelPart(kind: MultiLabelScoreKind, aggregate: MultiLabelAggregate): ScoreDef {
  const name = `multilabel-${kind}`;
  // A bad aggregate does not throw here: the codec rejects it with its path, as it does in YAML.
  const fn: ScoreFn = multiLabelAggregates.includes(aggregate) ? multiLabelScoreFn(kind, aggregate) : () => {
    throw new RangeError(`${name}: aggregate must be one of ${multiLabelAggregates.join(", ")}, got ${aggregate}`);
  };
  return builtinScore({ name, aggregate }, { version: 1, name, params: { aggregate }, fn });
}

/**
 * Multi-label BALD (`pipeline/algorithms/multilabel.ts`): for sigmoid outputs (one
 * log-probability of "on" per label, e.g. Reuters topics), the binary BALD of
 * each label, combined by `aggregate`: "sum-per-tag" (the default) divides
 * the sum by the expected number of tags, meeting the talk's warning that
 * "the uncertainty depends on the number of tags"; "mean" and "max" are the
 * plain mean and maximum over labels. The text pack uses it for `bald` on
 * multi-label data.
 *
 * @param aggregate how the labels' uncertainties are combined
 * @returns the score value
 */
export function multiLabelBald(aggregate: MultiLabelAggregate = "sum-per-tag"): ScoreDef {
  return multiLabelPart("bald", aggregate);
}

/**
 * Multi-label entropy: the binary entropy of each label's MC-mean
 * probability, combined as in {@link multiLabelBald}. The text pack uses it
 * for `max-entropy` on multi-label data.
 *
 * @param aggregate how the labels' uncertainties are combined
 * @returns the score value
 */
export function multiLabelEntropy(aggregate: MultiLabelAggregate = "sum-per-tag"): ScoreDef {
  return multiLabelPart("entropy", aggregate);
}

/** Built-in scores by name (the names YAML files use). */
export const scoresByName: Readonly<Record<string, ScoreDef>> = {
  "bald": bald,
  "max-entropy": maxEntropy,
  "variation-ratios": variationRatios,
  "mean-std": meanStd,
  "least-confidence": leastConfidence,
  "margin": margin,
  "random": random,
  "multilabel-bald": multiLabelBald(),
  "multilabel-entropy": multiLabelEntropy(),
};

/**
 * Declares a strategy. Its name defaults to the score's name.
 *
 * @param parts the posterior, score and acquisition rule, and optionally a name
 * @returns the strategy value
 */
export function strategy(parts: {
  readonly name?: string;
  readonly posterior: PosteriorDef;
  readonly score: ScoreDef;
  readonly acquire: AcquireDef;
  readonly pseudoLabel?: PseudoLabelDef;
}): Strategy {
  return {
    _tag: "strategy",
    name: parts.name ?? parts.score.name,
    posterior: parts.posterior,
    score: parts.score,
    acquire: parts.acquire,
    ...(parts.pseudoLabel ? { pseudoLabel: parts.pseudoLabel } : {}),
  };
}

/**
 * A one-line description, e.g. `bald: mc-dropout(samples=20) -> bald -> top-k(size=10)`.
 *
 * @param s the strategy
 * @returns the description
 */
export function describeStrategy(s: Strategy): string {
  const part = (p: PartIdentity) => {
    const params = Object.entries(p.params).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ");
    return `${p.name}${params ? `(${params})` : ""}${p.version !== 1 ? ` v${p.version}` : ""}`;
  };
  return `${s.name}: ${part(s.posterior)} -> ${part(s.score)} -> ${part(s.acquire)}` +
    (s.pseudoLabel ? ` + ${part(s.pseudoLabel)}` : "");
}

// ---------------------------------------------------------------------------
// Codecs: a part is either a value built above (TypeScript files) or its name
// with params (YAML files); both decode to the same value.

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null;

const identityShape = t.type({ name: t.string, version: t.number, params: t.UnknownRecord });

/** A decoder whose result is mapped through `f` (io-ts's own `pipe` wants an encoder too). */
function mapDecoder<A, B>(d: t.Decoder<unknown, A>, f: (a: A) => B): t.Decoder<unknown, B> {
  return {
    name: d.name,
    validate: (u, c) => E.map(f)(d.validate(u, c)),
    decode: (u) => E.map(f)(d.decode(u)),
  };
}

/** The decoder of a built-in part's YAML form: its fields (any other is an error), then its constructor. */
function partDecoder<C extends t.Any, B>(shape: C, build: (a: t.TypeOf<C>) => B): t.Decoder<unknown, B> {
  return mapDecoder(strictFields(shape), build);
}

const builtinPosteriors: Record<string, t.Decoder<unknown, PosteriorDef>> = {
  "mc-dropout": partDecoder(
    t.intersection([
      t.type({ name: t.literal("mc-dropout"), samples: PositiveInt }),
      t.partial({ consistent: t.boolean }),
    ]),
    (u) => mcDropout({ samples: u.samples, ...(u.consistent ? { consistent: true } : {}) }),
  ),
  "bayes-by-backprop": partDecoder(
    t.intersection([
      t.type({ name: t.literal("bayes-by-backprop"), samples: PositiveInt }),
      t.partial({ consistent: t.boolean }),
    ]),
    (u) => bayesByBackprop({ samples: u.samples, ...(u.consistent ? { consistent: true } : {}) }),
  ),
  "deterministic": partDecoder(t.type({ name: t.literal("deterministic") }), () => deterministic()),
  "ensemble": partDecoder(
    t.type({ name: t.literal("ensemble"), members: PositiveInt }),
    (u) => deepEnsemble({ members: u.members }),
  ),
  "vogn-head": partDecoder(
    t.intersection([
      t.type({ name: t.literal("vogn-head"), samples: PositiveInt }),
      t.partial({
        priorPrecision: PositiveNumber,
        temperature: PositiveNumber,
        epochs: PositiveInt,
        learningRate: PositiveNumber,
        batchSize: PositiveInt,
        mcSamples: PositiveInt,
      }),
    ]),
    ({ name: _name, ...opts }) => vognHead(opts as VognHeadOptions),
  ),
  "vogn": partDecoder(
    t.intersection([
      t.type({ name: t.literal("vogn"), samples: PositiveInt }),
      t.partial({
        priorPrecision: PositiveNumber,
        temperature: PositiveNumber,
        epochs: PositiveInt,
        learningRate: PositiveNumber,
        batchSize: PositiveInt,
        mcSamples: PositiveInt,
        init: t.keyof({ scratch: null, net: null }),
      }),
    ]),
    ({ name: _name, ...opts }) => vogn(opts as VognOptions),
  ),
};

const MultiLabelAggregateCodec = t.keyof({ "sum-per-tag": null, "mean": null, "max": null });

const builtinScores: Record<string, t.Decoder<unknown, ScoreDef>> = {
  "top-u": partDecoder(t.type({ name: t.literal("top-u"), u: PositiveInt }), (v) => topU(v.u)),
  "multilabel-bald": partDecoder(
    t.intersection([
      t.type({ name: t.literal("multilabel-bald") }),
      t.partial({ aggregate: MultiLabelAggregateCodec }),
    ]),
    (v) => multiLabelBald(v.aggregate),
  ),
  "multilabel-entropy": partDecoder(
    t.intersection([
      t.type({ name: t.literal("multilabel-entropy") }),
      t.partial({ aggregate: MultiLabelAggregateCodec }),
    ]),
    (v) => multiLabelEntropy(v.aggregate),
  ),
};

const builtinAcquires: Record<string, t.Decoder<unknown, AcquireDef>> = {
  "top-k": partDecoder(t.type({ name: t.literal("top-k"), k: PositiveInt }), (u) => topK(u.k)),
  "batch-bald": partDecoder(
    t.intersection([
      t.type({ name: t.literal("batch-bald"), k: PositiveInt }),
      t.partial({ maxExactConfigs: PositiveInt, sampledConfigs: PositiveInt }),
    ]),
    ({ name: _n, k, ...opts }) => batchBald(k, opts),
  ),
  "power": partDecoder(
    t.intersection([t.type({ name: t.literal("power"), k: PositiveInt }), t.partial({ beta: PositiveNumber })]),
    (u) => powerTopK(u.k, u.beta ?? 1),
  ),
  "core-set": partDecoder(t.type({ name: t.literal("core-set"), k: PositiveInt }), (u) => coreSet(u.k)),
  "badge": partDecoder(t.type({ name: t.literal("badge"), k: PositiveInt }), (u) => badge(u.k)),
  "emoc": partDecoder(
    t.intersection([
      t.type({ name: t.literal("emoc"), k: PositiveInt }),
      t.partial({ reference: PositiveInt, output: t.keyof({ probs: null, logits: null }) }),
    ]),
    ({ name: _n, k, ...opts }) => emoc(k, opts),
  ),
  "discriminative": partDecoder(
    t.intersection([
      t.type({ name: t.literal("discriminative"), k: PositiveInt }),
      t.partial({
        subBatches: PositiveInt,
        hidden: t.array(PositiveInt),
        epochs: PositiveInt,
        learningRate: PositiveNumber,
      }),
    ]),
    ({ name: _n, k, ...opts }) => discriminative(k, opts),
  ),
  "learning-loss": partDecoder(
    t.intersection([
      t.type({ name: t.literal("learning-loss"), k: PositiveInt }),
      t.partial({ hidden: t.array(PositiveInt), epochs: PositiveInt, learningRate: PositiveNumber, margin: t.number }),
    ]),
    ({ name: _n, k, ...opts }) => learningLoss(k, opts),
  ),
  "suggestive": partDecoder(
    t.intersection([
      t.type({ name: t.literal("suggestive"), k: PositiveInt }),
      t.partial({ shortlist: PositiveInt }),
    ]),
    (u) => suggestive(u.k, u.shortlist ?? 2 * u.k),
  ),
};

/** Validates a value built with a define* function: its tag, identity and functions. */
function validateBuilt<A>(
  u: Record<string, unknown>,
  c: t.Context,
  functions: readonly string[],
): t.Validation<A> {
  const shape = identityShape.validate(u, c);
  if (E.isLeft(shape)) return shape;
  for (const f of functions) {
    if (f in u && u[f] !== undefined && typeof u[f] !== "function" && typeof u[f] !== "object") {
      return t.failure(u[f], [...c, { key: f, type: t.Function, actual: u[f] }], `expected a function`);
    }
  }
  return t.success(u as A);
}

function namedPart<A>(
  kind: string,
  tag: string,
  builtins: Record<string, t.Decoder<unknown, A>>,
  fromName: (name: string) => A | undefined,
  functions: readonly string[],
  knownNames: readonly string[] = Object.keys(builtins),
): t.Type<A, A, unknown> {
  const names = knownNames.join(", ");
  /** A part as YAML writes it: its name, or `{ name, ...params }`. */
  const fromYaml = (u: unknown, c: t.Context): t.Validation<A> => {
    if (typeof u === "string") {
      const byName = fromName(u);
      if (byName !== undefined) return t.success(byName);
      if (u in builtins) {
        return t.failure(u, c, `${kind} ${JSON.stringify(u)} takes parameters: write { name: ${u}, ... }`);
      }
      return t.failure(u, c, `unknown ${kind} ${JSON.stringify(u)} (known: ${names})`);
    }
    if (!isObject(u)) return t.failure(u, c, `expected a ${kind} name or object`);
    const name = u["name"];
    const decoder = typeof name === "string" ? builtins[name] : undefined;
    if (!decoder) {
      return t.failure(
        name,
        [...c, { key: "name", type: t.string, actual: name }],
        `unknown ${kind} ${JSON.stringify(name)} (known: ${names})`,
      );
    }
    return decoder.validate(u, c);
  };
  return new t.Type<A, A, unknown>(
    kind,
    (u): u is A => isObject(u) && u["_tag"] === tag,
    (u, c) => {
      if (!isObject(u) || u["_tag"] !== tag) return fromYaml(u, c);
      // A value built in TypeScript: its shape, and for a built-in part what it was built from, decoded as the
      // YAML form is, so both run the one check (`topK(0)` fails as `{ name: top-k, k: 0 }` does).
      const built = validateBuilt<A>(u, c, functions);
      const source = u["source"];
      // The path stays the part's; its last step now looks at the YAML form (as the YAML path does).
      const last = c[c.length - 1];
      const again = source === undefined
        ? undefined
        : fromYaml(source, last ? [...c.slice(0, -1), { ...last, actual: source }] : c);
      if (again === undefined || E.isRight(again)) return built;
      return E.left([...(E.isLeft(built) ? built.left : []), ...again.left]);
    },
    t.identity,
  );
}

/**
 * A posterior: a built value, `{ name: mc-dropout, samples: T }`,
 * `{ name: ensemble, members: N }` or `deterministic`.
 */
export const PosteriorCodec: t.Type<PosteriorDef, PosteriorDef, unknown> = namedPart(
  "posterior",
  "posterior",
  builtinPosteriors,
  (name) => (name === "deterministic" ? deterministic() : undefined),
  ["impl"],
);

/** A score: a built value, a built-in name (`bald`, `max-entropy`, ...) or `{ name: top-u, u: 2 }`. */
export const ScoreCodec: t.Type<ScoreDef, ScoreDef, unknown> = namedPart(
  "score",
  "score",
  builtinScores,
  (name) => scoresByName[name],
  ["fn"],
  [...new Set([...Object.keys(scoresByName), ...Object.keys(builtinScores)])],
);

/** An acquisition rule: a built value, or `{ name: top-k, k: 10 }`. */
export const AcquireCodec: t.Type<AcquireDef, AcquireDef, unknown> = namedPart(
  "acquire",
  "acquire",
  builtinAcquires,
  () => undefined,
  ["select"],
);

const builtinPseudoLabels: Record<string, t.Decoder<unknown, PseudoLabelDef>> = {
  "ceal": partDecoder(
    t.intersection([
      t.type({ name: t.literal("ceal") }),
      t.partial({ delta: PositiveNumber, decay: t.number, limit: PositiveInt }),
    ]),
    ({ name: _n, ...opts }) => ceal(opts),
  ),
};

/** A pseudo-labelling part: a built value, `ceal`, or `{ name: ceal, delta: 0.005, decay: 0.00033 }`. */
export const PseudoLabelCodec: t.Type<PseudoLabelDef, PseudoLabelDef, unknown> = namedPart(
  "pseudo-label",
  "pseudo-label",
  builtinPseudoLabels,
  (name) => (name === "ceal" ? ceal() : undefined),
  ["select"],
);

const strategyShape = strictFields(
  t.intersection([
    t.type({ posterior: PosteriorCodec, score: ScoreCodec, acquire: AcquireCodec }),
    t.partial({ name: t.string, pseudoLabel: PseudoLabelCodec }),
  ]),
  ["_tag"],
);

/** A strategy: a value from {@link strategy}, or the same fields in YAML. */
export const StrategyCodec: t.Type<Strategy, Strategy, unknown> = new t.Type<Strategy, Strategy, unknown>(
  "Strategy",
  (u): u is Strategy => isObject(u) && u["_tag"] === "strategy",
  (u, c) => E.map(strategy)(strategyShape.validate(u, c)),
  t.identity,
);

/**
 * The names of every built-in part, by role, as YAML knows them: the
 * registry that tests hold to its promises (a version, a YAML form, the
 * library as the implementing module).
 *
 * @returns the names of the built-in posteriors, scores, acquisition rules and pseudo-labelling parts
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { builtinPartNames } from "./strategy.ts";
 * assert(builtinPartNames().acquire.includes("top-k"));
 * ```
 */
export function builtinPartNames(): {
  readonly posterior: readonly string[];
  readonly score: readonly string[];
  readonly acquire: readonly string[];
  readonly pseudoLabel: readonly string[];
} {
  return {
    posterior: Object.keys(builtinPosteriors),
    score: [...new Set([...Object.keys(scoresByName), ...Object.keys(builtinScores)])],
    acquire: Object.keys(builtinAcquires),
    pseudoLabel: Object.keys(builtinPseudoLabels),
  };
}
