/**
 * A Bayesian linear softmax head fitted by the Variational Online
 * Gauss-Newton optimiser (VOGN: Khan et al. 2018, "Fast and Scalable
 * Bayesian Deep Learning by Weight-Perturbation in Adam"; Osawa et al. 2019,
 * "Practical Deep Learning with Bayesian Principles").
 *
 * The head maps fixed features x (D numbers, e.g. the penultimate layer of a
 * trained net) to C logits z = W^T x + b. VOGN fits a mean-field Gaussian
 * q(θ) = N(μ, diag(1 / precision)) over θ = (W, b) by natural-gradient
 * variational inference: each step draws θ ~ q, computes per-example
 * gradients g_i and per-example curvatures h_i at θ, and moves
 *
 *   m ← β1 m + (1 - β1) (mean_i g_i + δ̃ μ)
 *   s ← β2 s + (1 - β2) mean_i h_i
 *   μ ← μ - α m̂ / (ŝ + δ̃),          δ̃ = τ δ / N,
 *
 * where m̂, ŝ are the Adam-style bias-corrected averages, δ the prior
 * precision, τ the temperature (the weight of the KL term, τ = 1 being plain
 * variational Bayes) and N the data-set size. The posterior precision is
 * N (ŝ + δ̃) / τ = N ŝ / τ + δ. At a fixed point, with full batches and no
 * weight noise, μ is the MAP of Σ_i ℓ_i / τ + δ ‖θ‖² / 2 and the precision is
 * the diagonal of Σ_i h_i / τ plus δ: the diagonal Laplace approximation.
 *
 * For a linear softmax head everything is closed form, so no autodiff is
 * needed. With p = softmax(z) and y the one-hot label of item i:
 * - gradient: ∂ℓ_i/∂W[d, k] = x_d (p_k - y_k), ∂ℓ_i/∂b[k] = p_k - y_k;
 * - Gauss-Newton diagonal ("ggn", exact here because the head is linear in
 *   θ, so the GGN equals the Hessian): x_d² p_k (1 - p_k), and p_k (1 - p_k);
 * - or the squared per-example gradients ("squared-gradients", what the two
 *   papers use for deep nets): x_d² (p_k - y_k)², and (p_k - y_k)². Its
 *   expectation over y ~ p is the GGN diagonal, but for a given label it is
 *   the empirical Fisher (see Kunstner et al. 2019, "Limitations of the
 *   Empirical Fisher Approximation for Natural Gradient Descent").
 *
 * The fit runs in plain JS in float64 (D · C parameters per example per step
 * is small next to the net that made the features); sampling predictions
 * runs in tfjs as one matMul.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { makeRng, type Rng } from "./rng.ts";

/**
 * A fitted diagonal-Gaussian softmax head. `mean` and `precision` are
 * row-major [(D + 1), C]: row j < D holds W[j, ·] (the weights from feature
 * j to each class), row D holds the bias b[·].
 */
export interface VognHead {
  /** D: feature dimension. */
  readonly d: number;
  /** C: number of classes. */
  readonly classes: number;
  /** Posterior mean, [(D + 1), C] as above. */
  readonly mean: Float32Array;
  /** Posterior precision (1 / variance) of each parameter, same layout. */
  readonly precision: Float32Array;
}

/** Options of {@link fitVognHead}; every field has a default. */
export interface VognOptions {
  /** N, the data-set size the likelihood is scaled to (default: the number of rows). */
  readonly datasetSize?: number;
  /** δ, precision of the N(0, 1/δ) prior on every parameter (default 1). */
  readonly priorPrecision?: number;
  /** τ, temperature: weight of the KL term; 1 is plain variational Bayes (default 1). */
  readonly temperature?: number;
  /** MC draws of θ per step, gradients and curvatures averaged over them (default 1). */
  readonly mcSamples?: number;
  /** α, step size of the mean (default 0.05). */
  readonly learningRate?: number;
  /** β1, momentum of the gradient average (default 0.9). */
  readonly beta1?: number;
  /** β2, decay of the curvature average, Adam's convention: closer to 1 averages longer (default 0.99). */
  readonly beta2?: number;
  /** Passes over the data (default 20). */
  readonly epochs?: number;
  /** M, minibatch size (default 32; capped at the number of rows). */
  readonly batchSize?: number;
  /** Seeds the shuffles and the weight noise (default 0). */
  readonly seed?: number;
  /** Per-example curvature: exact Gauss-Newton diagonal or squared gradients (default "ggn"). */
  readonly curvature?: "ggn" | "squared-gradients";
  /** Warm start from a previous head of the same shape (its mean and precision). */
  readonly init?: VognHead;
  /** Called after each epoch with the mean negative log-likelihood at the sampled weights. */
  readonly onEpoch?: (epoch: number, loss: number) => void;
}

/**
 * Standard normal draws from a uniform stream (Box-Muller, both outputs used).
 *
 * @param rng the uniform source
 * @returns a function giving one N(0, 1) number per call
 */
function normalSource(rng: Rng): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const v = spare;
      spare = undefined;
      return v;
    }
    const u1 = 1 - rng.next(); // in (0, 1]: log is finite
    const u2 = rng.next();
    const r = Math.sqrt(-2 * Math.log(u1));
    spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  };
}

function positive(name: string, v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`VOGN: ${name} must be a positive number, got ${v}`);
  return v;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`VOGN: ${name} must be a positive integer, got ${v}`);
  return v;
}

function unitInterval(name: string, v: number): number {
  if (!(v >= 0 && v < 1)) throw new RangeError(`VOGN: ${name} must be in [0, 1), got ${v}`);
  return v;
}

/**
 * Fits a Bayesian linear softmax head on fixed features with VOGN.
 *
 * Until a curvature estimate exists (the very first step of a cold start)
 * the gradients are taken at the mean rather than at a draw, since the
 * posterior variance is not known yet.
 *
 * @param features row-major [n, d]
 * @param n number of rows
 * @param d feature dimension
 * @param labels class of each row, in [0, classes)
 * @param classes C
 * @param opts see {@link VognOptions}
 * @returns the fitted head
 * @throws RangeError for inconsistent sizes, labels out of range or bad options
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const head = fitVognHead(new Float32Array([0, 1, 1, 0]), 2, 2, new Int32Array([0, 1]), 2, { epochs: 5 });
 * assert(head.mean.length === 3 * 2);
 * ```
 */
export function fitVognHead(
  features: Float32Array,
  n: number,
  d: number,
  labels: Int32Array,
  classes: number,
  opts: VognOptions = {},
): VognHead {
  positiveInt("n", n);
  positiveInt("d", d);
  positiveInt("classes", classes);
  if (features.length !== n * d) {
    throw new RangeError(`VOGN: features has ${features.length} values, not n·d = ${n * d}`);
  }
  if (labels.length !== n) throw new RangeError(`VOGN: ${labels.length} labels for ${n} rows`);
  for (const y of labels) {
    if (y < 0 || y >= classes) throw new RangeError(`VOGN: label ${y} is not in [0, ${classes})`);
  }
  // Softmax cross-entropy: r = p - onehot(y), Gauss-Newton diagonal p (1 - p).
  const c = classes;
  return fitVogn(features, n, d, c, opts, (i, z, r, v, ggn) => {
    let zMax = -Infinity;
    for (let q = 0; q < c; q++) zMax = Math.max(zMax, z[q] as number);
    let sum = 0;
    for (let q = 0; q < c; q++) sum += Math.exp((z[q] as number) - zMax);
    const logZ = zMax + Math.log(sum);
    const y = labels[i] as number;
    for (let q = 0; q < c; q++) {
      const pq = Math.exp((z[q] as number) - logZ);
      const rq = pq - (q === y ? 1 : 0);
      r[q] = rq;
      v[q] = ggn ? pq * (1 - pq) : rq * rq;
    }
    return logZ - (z[y] as number);
  });
}

/**
 * One item's likelihood for {@link fitVogn}: from the logits `z` of row `i`,
 * writes the residual r = ∂ℓ/∂z and the curvature factor v (Gauss-Newton
 * diagonal when `ggn`, else r²) per output, and returns the item's loss ℓ.
 */
type ItemLikelihood = (i: number, z: Float64Array, r: Float64Array, v: Float64Array, ggn: boolean) => number;

/** The VOGN loop over a linear head with `c` outputs; only the likelihood differs between heads. */
function fitVogn(
  features: Float32Array,
  n: number,
  d: number,
  c: number,
  opts: VognOptions,
  item: ItemLikelihood,
): VognHead {
  const bigN = positive("datasetSize", opts.datasetSize ?? n);
  const delta = positive("priorPrecision", opts.priorPrecision ?? 1);
  const tau = positive("temperature", opts.temperature ?? 1);
  const mc = positiveInt("mcSamples", opts.mcSamples ?? 1);
  const lr = positive("learningRate", opts.learningRate ?? 0.05);
  const beta1 = unitInterval("beta1", opts.beta1 ?? 0.9);
  const beta2 = unitInterval("beta2", opts.beta2 ?? 0.99);
  const epochs = positiveInt("epochs", opts.epochs ?? 20);
  const batch = Math.min(positiveInt("batchSize", opts.batchSize ?? 32), n);
  const ggn = (opts.curvature ?? "ggn") === "ggn";
  const p = (d + 1) * c;
  const deltaT = (tau * delta) / bigN; // δ̃

  const mu = new Float64Array(p);
  const m = new Float64Array(p);
  const s = new Float64Array(p);
  // Sums of the EMA weights: dividing by them is Adam's bias correction, and
  // a warm start counts as a fully-weighted curvature average.
  let mWeight = 0;
  let sWeight = 0;
  if (opts.init) {
    const init = opts.init;
    if (init.d !== d || init.classes !== c) {
      throw new RangeError(`VOGN: init head is [${init.d}, ${init.classes}], not [${d}, ${c}]`);
    }
    for (let j = 0; j < p; j++) {
      mu[j] = init.mean[j] as number;
      // Invert precision = N (s + δ̃) / τ.
      s[j] = Math.max(0, (tau * (init.precision[j] as number)) / bigN - deltaT);
    }
    sWeight = 1;
  }

  const rng = makeRng(opts.seed ?? 0);
  const normal = normalSource(rng);
  const theta = new Float64Array(p);
  const g = new Float64Array(p);
  const h = new Float64Array(p);
  const z = new Float64Array(c);
  const r = new Float64Array(c); // p - y
  const v = new Float64Array(c); // per-class curvature factor
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;

  for (let epoch = 0; epoch < epochs; epoch++) {
    // Fisher-Yates shuffle of the row order.
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const tmp = order[i] as number;
      order[i] = order[j] as number;
      order[j] = tmp;
    }
    let lossSum = 0;
    let lossCount = 0;
    for (let start = 0; start < n; start += batch) {
      const end = Math.min(n, start + batch);
      g.fill(0);
      h.fill(0);
      for (let k = 0; k < mc; k++) {
        // θ ~ q = N(μ, τ / (N (ŝ + δ̃))), or θ = μ before any curvature exists.
        if (sWeight > 0) {
          for (let j = 0; j < p; j++) {
            const sd = Math.sqrt(tau / (bigN * ((s[j] as number) / sWeight + deltaT)));
            theta[j] = (mu[j] as number) + sd * normal();
          }
        } else {
          theta.set(mu);
        }
        for (let b = start; b < end; b++) {
          const i = order[b] as number;
          const row = i * d;
          // Logits z = W^T x + b.
          for (let q = 0; q < c; q++) z[q] = theta[d * c + q] as number;
          for (let e = 0; e < d; e++) {
            const x = features[row + e] as number;
            if (x === 0) continue;
            const base = e * c;
            for (let q = 0; q < c; q++) z[q] = (z[q] as number) + x * (theta[base + q] as number);
          }
          lossSum += item(i, z, r, v, ggn);
          lossCount++;
          // Accumulate x ⊗ r into g and x² ⊗ v into h; the bias row has x = 1.
          for (let e = 0; e < d; e++) {
            const x = features[row + e] as number;
            if (x === 0) continue;
            const x2 = x * x;
            const base = e * c;
            for (let q = 0; q < c; q++) {
              g[base + q] = (g[base + q] as number) + x * (r[q] as number);
              h[base + q] = (h[base + q] as number) + x2 * (v[q] as number);
            }
          }
          const base = d * c;
          for (let q = 0; q < c; q++) {
            g[base + q] = (g[base + q] as number) + (r[q] as number);
            h[base + q] = (h[base + q] as number) + (v[q] as number);
          }
        }
      }
      const scale = 1 / ((end - start) * mc);
      mWeight = beta1 * mWeight + (1 - beta1);
      sWeight = beta2 * sWeight + (1 - beta2);
      for (let j = 0; j < p; j++) {
        const muJ = mu[j] as number;
        const mJ = beta1 * (m[j] as number) + (1 - beta1) * ((g[j] as number) * scale + deltaT * muJ);
        const sJ = beta2 * (s[j] as number) + (1 - beta2) * (h[j] as number) * scale;
        m[j] = mJ;
        s[j] = sJ;
        mu[j] = muJ - (lr * (mJ / mWeight)) / (sJ / sWeight + deltaT);
      }
    }
    opts.onEpoch?.(epoch, lossSum / lossCount);
  }

  const precision = new Float32Array(p);
  for (let j = 0; j < p; j++) precision[j] = (bigN * ((s[j] as number) / sWeight + deltaT)) / tau;
  return { d, classes: c, mean: Float32Array.from(mu), precision };
}

/**
 * Log-probabilities of the head's posterior predictive: T weight draws
 * θ_t ~ N(mean, 1 / precision), shared by all items, applied to every item
 * with a single matMul of the features [n, D] against the draws stacked as
 * [D, T·C] (plus the stacked biases).
 *
 * @param features [n, D]
 * @param head the fitted head
 * @param samples T
 * @param rng source of the weight noise (equal streams give equal outputs)
 * @returns log-softmax [n, T, C]; the caller disposes it
 * @throws RangeError when the features are not D wide or T < 1
 */
export function vognHeadLogProbs(features: tf.Tensor2D, head: VognHead, samples: number, rng: Rng): tf.Tensor3D {
  const { d, classes: c } = head;
  const [n, width] = features.shape;
  if (width !== d) throw new RangeError(`vognHeadLogProbs: features are ${width} wide, the head expects ${d}`);
  if (!Number.isInteger(samples) || samples < 1) {
    throw new RangeError(`vognHeadLogProbs: samples must be a positive integer, got ${samples}`);
  }
  return tf.tidy(() => {
    const logits = sampledLogits(features, head, samples, rng); // [n, T·C]
    const logp = tf.logSoftmax(tf.reshape(logits, [n * samples, c]) as tf.Tensor2D);
    return tf.reshape(logp, [n, samples, c]) as tf.Tensor3D;
  });
}

/**
 * Logits [n, T·C] of T weight draws θ_t ~ N(mean, 1 / precision), shared by
 * all items: one matMul of the features against the draws stacked as
 * [D, T·C], plus the stacked biases. Call inside a tidy.
 */
function sampledLogits(features: tf.Tensor2D, head: VognHead, samples: number, rng: Rng): tf.Tensor2D {
  const { d, classes: c } = head;
  const normal = normalSource(rng);
  const tc = samples * c;
  // Column t·C + k of row j is draw t of parameter (j, k).
  const draws = new Float32Array((d + 1) * tc);
  for (let j = 0; j <= d; j++) {
    for (let t = 0; t < samples; t++) {
      for (let k = 0; k < c; k++) {
        const at = j * c + k;
        draws[j * tc + t * c + k] = (head.mean[at] as number) + normal() / Math.sqrt(head.precision[at] as number);
      }
    }
  }
  const all = tf.tensor2d(draws, [d + 1, tc]);
  const weights = tf.slice(all, [0, 0], [d, tc]);
  const bias = tf.slice(all, [d, 0], [1, tc]);
  return tf.add(tf.matMul(features, weights), bias);
}

/** softplus(z) = log(1 + e^z), computed without overflow. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/**
 * Fits a Bayesian linear sigmoid (multi-label) head on fixed features with
 * VOGN: the same posterior family, optimiser and parameters as
 * {@link fitVognHead}; only the likelihood changes. With z_l = W[·, l]ᵀ x + b_l,
 * p_l = σ(z_l) and tags y_l ∈ {0, 1}, an item's loss is the summed binary
 * cross-entropy Σ_l softplus(z_l) - y_l z_l, whose gradient in z_l is
 * p_l - y_l and whose Gauss-Newton diagonal (here the exact Hessian diagonal)
 * is p_l (1 - p_l). Labels share no parameters, so each label's diagonal
 * Laplace approximation is that of a plain logistic regression. The returned
 * head has `classes` = L, the number of labels.
 *
 * @param features row-major [n, d]
 * @param n number of rows
 * @param d feature dimension
 * @param targets multi-hot tags, row-major [n, labels]; nonzero is "on"
 * @param labels L
 * @param opts as for {@link fitVognHead}
 * @returns the fitted head
 * @throws RangeError for inconsistent sizes or bad options
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const head = fitVognSigmoidHead(new Float32Array([0, 1, 1, 0]), 2, 2, new Uint8Array([1, 0, 0, 1]), 2, { epochs: 5 });
 * assert(head.mean.length === 3 * 2);
 * ```
 */
export function fitVognSigmoidHead(
  features: Float32Array,
  n: number,
  d: number,
  targets: Uint8Array,
  labels: number,
  opts: VognOptions = {},
): VognHead {
  positiveInt("n", n);
  positiveInt("d", d);
  positiveInt("labels", labels);
  if (features.length !== n * d) {
    throw new RangeError(`VOGN: features has ${features.length} values, not n·d = ${n * d}`);
  }
  if (targets.length !== n * labels) throw new RangeError(`VOGN: ${targets.length} targets for ${n} rows of ${labels}`);
  const c = labels;
  return fitVogn(features, n, d, c, opts, (i, z, r, v, ggn) => {
    let loss = 0;
    for (let q = 0; q < c; q++) {
      const zq = z[q] as number;
      const on = targets[i * c + q] !== 0 ? 1 : 0;
      loss += softplus(zq) - on * zq;
      const pq = 1 / (1 + Math.exp(-zq));
      const rq = pq - on;
      r[q] = rq;
      v[q] = ggn ? pq * (1 - pq) : rq * rq;
    }
    return loss;
  });
}

/**
 * Per-label log-probabilities of "on" under the sigmoid head's posterior: T
 * weight draws shared by all items, then log-sigmoid.
 *
 * @param features [n, D]
 * @param head the fitted head (`classes` read as L)
 * @param samples T
 * @param rng source of the weight noise
 * @returns log σ(z), [n, T, L]; the caller disposes it
 * @throws RangeError when the features are not D wide or T < 1
 */
export function vognSigmoidHeadLogProbs(
  features: tf.Tensor2D,
  head: VognHead,
  samples: number,
  rng: Rng,
): tf.Tensor3D {
  const { d, classes: c } = head;
  const [n, width] = features.shape;
  if (width !== d) throw new RangeError(`vognSigmoidHeadLogProbs: features are ${width} wide, the head expects ${d}`);
  if (!Number.isInteger(samples) || samples < 1) {
    throw new RangeError(`vognSigmoidHeadLogProbs: samples must be a positive integer, got ${samples}`);
  }
  return tf.tidy(() =>
    tf.reshape(tf.logSigmoid(sampledLogits(features, head, samples, rng)), [n, samples, c]) as tf.Tensor3D
  );
}
