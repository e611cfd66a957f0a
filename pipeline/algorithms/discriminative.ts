/**
 * Discriminative Active Learning (Gissin & Shalev-Shwartz 2019,
 * "Discriminative Active Learning", arXiv:1907.06347).
 *
 * The idea: a labelled set that represents the pool well cannot be told apart
 * from it. So train a binary classifier on embeddings to separate the labelled
 * items (class L) from the pool (class U), and label the pool items it is most
 * sure are unlike anything labelled, i.e. those with the largest P(U | x).
 * A batch is filled in a few mini-queries: after each one the picks join the
 * labelled side and a fresh classifier is trained, so that the next picks
 * come from what is still unrepresented rather than piling into one region.
 *
 * Our classifier is a small ReLU MLP (the paper uses three hidden layers of
 * 256 units) trained with Adam on shuffled minibatches for a fixed number of
 * epochs. The pool is usually much bigger than the labelled set, so each class
 * gets the same total weight in the loss. Features are standardised (mean and
 * standard deviation per column over labelled ∪ pool) first.
 *
 * Weights are initialised and minibatches shuffled from the caller's `rand`,
 * so a seed fixes the result on a given backend. Every tensor made here is
 * disposed before returning.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import "@tensorflow/tfjs-backend-cpu"; // the caller chooses the backend
 * import { discriminativeSelect } from "./discriminative.ts";
 * import { makeRng } from "../tensor/rng.ts";
 * // 1-D: labelled items at 0 and 0.1, pool items at 0, 0.1, 5 and 6; the far ones are picked.
 * const picks = discriminativeSelect(new Float32Array([0, 0.1]), 2, new Float32Array([0, 0.1, 5, 6]), 4, 1, 2, {
 *   rand: makeRng(1).next,
 *   hidden: [16],
 *   epochs: 50,
 *   learningRate: 0.05,
 * });
 * assert([...picks].sort().join() === "2,3");
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
// For its side effect only: tfjs-layers' node bundle registers the gradients of tfjs-core's ops (tfjs-core's
// own registration module does not load under Deno). No backend is chosen here; the caller sets one.
import "@tensorflow/tfjs-layers";
import { checkMatrix } from "./checks.ts";
import { initMlp, mlpForward, shuffleInPlace } from "./mlp.ts";

/** Options of {@link discriminativeScores}: how the L-versus-U classifier is built and trained. */
export interface DiscriminatorOptions {
  /** Seeded uniform numbers in [0, 1), for weight initialisation and minibatch shuffles. */
  readonly rand: () => number;
  /** Widths of the hidden ReLU layers (default [256, 256, 256], as in the paper; [] is logistic regression). */
  readonly hidden?: readonly number[];
  /** Passes over labelled ∪ pool per classifier (default 10). */
  readonly epochs?: number;
  /** Rows per Adam step (default 64). */
  readonly batchSize?: number;
  /** Adam step size (default 0.001). */
  readonly learningRate?: number;
  /** L2 penalty (λ/2)·Σ w² on the weight matrices, not the biases (default 0). */
  readonly l2?: number;
}

/** Options of {@link discriminativeSelect}. */
export interface DiscriminativeOptions extends DiscriminatorOptions {
  /**
   * Mini-queries the batch is split into, each with a freshly trained
   * classifier (default 10, capped at the batch size).
   */
  readonly subBatches?: number;
  /** Receives a warning when the pool is smaller than the batch (default `console.warn`). */
  readonly warn?: (message: string) => void;
}

const _DEFAULT_HIDDEN: readonly number[] = [256, 256, 256];
const _DEFAULT_EPOCHS = 10;
const _DEFAULT_BATCH = 64;
const _DEFAULT_LR = 1e-3;
const _DEFAULT_SUB_BATCHES = 10;
/** Rows scored per forward pass. */
const _SCORE_CHUNK = 4096;

interface _Settings {
  readonly rand: () => number;
  readonly hidden: readonly number[];
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly l2: number;
}

function _settings(fn: string, opts: DiscriminatorOptions): _Settings {
  const hidden = opts.hidden ?? _DEFAULT_HIDDEN;
  for (const h of hidden) {
    if (!Number.isInteger(h) || h < 1) throw new RangeError(`${fn}: hidden widths must be integers >= 1, got ${h}`);
  }
  const epochs = opts.epochs ?? _DEFAULT_EPOCHS;
  if (!Number.isInteger(epochs) || epochs < 1) throw new RangeError(`${fn}: epochs must be an integer >= 1`);
  const batchSize = opts.batchSize ?? _DEFAULT_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`${fn}: batchSize must be an integer >= 1`);
  const learningRate = opts.learningRate ?? _DEFAULT_LR;
  if (!(learningRate > 0) || !Number.isFinite(learningRate)) {
    throw new RangeError(`${fn}: learningRate must be a positive number, got ${learningRate}`);
  }
  const l2 = opts.l2 ?? 0;
  if (!(l2 >= 0) || !Number.isFinite(l2)) throw new RangeError(`${fn}: l2 must be a number >= 0, got ${l2}`);
  return { rand: opts.rand, hidden, epochs, batchSize, learningRate, l2 };
}

/**
 * Stacks labelled rows then pool rows and standardises every column over all
 * of them (population standard deviation; constant columns are only centred).
 */
function _standardised(labelled: Float32Array, l: number, pool: Float32Array, n: number, d: number): Float32Array {
  const rows = l + n;
  const x = new Float32Array(rows * d);
  x.set(labelled, 0);
  x.set(pool, l * d);
  for (let j = 0; j < d; j++) {
    let mean = 0;
    for (let i = 0; i < rows; i++) mean += x[i * d + j] as number;
    mean /= rows;
    let variance = 0;
    for (let i = 0; i < rows; i++) variance += ((x[i * d + j] as number) - mean) ** 2;
    const std = Math.sqrt(variance / rows);
    const scale = std > 0 ? 1 / std : 1;
    for (let i = 0; i < rows; i++) x[i * d + j] = ((x[i * d + j] as number) - mean) * scale;
  }
  return x;
}

/**
 * Trains a fresh classifier on the standardised rows `x` (rows L ∪ U, with
 * `isU[i]` = 1 for class U) and returns its logits for the rows `scoreRows`.
 * The class-weighted objective is (1/B)·Σ_batch w_i·BCE_i + (λ/2)·Σ W², with
 * w = rows / (2·|L|) on class L and rows / (2·|U|) on class U, so that both
 * classes carry equal total weight and the mean weight is 1.
 */
function _trainAndScore(
  x: Float32Array,
  rows: number,
  d: number,
  isU: Uint8Array,
  scoreRows: readonly number[],
  s: _Settings,
): Float64Array {
  let countU = 0;
  for (let i = 0; i < rows; i++) countU += isU[i] as number;
  const countL = rows - countU;
  const y = new Float32Array(rows), weight = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    y[i] = isU[i] as number;
    weight[i] = isU[i] ? rows / (2 * countU) : rows / (2 * countL);
  }
  const layers = initMlp(d, s.hidden, s.rand);
  const vars = layers.flatMap((layer) => [layer.w, layer.b]);
  const xAll = tf.tensor2d(x, [rows, d]);
  const yAll = tf.tensor1d(y), wAll = tf.tensor1d(weight);
  const optimizer = tf.train.adam(s.learningRate);
  try {
    const order = new Int32Array(rows);
    for (let i = 0; i < rows; i++) order[i] = i;
    for (let epoch = 0; epoch < s.epochs; epoch++) {
      shuffleInPlace(order, s.rand);
      for (let start = 0; start < rows; start += s.batchSize) {
        const batch = order.slice(start, Math.min(rows, start + s.batchSize));
        tf.tidy(() => {
          const idx = tf.tensor1d(batch, "int32");
          const xb = tf.gather(xAll, idx) as tf.Tensor2D;
          const yb = tf.gather(yAll, idx), wb = tf.gather(wAll, idx);
          optimizer.minimize(
            () => {
              const z = mlpForward(layers, xb);
              // BCE from logits: softplus(z) - y·z = -log σ(z) for U, -log(1 - σ(z)) for L.
              const bce = tf.sub(tf.softplus(z), tf.mul(yb, z));
              let loss: tf.Scalar = tf.mean(tf.mul(wb, bce));
              if (s.l2 > 0) {
                for (const layer of layers) loss = tf.add(loss, tf.mul(s.l2 / 2, tf.sum(tf.square(layer.w))));
              }
              return loss;
            },
            false,
            vars,
          );
        });
      }
    }
    const out = new Float64Array(scoreRows.length);
    for (let start = 0; start < scoreRows.length; start += _SCORE_CHUNK) {
      const chunk = scoreRows.slice(start, start + _SCORE_CHUNK);
      const logits = tf.tidy(() => mlpForward(layers, tf.gather(xAll, tf.tensor1d(chunk, "int32")) as tf.Tensor2D));
      out.set(logits.dataSync(), start);
      logits.dispose();
    }
    return out;
  } finally {
    optimizer.dispose();
    for (const v of vars) v.dispose();
    xAll.dispose();
    yAll.dispose();
    wAll.dispose();
  }
}

function _checkCommon(fn: string, labelled: Float32Array, l: number, pool: Float32Array, n: number, d: number): void {
  checkMatrix(fn, "labelled embeddings", labelled, l, d);
  checkMatrix(fn, "pool embeddings", pool, n, d);
  if (l < 1) throw new RangeError(`${fn}: needs at least one labelled item to tell the pool from`);
}

/**
 * Trains one labelled-versus-pool classifier and returns P(U | x) for every
 * pool item: the classifier's confidence that the item is not like the
 * labelled set (one mini-query's scores in
 * {@link discriminativeSelect}).
 *
 * @param labelled_L_D embeddings of the labelled items, row-major [l, d]
 * @param l number of labelled items (at least 1)
 * @param pool_N_D embeddings of the pool candidates, row-major [n, d]
 * @param n number of pool candidates (at least 1)
 * @param d embedding width
 * @param opts classifier settings and the seeded `rand`
 * @returns P(U | x) per pool row, in [0, 1]
 * @throws RangeError on a bad shape, a non-finite value, l = 0, n = 0 or a bad option
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import "@tensorflow/tfjs-backend-cpu"; // the caller chooses the backend
 * import { discriminativeScores } from "./discriminative.ts";
 * import { makeRng } from "../tensor/rng.ts";
 * // Logistic regression: the pool item at 5 looks far less like the labelled ones than the one at 0.
 * const p = discriminativeScores(new Float32Array([0, 0.1]), 2, new Float32Array([0, 5]), 2, 1, {
 *   rand: makeRng(3).next,
 *   hidden: [],
 *   epochs: 50,
 *   learningRate: 0.05,
 * });
 * assert((p[1] as number) > (p[0] as number));
 * ```
 */
export function discriminativeScores(
  labelled_L_D: Float32Array,
  l: number,
  pool_N_D: Float32Array,
  n: number,
  d: number,
  opts: DiscriminatorOptions,
): Float64Array {
  const fn = "discriminativeScores";
  _checkCommon(fn, labelled_L_D, l, pool_N_D, n, d);
  if (n < 1) throw new RangeError(`${fn}: needs at least one pool item`);
  const s = _settings(fn, opts);
  const rows = l + n;
  const isU = new Uint8Array(rows).fill(1, l);
  const poolRows = Array.from({ length: n }, (_, i) => l + i);
  const logits = _trainAndScore(_standardised(labelled_L_D, l, pool_N_D, n, d), rows, d, isU, poolRows, s);
  // σ in float64, so that large logits do not all round to exactly 1.
  return logits.map((z) => 1 / (1 + Math.exp(-z)));
}

/**
 * Discriminative Active Learning: picks b pool items in `subBatches`
 * mini-queries. Each mini-query trains a fresh labelled-versus-pool
 * classifier, takes the remaining pool items with the largest P(U | x), and
 * moves them to the labelled side before the next one. Mini-query k (from 0)
 * takes ⌊b / s⌋ items, plus one while k < b mod s.
 *
 * @param labelled_L_D embeddings of the labelled items, row-major [l, d]
 * @param l number of labelled items (at least 1)
 * @param pool_N_D embeddings of the pool candidates, row-major [n, d]
 * @param n number of pool candidates
 * @param d embedding width
 * @param b how many pool items to pick
 * @param opts classifier settings, `subBatches`, `warn` and the seeded `rand`
 * @returns positions into the pool, first pick first, each at most once (within a
 *   mini-query, higher P(U | x) first, ties to the lower position); when n <= b all
 *   n positions in order, without training, and a warning if n < b
 * @throws RangeError on a bad shape, a non-finite value, l = 0, or a bad batch size or option
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import "@tensorflow/tfjs-backend-cpu"; // the caller chooses the backend
 * import { discriminativeSelect } from "./discriminative.ts";
 * import { makeRng } from "../tensor/rng.ts";
 * // Pool items 2 and 3 lie far from every labelled item; two mini-queries of one pick each.
 * const picks = discriminativeSelect(new Float32Array([0, 0.1]), 2, new Float32Array([0, 0.1, 5, 6]), 4, 1, 2, {
 *   rand: makeRng(1).next,
 *   subBatches: 2,
 *   hidden: [16],
 *   epochs: 50,
 *   learningRate: 0.05,
 * });
 * assert([...picks].sort().join() === "2,3");
 * ```
 */
export function discriminativeSelect(
  labelled_L_D: Float32Array,
  l: number,
  pool_N_D: Float32Array,
  n: number,
  d: number,
  b: number,
  opts: DiscriminativeOptions,
): number[] {
  const fn = "discriminativeSelect";
  _checkCommon(fn, labelled_L_D, l, pool_N_D, n, d);
  if (!Number.isInteger(b) || b < 0) throw new RangeError(`${fn}: batch size must be an integer >= 0, got ${b}`);
  const subBatches = opts.subBatches ?? _DEFAULT_SUB_BATCHES;
  if (!Number.isInteger(subBatches) || subBatches < 1) {
    throw new RangeError(`${fn}: subBatches must be an integer >= 1, got ${subBatches}`);
  }
  const s = _settings(fn, opts);
  if (n <= b) {
    if (n < b) {
      (opts.warn ?? console.warn)(`${fn}: pool holds ${n} candidates, fewer than the batch of ${b}: taking all`);
    }
    return Array.from({ length: n }, (_, i) => i);
  }
  if (b === 0) return [];
  const x = _standardised(labelled_L_D, l, pool_N_D, n, d);
  const rows = l + n;
  const isU = new Uint8Array(rows).fill(1, l);
  const rounds = Math.min(subBatches, b);
  const picked: number[] = [];
  for (let k = 0; k < rounds; k++) {
    const take = Math.floor(b / rounds) + (k < b % rounds ? 1 : 0);
    const candidates: number[] = [];
    for (let i = l; i < rows; i++) if (isU[i]) candidates.push(i);
    const logits = _trainAndScore(x, rows, d, isU, candidates, s);
    // Rank by logit, which orders like P(U | x) without saturating; NaN ranks last.
    const key = (i: number) => Number.isNaN(logits[i] as number) ? -Infinity : logits[i] as number;
    const order = Array.from({ length: candidates.length }, (_, i) => i);
    order.sort((p, q) => key(q) - key(p) || p - q);
    for (const pos of order.slice(0, take)) {
      const row = candidates[pos] as number;
      isU[row] = 0;
      picked.push(row - l);
    }
  }
  return picked;
}
