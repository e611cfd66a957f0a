/**
 * The built-in scores as tensor ops, so that a GPU backend computes them
 * where the log-probabilities are and reads back one number per item instead
 * of the whole `[n, T, C]` block (100 x 10 floats per item at T = 100).
 *
 * Each form computes what its JS twin in `pipeline/algorithms/scores.ts`
 * computes, in float32 instead of float64 (tested against them in
 * `device_scores_test.ts`). The score stage takes a tensor form only on a
 * backend for which {@link scoresOnDevice} is true; elsewhere the JS forms
 * run, as before. Since the forms change a GPU run's numbers, this module's
 * source joins that backend's kernel set (see `kernelSet` in
 * `pipeline/cli/execute.ts`), and with it the keys of its numeric stages.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  bald,
  leastConfidence,
  margin,
  maxEntropy,
  meanStd,
  type ScoreFn,
  variationRatios,
} from "../algorithms/scores.ts";
import { isGpuBackend } from "./device.ts";

/** A score as tensor ops: log-probabilities `[n, T, C]` to one score per item `[n]`. */
export type TensorScore = (logProbs: tf.Tensor3D) => tf.Tensor1D;

/** Version of the tensor forms below: bump it when one of them changes its numbers. */
export const DEVICE_SCORES_VERSION = 1;

/**
 * Stands in for log 0 = -Infinity in p log p, so that 0 * log 0 gives 0
 * instead of NaN (exp of it is 0 in float32, and it times 0 is 0).
 */
export const LOG_ZERO = -1e30;

/** p log p summed over the last axis, with 0 log 0 = 0, from log-probabilities. */
function sumPLogP(logp: tf.Tensor): tf.Tensor {
  return tf.sum(tf.mul(tf.exp(logp), tf.maximum(logp, LOG_ZERO)), -1);
}

/** The MC-averaged predictive `[n, C]`. */
function meanProbs(logProbs: tf.Tensor3D): tf.Tensor2D {
  return tf.mean(tf.exp(logProbs), 1) as tf.Tensor2D;
}

/** Entropy (nats) of each row of probabilities, with 0 log 0 = 0. */
function entropy(p: tf.Tensor2D): tf.Tensor1D {
  return tf.neg(tf.sum(tf.mul(p, tf.maximum(tf.log(p), LOG_ZERO)), -1)) as tf.Tensor1D;
}

const maxEntropyOnDevice: TensorScore = (lp) => entropy(meanProbs(lp));

const baldOnDevice: TensorScore = (lp) => {
  const expected = tf.neg(tf.mean(sumPLogP(lp), 1));
  return tf.relu(tf.sub(entropy(meanProbs(lp)), expected)) as tf.Tensor1D;
};

const variationRatiosOnDevice: TensorScore = (lp) => {
  const [, t, c] = lp.shape;
  // float32 one-hot rows made by OneHot itself: an int32 division would floor,
  // and on tfjs-backend-webgpu 4.22 a Sum over the middle axis of a Cast's
  // output comes back as zeros (seen on lavapipe; device_scores_test.ts).
  const votes = tf.sum(tf.oneHot(tf.argMax(lp, 2), c, 1, 0, "float32"), 1);
  return tf.sub(1, tf.div(tf.max(votes, 1), t)) as tf.Tensor1D;
};

const meanStdOnDevice: TensorScore = (lp) => {
  const p = tf.exp(lp);
  // Two passes (mean, then mean squared deviation): E[p^2] - E[p]^2 loses
  // everything to cancellation in float32 when the samples agree.
  const variance = tf.mean(tf.square(tf.sub(p, tf.mean(p, 1, true))), 1);
  return tf.mean(tf.sqrt(variance), 1) as tf.Tensor1D;
};

const leastConfidenceOnDevice: TensorScore = (lp) => tf.sub(1, tf.max(meanProbs(lp), 1)) as tf.Tensor1D;

const marginOnDevice: TensorScore = (lp) => {
  const p = meanProbs(lp);
  if ((p.shape[1] as number) < 2) return tf.sub(1, tf.squeeze(p, [1])) as tf.Tensor1D;
  const { values } = tf.topk(p, 2);
  const [first, second] = tf.unstack(values, 1) as [tf.Tensor1D, tf.Tensor1D];
  return tf.sub(1, tf.sub(first, second)) as tf.Tensor1D;
};

/** The tensor form of each built-in score, keyed by its JS function. */
const forms = new Map<ScoreFn, TensorScore>([
  [maxEntropy, maxEntropyOnDevice],
  [bald, baldOnDevice],
  [variationRatios, variationRatiosOnDevice],
  [meanStd, meanStdOnDevice],
  [leastConfidence, leastConfidenceOnDevice],
  [margin, marginOnDevice],
]);

/**
 * The tensor form of a score, or undefined when it has none (a user's score,
 * random).
 *
 * @param fn the score's JS function
 * @returns its tensor form
 */
export function tensorScoreOf(fn: ScoreFn): TensorScore | undefined {
  return forms.get(fn);
}

/**
 * Whether the score stage computes built-in scores as tensor ops on this
 * backend: on a GPU, where reading `[n, T, C]` back costs a transfer and a
 * sync per chunk. CPU backends keep the JS forms (and their float64 sums).
 *
 * @param backend the tfjs backend's name
 * @returns true for webgpu
 */
export function scoresOnDevice(backend: string): boolean {
  return isGpuBackend(backend);
}
