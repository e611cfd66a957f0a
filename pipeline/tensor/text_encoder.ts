/**
 * A text encoder trained from scratch: lower-case word tokens, hashed
 * unigram and bigram features ("the hashing trick", Weinberger et al. 2009)
 * in B buckets, an embedding bag (the mean of the buckets' embeddings, as in
 * fastText: Joulin et al. 2017, "Bag of Tricks for Efficient Text
 * Classification"), one dense ReLU hidden layer, and an output layer: a
 * softmax for single-label data (TREC) or one sigmoid per label trained with
 * binary cross-entropy for multi-label data (Reuters-21578).
 *
 * The hidden layer's activations are the penultimate features on which the
 * VOGN head is fitted afterwards; the output layer is the point estimate of
 * the non-Bayesian strategies.
 *
 * Training: the bag of a minibatch is a dense averaging matrix A [batch, U]
 * over the U distinct buckets it touches, times the gathered rows E_U
 * [U, dim]; gradients come from `tf.valueAndGrads` with respect to E_U and
 * the dense weights (so no Gather/UnsortedSegmentSum gradient kernel is
 * needed, which the wasm backend lacks), and Adam updates run in plain JS,
 * lazily for the embedding (only the rows the batch touched, as TensorFlow's
 * LazyAdam). All weights live in Float32Arrays between steps.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { encodeFeatures, hashTexts, trainEncoder } from "./text_encoder.ts";
 * await tf.setBackend("cpu");
 * const bags = hashTexts(["good film", "bad film"], { buckets: 64, maxTokens: 10 });
 * const { encoder } = trainEncoder(bags, [0, 1], new Float32Array([1, 0, 0, 1]), 2, {
 *   dim: 4, hidden: 4, epochs: 2, batchSize: 2, learningRate: 0.01, seed: 1, output: "softmax",
 * });
 * assert(encodeFeatures(encoder, bags, [0, 1]).length === 2 * 4);
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
// For its side effect only: registers the gradients of tfjs-core's ops (see pipeline/algorithms/discriminative.ts).
import "@tensorflow/tfjs-layers";
import { makeRng } from "./rng.ts";

/** How texts become bucket ids. */
export interface HashOptions {
  /** B, the number of hash buckets. */
  readonly buckets: number;
  /** Only the first `maxTokens` tokens of a text are used (bounds the cost of long stories). */
  readonly maxTokens: number;
  /** Add the bigrams of adjacent tokens (default true). */
  readonly bigrams?: boolean;
}

/**
 * Hashed bags of n-grams of N texts in CSR form: the bucket ids of text i
 * are `ids[offsets[i] .. offsets[i + 1])`, repeats kept (a bag, not a set).
 */
export interface HashedBags {
  readonly n: number;
  readonly buckets: number;
  /** N + 1 offsets into `ids`. */
  readonly offsets: Int32Array;
  readonly ids: Int32Array;
}

/**
 * Lower-case word tokens: maximal runs of Unicode letters and digits.
 *
 * @param text any text
 * @returns its tokens, in order
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tokenize } from "./text_encoder.ts";
 * assert(tokenize("U.S. Wheat-exports, 1987!").join() === "u,s,wheat,exports,1987");
 * ```
 */
export function tokenize(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/**
 * FNV-1a (32 bits) of a string's UTF-16 code units.
 *
 * @param s the string
 * @returns an unsigned 32-bit hash
 */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Hashes texts into bags of bucket ids: each unigram `w` goes to
 * hash(w) mod B, each bigram `w1 w2` to hash("w1 w2") mod B.
 *
 * @param texts the texts
 * @param opts buckets, token limit, bigrams
 * @returns the bags
 * @throws RangeError when buckets or maxTokens is not a positive integer
 */
export function hashTexts(texts: readonly string[], opts: HashOptions): HashedBags {
  const { buckets, maxTokens } = opts;
  if (!Number.isInteger(buckets) || buckets < 1) {
    throw new RangeError(`hashTexts: buckets must be a positive integer, got ${buckets}`);
  }
  if (!Number.isInteger(maxTokens) || maxTokens < 1) {
    throw new RangeError(`hashTexts: maxTokens must be a positive integer, got ${maxTokens}`);
  }
  const bigrams = opts.bigrams ?? true;
  const offsets = new Int32Array(texts.length + 1);
  const ids: number[] = [];
  texts.forEach((text, i) => {
    const tokens = tokenize(text).slice(0, maxTokens);
    for (let k = 0; k < tokens.length; k++) {
      ids.push(hashString(tokens[k] as string) % buckets);
      if (bigrams && k > 0) ids.push(hashString(`${tokens[k - 1]} ${tokens[k]}`) % buckets);
    }
    offsets[i + 1] = ids.length;
  });
  return { n: texts.length, buckets, offsets, ids: Int32Array.from(ids) };
}

/** Output layer of the encoder. */
export type EncoderOutput = "softmax" | "sigmoid";

/** The weights of a trained encoder, row-major. */
export interface BagEncoder {
  readonly buckets: number;
  readonly dim: number;
  readonly hidden: number;
  /** C classes (softmax) or L labels (sigmoid). */
  readonly outputs: number;
  readonly output: EncoderOutput;
  /** [B, dim] */
  readonly embedding: Float32Array;
  /** [dim, hidden] */
  readonly w1: Float32Array;
  /** [hidden] */
  readonly b1: Float32Array;
  /** [hidden, outputs] */
  readonly w2: Float32Array;
  /** [outputs] */
  readonly b2: Float32Array;
}

/** Options of {@link trainEncoder}. */
export interface EncoderOptions {
  readonly dim: number;
  readonly hidden: number;
  readonly epochs: number;
  readonly batchSize: number;
  /** Adam step size. */
  readonly learningRate: number;
  /** Seeds the initial weights and the shuffles. */
  readonly seed: number;
  readonly output: EncoderOutput;
  /** Called after each epoch with the mean training loss and the documents per second. */
  readonly onEpoch?: (epoch: number, loss: number, docsPerSecond: number) => void;
}

const BETA1 = 0.9, BETA2 = 0.999, EPS = 1e-7;

/** One Adam step on `param[from .. from + g.length)` with the gradient g; m, v share param's layout. */
function _adam(
  param: Float32Array,
  m: Float32Array,
  v: Float32Array,
  from: number,
  g: Float32Array,
  gFrom: number,
  count: number,
  lrT: number,
): void {
  for (let j = 0; j < count; j++) {
    const at = from + j;
    const gj = g[gFrom + j] as number;
    const mj = BETA1 * (m[at] as number) + (1 - BETA1) * gj;
    const vj = BETA2 * (v[at] as number) + (1 - BETA2) * gj * gj;
    m[at] = mj;
    v[at] = vj;
    param[at] = (param[at] as number) - (lrT * mj) / (Math.sqrt(vj) + EPS);
  }
}

function _uniform(size: number, limit: number, next: () => number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (2 * next() - 1) * limit;
  return out;
}

function _checkPositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`trainEncoder: ${name} must be a positive integer, got ${v}`);
}

/**
 * Trains an encoder from scratch on the labelled rows with Adam.
 *
 * Loss per document: softmax cross-entropy -Σ_c y_c log softmax(z)_c, or the
 * summed binary cross-entropy Σ_l softplus(z_l) - y_l z_l; averaged over the
 * minibatch. Initial weights: embedding uniform in ±0.1, dense layers
 * Glorot-uniform, biases 0.
 *
 * @param bags the hashed texts (all of them; only `rows` are used)
 * @param rows the labelled rows of `bags`
 * @param targets row-major [rows.length, outputs]: one-hot or multi-hot
 * @param outputs C or L
 * @param opts sizes and optimiser settings
 * @returns the encoder and the last epoch's mean loss
 * @throws RangeError on inconsistent sizes or bad options
 */
export function trainEncoder(
  bags: HashedBags,
  rows: readonly number[],
  targets: Float32Array,
  outputs: number,
  opts: EncoderOptions,
): { encoder: BagEncoder; loss: number; docsPerSecond: number } {
  const { dim, hidden, epochs, batchSize, learningRate, output } = opts;
  for (
    const [name, v] of [["dim", dim], ["hidden", hidden], ["epochs", epochs], ["batchSize", batchSize], [
      "outputs",
      outputs,
    ]] as const
  ) _checkPositiveInt(name, v);
  if (!(learningRate > 0)) throw new RangeError(`trainEncoder: learningRate must be positive, got ${learningRate}`);
  if (rows.length < 1) throw new RangeError("trainEncoder: no labelled rows");
  if (targets.length !== rows.length * outputs) {
    throw new RangeError(`trainEncoder: ${targets.length} targets for ${rows.length} rows of ${outputs} outputs`);
  }
  const B = bags.buckets;
  const rng = makeRng(opts.seed);
  const next = () => rng.next();
  const enc = {
    buckets: B,
    dim,
    hidden,
    outputs,
    output,
    embedding: _uniform(B * dim, 0.1, next),
    w1: _uniform(dim * hidden, Math.sqrt(6 / (dim + hidden)), next),
    b1: new Float32Array(hidden),
    w2: _uniform(hidden * outputs, Math.sqrt(6 / (hidden + outputs)), next),
    b2: new Float32Array(outputs),
  };
  const dense = [enc.w1, enc.b1, enc.w2, enc.b2];
  const mDense = dense.map((p) => new Float32Array(p.length));
  const vDense = dense.map((p) => new Float32Array(p.length));
  const mEmb = new Float32Array(B * dim), vEmb = new Float32Array(B * dim);
  const colOf = new Int32Array(B).fill(-1);

  const lossOf = (a: tf.Tensor2D, y: tf.Tensor2D) =>
  (
    eU: tf.Tensor,
    w1: tf.Tensor,
    b1: tf.Tensor,
    w2: tf.Tensor,
    b2: tf.Tensor,
  ): tf.Scalar => {
    const x = tf.matMul(a, eU as tf.Tensor2D);
    const h = tf.relu(tf.add(tf.matMul(x, w1 as tf.Tensor2D), b1));
    const z = tf.add(tf.matMul(h as tf.Tensor2D, w2 as tf.Tensor2D), b2);
    const perDoc = output === "softmax"
      ? tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(z)), 1))
      : tf.sum(tf.sub(tf.softplus(z), tf.mul(y, z)), 1);
    return tf.mean(perDoc);
  };

  const order = Array.from(rows.keys());
  let step = 0, lossMean = NaN, docsPerSecond = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    const started = performance.now();
    let lossSum = 0;
    for (let start = 0; start < order.length; start += batchSize) {
      const batch = order.slice(start, start + batchSize);
      // Distinct buckets of the batch and the averaging matrix A [batch, U].
      const unique: number[] = [];
      for (const k of batch) {
        const doc = rows[k] as number;
        for (let p = bags.offsets[doc] as number; p < (bags.offsets[doc + 1] as number); p++) {
          const id = bags.ids[p] as number;
          if (colOf[id] === -1) {
            colOf[id] = unique.length;
            unique.push(id);
          }
        }
      }
      const u = Math.max(1, unique.length);
      const a = new Float32Array(batch.length * u);
      const y = new Float32Array(batch.length * outputs);
      batch.forEach((k, r) => {
        const doc = rows[k] as number;
        const from = bags.offsets[doc] as number, to = bags.offsets[doc + 1] as number;
        for (let p = from; p < to; p++) {
          const c = colOf[bags.ids[p] as number] as number;
          a[r * u + c] = (a[r * u + c] as number) + 1 / (to - from);
        }
        y.set(targets.subarray(k * outputs, (k + 1) * outputs), r * outputs);
      });
      const eU = new Float32Array(u * dim);
      unique.forEach((id, c) => eU.set(enc.embedding.subarray(id * dim, (id + 1) * dim), c * dim));
      const { loss, grads } = tf.tidy(() => {
        const aT = tf.tensor2d(a, [batch.length, u]);
        const yT = tf.tensor2d(y, [batch.length, outputs]);
        const { value, grads } = tf.valueAndGrads(lossOf(aT, yT))([
          tf.tensor2d(eU, [u, dim]),
          tf.tensor2d(enc.w1, [dim, hidden]),
          tf.tensor1d(enc.b1),
          tf.tensor2d(enc.w2, [hidden, outputs]),
          tf.tensor1d(enc.b2),
        ]);
        return { loss: value.dataSync()[0] as number, grads: grads.map((g) => g.dataSync() as Float32Array) };
      });
      step++;
      const lrT = (learningRate * Math.sqrt(1 - BETA2 ** step)) / (1 - BETA1 ** step);
      const gE = grads[0] as Float32Array;
      unique.forEach((id, c) => _adam(enc.embedding, mEmb, vEmb, id * dim, gE, c * dim, dim, lrT));
      dense.forEach((p, k) => _adam(p, mDense[k]!, vDense[k]!, 0, grads[k + 1] as Float32Array, 0, p.length, lrT));
      for (const id of unique) colOf[id] = -1;
      lossSum += loss * batch.length;
    }
    lossMean = lossSum / order.length;
    docsPerSecond = order.length / Math.max(1e-9, (performance.now() - started) / 1000);
    opts.onEpoch?.(epoch, lossMean, docsPerSecond);
  }
  return { encoder: enc, loss: lossMean, docsPerSecond };
}

/**
 * Mean embedding of each text's bag, in plain JS (zeros for an empty bag).
 *
 * @param encoder the encoder
 * @param bags the hashed texts
 * @param rows which texts
 * @returns row-major [rows.length, dim]
 */
export function bagMeans(encoder: BagEncoder, bags: HashedBags, rows: readonly number[]): Float32Array {
  const { dim, embedding } = encoder;
  const out = new Float32Array(rows.length * dim);
  const acc = new Float64Array(dim);
  rows.forEach((doc, r) => {
    const from = bags.offsets[doc] as number, to = bags.offsets[doc + 1] as number;
    if (to === from) return;
    acc.fill(0);
    for (let p = from; p < to; p++) {
      const base = (bags.ids[p] as number) * dim;
      for (let e = 0; e < dim; e++) acc[e] = (acc[e] as number) + (embedding[base + e] as number);
    }
    for (let e = 0; e < dim; e++) out[r * dim + e] = (acc[e] as number) / (to - from);
  });
  return out;
}

const _CHUNK = 1024;

/**
 * Penultimate features relu(mean-bag · W1 + b1) of the given texts.
 *
 * @param encoder the encoder
 * @param bags the hashed texts
 * @param rows which texts
 * @returns row-major [rows.length, hidden]
 */
export function encodeFeatures(encoder: BagEncoder, bags: HashedBags, rows: readonly number[]): Float32Array {
  const { dim, hidden } = encoder;
  const out = new Float32Array(rows.length * hidden);
  for (let start = 0; start < rows.length; start += _CHUNK) {
    const chunk = rows.slice(start, start + _CHUNK);
    const x = bagMeans(encoder, bags, chunk);
    const h = tf.tidy(() =>
      tf.relu(tf.add(
        tf.matMul(tf.tensor2d(x, [chunk.length, dim]), tf.tensor2d(encoder.w1, [dim, hidden])),
        tf.tensor1d(encoder.b1),
      ))
    );
    out.set(h.dataSync(), start * hidden);
    h.dispose();
  }
  return out;
}

/**
 * Log-probabilities of the encoder's own output layer (the point estimate)
 * on penultimate features: log-softmax over classes, or log-sigmoid of each
 * label's "on", as one sample.
 *
 * @param encoder the encoder (only its output layer is used)
 * @param features row-major [n, hidden]
 * @param n rows
 * @returns row-major [n, 1, outputs]
 */
export function pointLogProbs(
  encoder: Pick<BagEncoder, "hidden" | "outputs" | "output" | "w2" | "b2">,
  features: Float32Array,
  n: number,
): Float32Array {
  const { hidden, outputs } = encoder;
  if (features.length !== n * hidden) {
    throw new RangeError(`pointLogProbs: ${features.length} feature values, not ${n} x ${hidden}`);
  }
  if (n === 0) return new Float32Array(0);
  const lp = tf.tidy(() => {
    const z = tf.add(
      tf.matMul(tf.tensor2d(features, [n, hidden]), tf.tensor2d(encoder.w2, [hidden, outputs])),
      tf.tensor1d(encoder.b2),
    ) as tf.Tensor2D;
    return encoder.output === "softmax" ? tf.logSoftmax(z) : tf.logSigmoid(z);
  });
  const data = lp.dataSync() as Float32Array;
  lp.dispose();
  return Float32Array.from(data);
}
