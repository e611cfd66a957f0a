/**
 * Learning Loss for Active Learning (Yoo & Kweon 2019, CVPR): a small
 * "loss prediction" head guesses how large the target model's loss would be
 * on each pool item, and the items with the largest predicted loss are
 * labelled.
 *
 * The paper trains the head jointly with the target model on its
 * intermediate features. Ours is the post-hoc ("detached") variant: after the
 * target model is trained, the head (features → hidden ReLU layers → one
 * number) is fitted on the labelled items alone, with their penultimate
 * embeddings as inputs and the model's per-item losses ({@link perItemNll})
 * as targets. The objective is the paper's pairwise ranking loss
 * ({@link marginRankingLoss}), so the head learns the order of the losses, not
 * their values: its outputs are scores on an arbitrary scale, and only their
 * ranking is meaningful.
 *
 * Weights are initialised and minibatches shuffled from the caller's `rand`,
 * so a seed fixes the result on a given backend. Every tensor made here is
 * disposed before returning, except those of a {@link LossPredictor}, which
 * its `dispose` frees.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { marginRankingLoss } from "./learning_loss.ts";
 * // One pair: the true losses say item 0 > item 1, the predictions agree by 0.25 < margin 1.
 * assert(marginRankingLoss([0.5, 0.25], [2, 1]) === 0.75);
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
// For its side effect only: tfjs-layers' node bundle registers the gradients of tfjs-core's ops (tfjs-core's
// own registration module does not load under Deno). No backend is chosen here; the caller sets one.
import "@tensorflow/tfjs-layers";
import { topK } from "./acquire.ts";
import type { LogProbs } from "./scores.ts";
import { checkMatrix } from "./checks.ts";
import { initMlp, mlpForward, shuffleInPlace } from "./mlp.ts";

/** Options of {@link fitLossPredictor}. */
export interface LossPredictorOptions {
  /** Seeded uniform numbers in [0, 1), for weight initialisation and minibatch shuffles. */
  readonly rand: () => number;
  /** Widths of the hidden ReLU layers (default [128]). */
  readonly hidden?: readonly number[];
  /** Passes over the labelled items (default 50). */
  readonly epochs?: number;
  /** Items per Adam step, split into ⌊batchSize / 2⌋ pairs (default 64, at least 2). */
  readonly batchSize?: number;
  /** Adam step size (default 0.001). */
  readonly learningRate?: number;
  /** The ranking margin ξ (default 1, as in the paper). */
  readonly margin?: number;
}

/** Options of {@link learningLossSelect}. */
export interface LearningLossOptions extends LossPredictorOptions {
  /** Receives a warning when the pool is smaller than the batch (default `console.warn`). */
  readonly warn?: (message: string) => void;
}

/** A fitted loss-prediction head. Holds tensors: call `dispose` when done. */
export interface LossPredictor {
  /** Feature width the head was fitted on. */
  readonly d: number;
  /**
   * Predicted-loss scores, one per row (higher: larger expected loss).
   *
   * @param features_M_D features, row-major [m, d]
   * @param m number of rows
   * @returns one score per row
   */
  predict(features_M_D: Float32Array, m: number): Float64Array;
  /** Frees the head's tensors; `predict` throws afterwards. */
  dispose(): void;
}

const _DEFAULT_HIDDEN: readonly number[] = [128];
const _DEFAULT_EPOCHS = 50;
const _DEFAULT_BATCH = 64;
const _DEFAULT_LR = 1e-3;
const _DEFAULT_MARGIN = 1;
/** Rows scored per forward pass. */
const _PREDICT_CHUNK = 4096;

function _checkMargin(fn: string, margin: number): void {
  if (!(margin >= 0) || !Number.isFinite(margin)) throw new RangeError(`${fn}: margin must be >= 0, got ${margin}`);
}

/** sign(v) with sign(0) = 0. */
function _sign(v: number): number {
  return v > 0 ? 1 : v < 0 ? -1 : 0;
}

/**
 * The pairwise ranking loss of Learning Loss (Yoo & Kweon 2019, eq. 2),
 * plain JS. Items are paired in order, (0, 1), (2, 3), ...; an odd last item
 * is left out. For a pair (i, j) with true losses l and predictions l̂:
 *
 *   L = max(0, -sign(l_i - l_j) · (l̂_i - l̂_j) + ξ),
 *
 * which is 0 once the prediction orders the pair like the truth by at least
 * the margin ξ. A tie in the truth (sign 0) costs ξ whatever the prediction.
 * The result is the mean over pairs.
 *
 * @param pred predicted losses l̂, one per item
 * @param target true losses l, one per item
 * @param margin the margin ξ (default 1)
 * @returns the mean pair loss
 * @throws RangeError when the lengths differ, there are fewer than 2 items, or the margin is negative
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { marginRankingLoss } from "./learning_loss.ts";
 * // Truth says item 0 > item 1, and the prediction agrees by 3 > 1: no loss.
 * assert(marginRankingLoss([4, 1], [0.9, 0.1]) === 0);
 * ```
 */
export function marginRankingLoss(pred: ArrayLike<number>, target: ArrayLike<number>, margin = 1): number {
  const fn = "marginRankingLoss";
  if (pred.length !== target.length) {
    throw new RangeError(`${fn}: ${pred.length} predictions but ${target.length} targets`);
  }
  if (pred.length < 2) throw new RangeError(`${fn}: needs at least 2 items to form a pair, got ${pred.length}`);
  _checkMargin(fn, margin);
  const pairs = Math.floor(pred.length / 2);
  let total = 0;
  for (let k = 0; k < pairs; k++) {
    const i = 2 * k, j = i + 1;
    const s = _sign((target[i] as number) - (target[j] as number));
    total += Math.max(0, -s * ((pred[i] as number) - (pred[j] as number)) + margin);
  }
  return total / pairs;
}

/**
 * The same ranking loss as {@link marginRankingLoss} on tensors, as the
 * training objective: differentiable in `pred` (the target only enters
 * through its signs). The caller disposes the result (or runs this inside
 * a tidy).
 *
 * @param pred predicted losses, shape [B]
 * @param target true losses, shape [B]
 * @param margin the margin ξ (default 1)
 * @returns the mean pair loss, a scalar
 * @throws RangeError when the shapes differ, B < 2, or the margin is negative
 */
export function marginRankingLossTensor(pred: tf.Tensor1D, target: tf.Tensor1D, margin = 1): tf.Scalar {
  const fn = "marginRankingLossTensor";
  const size = pred.shape[0], targetSize = target.shape[0];
  if (size !== targetSize) throw new RangeError(`${fn}: ${size} predictions but ${targetSize} targets`);
  if (size < 2) throw new RangeError(`${fn}: needs at least 2 items to form a pair, got ${size}`);
  _checkMargin(fn, margin);
  const pairs = Math.floor(size / 2);
  return tf.tidy(() => {
    // Row k of the [pairs, 2] views holds items 2k and 2k + 1.
    const p = tf.reshape(tf.slice(pred, [0], [2 * pairs]), [pairs, 2]);
    const t = tf.reshape(tf.slice(target, [0], [2 * pairs]), [pairs, 2]);
    const dp = tf.reshape(tf.sub(tf.slice(p, [0, 0], [pairs, 1]), tf.slice(p, [0, 1], [pairs, 1])), [pairs]);
    const st = tf.reshape(tf.sign(tf.sub(tf.slice(t, [0, 0], [pairs, 1]), tf.slice(t, [0, 1], [pairs, 1]))), [pairs]);
    return tf.mean(tf.relu(tf.add(tf.neg(tf.mul(st, dp)), margin)));
  });
}

/**
 * Each item's loss under the MC-averaged predictive distribution: the
 * negative log of the mean over the T samples of the probability of its
 * label, -log((1/T) Σ_t p_t(y_i)), computed in log space as
 * -(logsumexp_t log p_t(y_i) - log T). Probabilities of exactly 0 elsewhere
 * (other classes, or some samples) are harmless; the loss is +Infinity only
 * when every sample gives the label probability 0.
 *
 * @param logProbs log-probabilities, row-major [N, T, C]
 * @param labels the true class of each item, N integers in [0, C)
 * @returns N losses in nats
 * @throws RangeError when the labels do not fit the log-probabilities
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { perItemNll } from "./learning_loss.ts";
 * // One item, two samples giving its label probabilities 0.5 and 0.1: -log 0.3.
 * const lp = { data: new Float32Array([0.5, 0.5, 0.1, 0.9].map(Math.log)), n: 1, t: 2, c: 2 };
 * const nll = perItemNll(lp, new Int32Array([0]));
 * assert(Math.abs((nll[0] as number) + Math.log(0.3)) < 1e-6);
 * ```
 */
export function perItemNll(logProbs: LogProbs, labels: Int32Array): Float64Array {
  const fn = "perItemNll";
  const { data, n, t, c } = logProbs;
  if (data.length !== n * t * c) {
    throw new RangeError(`${fn}: log-probabilities hold ${data.length} values, not ${n * t * c}`);
  }
  if (labels.length !== n) throw new RangeError(`${fn}: ${labels.length} labels for ${n} items`);
  if (t < 1) throw new RangeError(`${fn}: needs at least one sample, got T = ${t}`);
  const logT = Math.log(t);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const y = labels[i] as number;
    if (y < 0 || y >= c) throw new RangeError(`${fn}: label ${y} of item ${i} is not a class in [0, ${c})`);
    const base = i * t * c + y;
    let max = -Infinity;
    for (let s = 0; s < t; s++) max = Math.max(max, data[base + s * c] as number);
    if (max === -Infinity) {
      out[i] = Infinity;
      continue;
    }
    let sum = 0;
    for (let s = 0; s < t; s++) sum += Math.exp((data[base + s * c] as number) - max);
    out[i] = -(max + Math.log(sum) - logT);
  }
  return out;
}

/**
 * Fits a loss-prediction head on labelled items: features (standardised per
 * column with the training items' mean and standard deviation) → hidden ReLU
 * layers → one score, trained with Adam on {@link marginRankingLossTensor}
 * over shuffled minibatches, each split into consecutive pairs (a final
 * minibatch of one item is skipped).
 *
 * @param features_N_D penultimate embeddings of the labelled items, row-major [n, d]
 * @param n number of labelled items (at least 2)
 * @param d feature width
 * @param losses the target model's loss on each labelled item (finite), e.g. from {@link perItemNll}
 * @param opts head settings and the seeded `rand`
 * @returns the fitted head; dispose it when done
 * @throws RangeError on a bad shape, a non-finite value, n < 2, or a bad option
 */
export function fitLossPredictor(
  features_N_D: Float32Array,
  n: number,
  d: number,
  losses: ArrayLike<number>,
  opts: LossPredictorOptions,
): LossPredictor {
  const fn = "fitLossPredictor";
  checkMatrix(fn, "features", features_N_D, n, d);
  if (n < 2) throw new RangeError(`${fn}: needs at least 2 labelled items to rank, got ${n}`);
  if (losses.length !== n) throw new RangeError(`${fn}: ${losses.length} losses for ${n} items`);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(losses[i] as number)) throw new RangeError(`${fn}: loss of item ${i} is ${losses[i]}`);
  }
  const hidden = opts.hidden ?? _DEFAULT_HIDDEN;
  for (const h of hidden) {
    if (!Number.isInteger(h) || h < 1) throw new RangeError(`${fn}: hidden widths must be integers >= 1, got ${h}`);
  }
  const epochs = opts.epochs ?? _DEFAULT_EPOCHS;
  if (!Number.isInteger(epochs) || epochs < 1) throw new RangeError(`${fn}: epochs must be an integer >= 1`);
  const batchSize = opts.batchSize ?? _DEFAULT_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 2) throw new RangeError(`${fn}: batchSize must be an integer >= 2`);
  const learningRate = opts.learningRate ?? _DEFAULT_LR;
  if (!(learningRate > 0) || !Number.isFinite(learningRate)) {
    throw new RangeError(`${fn}: learningRate must be a positive number, got ${learningRate}`);
  }
  const margin = opts.margin ?? _DEFAULT_MARGIN;
  _checkMargin(fn, margin);

  // Column statistics of the training features, reused for every prediction.
  const mean = new Float64Array(d), scale = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += features_N_D[i * d + j] as number;
    m /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += ((features_N_D[i * d + j] as number) - m) ** 2;
    const std = Math.sqrt(v / n);
    mean[j] = m;
    scale[j] = std > 0 ? 1 / std : 1;
  }
  const standardise = (x: Float32Array, rows: number): Float32Array => {
    const out = new Float32Array(rows * d);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < d; j++) {
        out[i * d + j] = ((x[i * d + j] as number) - (mean[j] as number)) * (scale[j] as number);
      }
    }
    return out;
  };

  const layers = initMlp(d, hidden, opts.rand);
  const vars = layers.flatMap((layer) => [layer.w, layer.b]);
  const xAll = tf.tensor2d(standardise(features_N_D, n), [n, d]);
  const yAll = tf.tensor1d(Float32Array.from(losses));
  const optimizer = tf.train.adam(learningRate);
  try {
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    for (let epoch = 0; epoch < epochs; epoch++) {
      shuffleInPlace(order, opts.rand);
      for (let start = 0; start + 2 <= n; start += batchSize) {
        const batch = order.slice(start, Math.min(n, start + batchSize));
        tf.tidy(() => {
          const idx = tf.tensor1d(batch, "int32");
          const xb = tf.gather(xAll, idx) as tf.Tensor2D;
          const yb = tf.gather(yAll, idx) as tf.Tensor1D;
          optimizer.minimize(() => marginRankingLossTensor(mlpForward(layers, xb), yb, margin), false, vars);
        });
      }
    }
  } catch (e) {
    for (const v of vars) v.dispose();
    throw e;
  } finally {
    optimizer.dispose();
    xAll.dispose();
    yAll.dispose();
  }

  let disposed = false;
  return {
    d,
    predict(features_M_D: Float32Array, m: number): Float64Array {
      const pfn = "LossPredictor.predict";
      if (disposed) throw new Error(`${pfn}: the predictor has been disposed`);
      checkMatrix(pfn, "features", features_M_D, m, d);
      const x = standardise(features_M_D, m);
      const out = new Float64Array(m);
      for (let start = 0; start < m; start += _PREDICT_CHUNK) {
        const rows = Math.min(_PREDICT_CHUNK, m - start);
        const scores = tf.tidy(() =>
          mlpForward(layers, tf.tensor2d(x.subarray(start * d, (start + rows) * d), [rows, d]))
        );
        out.set(scores.dataSync(), start);
        scores.dispose();
      }
      return out;
    },
    dispose(): void {
      if (disposed) return;
      disposed = true;
      for (const v of vars) v.dispose();
    },
  };
}

/**
 * Fits a loss-prediction head on the labelled items ({@link fitLossPredictor}),
 * scores every pool item with it, and frees the head.
 *
 * @param labelled_L_D penultimate embeddings of the labelled items, row-major [l, d]
 * @param l number of labelled items (at least 2)
 * @param losses the target model's loss on each labelled item
 * @param pool_N_D penultimate embeddings of the pool candidates, row-major [n, d]
 * @param n number of pool candidates
 * @param d feature width
 * @param opts head settings and the seeded `rand`
 * @returns one predicted-loss score per pool item (arbitrary scale; higher: larger loss)
 * @throws RangeError as {@link fitLossPredictor} does, or on a bad pool shape
 */
export function predictLosses(
  labelled_L_D: Float32Array,
  l: number,
  losses: ArrayLike<number>,
  pool_N_D: Float32Array,
  n: number,
  d: number,
  opts: LossPredictorOptions,
): Float64Array {
  checkMatrix("predictLosses", "pool features", pool_N_D, n, d);
  const head = fitLossPredictor(labelled_L_D, l, d, losses, opts);
  try {
    return head.predict(pool_N_D, n);
  } finally {
    head.dispose();
  }
}

/**
 * The Learning Loss acquisition: the b pool items with the largest predicted
 * loss ({@link predictLosses}), largest first, ties to the lower position.
 *
 * @param labelled_L_D penultimate embeddings of the labelled items, row-major [l, d]
 * @param l number of labelled items (at least 2)
 * @param losses the target model's loss on each labelled item
 * @param pool_N_D penultimate embeddings of the pool candidates, row-major [n, d]
 * @param n number of pool candidates
 * @param d feature width
 * @param b how many pool items to pick
 * @param opts head settings, `warn` and the seeded `rand`
 * @returns positions into the pool, first pick first, each at most once; all n
 *   (without training) and a warning when n < b
 * @throws RangeError as {@link predictLosses} does, or on a bad batch size
 */
export function learningLossSelect(
  labelled_L_D: Float32Array,
  l: number,
  losses: ArrayLike<number>,
  pool_N_D: Float32Array,
  n: number,
  d: number,
  b: number,
  opts: LearningLossOptions,
): number[] {
  const fn = "learningLossSelect";
  if (!Number.isInteger(b) || b < 0) throw new RangeError(`${fn}: batch size must be an integer >= 0, got ${b}`);
  checkMatrix(fn, "pool features", pool_N_D, n, d);
  const warn = opts.warn ?? console.warn;
  if (n <= b) {
    if (n < b) warn(`${fn}: pool holds ${n} candidates, fewer than the batch of ${b}: taking all`);
    return Array.from({ length: n }, (_, i) => i);
  }
  if (b === 0) return [];
  const scores = predictLosses(labelled_L_D, l, losses, pool_N_D, n, d, opts);
  return topK(fn, Array.from({ length: n }, (_, i) => i), scores, b, warn).indices;
}
