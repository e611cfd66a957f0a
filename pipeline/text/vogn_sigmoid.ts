/**
 * A Bayesian linear sigmoid (multi-label) head fitted by VOGN: the
 * multi-label twin of `pipeline/vogn.ts`, for tags that are on or off
 * independently (Reuters-21578 topics). Same posterior family (a diagonal
 * Gaussian over the [(D + 1), L] weights and biases), same optimiser and
 * same parameterisation (see that module for the update rule and the meaning
 * of δ, τ, N, β1, β2); only the likelihood changes.
 *
 * With z_l = W[·, l]ᵀ x + b_l, p_l = σ(z_l) and y_l ∈ {0, 1}, the loss of an
 * item is the summed binary cross-entropy ℓ = Σ_l softplus(z_l) - y_l z_l, so:
 * - gradient: ∂ℓ/∂W[d, l] = x_d (p_l - y_l), ∂ℓ/∂b_l = p_l - y_l;
 * - Gauss-Newton diagonal ("ggn", the exact Hessian diagonal here, since the
 *   head is linear): x_d² p_l (1 - p_l), and p_l (1 - p_l);
 * - or squared gradients: x_d² (p_l - y_l)², and (p_l - y_l)².
 * Labels do not share parameters, so the exact posterior factorises over
 * labels, and the diagonal Laplace approximation of each label is that of a
 * plain logistic regression.
 *
 * @example
 * ```ts
 * import { fitVognSigmoidHead } from "./vogn_sigmoid.ts";
 * const head = fitVognSigmoidHead(new Float32Array([0, 1, 1, 0]), 2, 2, new Uint8Array([1, 0, 0, 1]), 2, { epochs: 5 });
 * console.assert(head.mean.length === 3 * 2);
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { makeRng, type Rng } from "../rng.ts";
import type { VognHead, VognOptions } from "../vogn.ts";

/** Standard normal draws from a uniform stream (Box-Muller, both outputs used), as in `pipeline/vogn.ts`. */
function _normalSource(rng: Rng): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const v = spare;
      spare = undefined;
      return v;
    }
    const u1 = 1 - rng.next();
    const u2 = rng.next();
    const r = Math.sqrt(-2 * Math.log(u1));
    spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  };
}

function _positive(name: string, v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`VOGN: ${name} must be a positive number, got ${v}`);
  return v;
}

function _positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`VOGN: ${name} must be a positive integer, got ${v}`);
  return v;
}

function _unitInterval(name: string, v: number): number {
  if (!(v >= 0 && v < 1)) throw new RangeError(`VOGN: ${name} must be in [0, 1), got ${v}`);
  return v;
}

/** softplus(z) = log(1 + e^z), computed without overflow. */
function _softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/**
 * Fits a Bayesian linear sigmoid head on fixed features with VOGN. The
 * returned head has `classes` = L, the number of labels.
 *
 * @param features row-major [n, d]
 * @param n number of rows
 * @param d feature dimension
 * @param targets multi-hot tags, row-major [n, labels]; nonzero is "on"
 * @param labels L
 * @param opts see `VognOptions` in `pipeline/vogn.ts`
 * @returns the fitted head
 * @throws RangeError for inconsistent sizes or bad options
 */
export function fitVognSigmoidHead(
  features: Float32Array,
  n: number,
  d: number,
  targets: Uint8Array,
  labels: number,
  opts: VognOptions = {},
): VognHead {
  _positiveInt("n", n);
  _positiveInt("d", d);
  _positiveInt("labels", labels);
  if (features.length !== n * d) {
    throw new RangeError(`VOGN: features has ${features.length} values, not n·d = ${n * d}`);
  }
  if (targets.length !== n * labels) throw new RangeError(`VOGN: ${targets.length} targets for ${n} rows of ${labels}`);
  const bigN = _positive("datasetSize", opts.datasetSize ?? n);
  const delta = _positive("priorPrecision", opts.priorPrecision ?? 1);
  const tau = _positive("temperature", opts.temperature ?? 1);
  const mc = _positiveInt("mcSamples", opts.mcSamples ?? 1);
  const lr = _positive("learningRate", opts.learningRate ?? 0.05);
  const beta1 = _unitInterval("beta1", opts.beta1 ?? 0.9);
  const beta2 = _unitInterval("beta2", opts.beta2 ?? 0.99);
  const epochs = _positiveInt("epochs", opts.epochs ?? 20);
  const batch = Math.min(_positiveInt("batchSize", opts.batchSize ?? 32), n);
  const ggn = (opts.curvature ?? "ggn") === "ggn";
  const c = labels;
  const p = (d + 1) * c;
  const deltaT = (tau * delta) / bigN;

  const mu = new Float64Array(p);
  const m = new Float64Array(p);
  const s = new Float64Array(p);
  let mWeight = 0;
  let sWeight = 0;
  if (opts.init) {
    const init = opts.init;
    if (init.d !== d || init.classes !== c) {
      throw new RangeError(`VOGN: init head is [${init.d}, ${init.classes}], not [${d}, ${c}]`);
    }
    for (let j = 0; j < p; j++) {
      mu[j] = init.mean[j] as number;
      s[j] = Math.max(0, (tau * (init.precision[j] as number)) / bigN - deltaT);
    }
    sWeight = 1;
  }

  const rng = makeRng(opts.seed ?? 0);
  const normal = _normalSource(rng);
  const theta = new Float64Array(p);
  const g = new Float64Array(p);
  const h = new Float64Array(p);
  const z = new Float64Array(c);
  const r = new Float64Array(c);
  const v = new Float64Array(c);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;

  for (let epoch = 0; epoch < epochs; epoch++) {
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
          for (let q = 0; q < c; q++) z[q] = theta[d * c + q] as number;
          for (let e = 0; e < d; e++) {
            const x = features[row + e] as number;
            if (x === 0) continue;
            const base = e * c;
            for (let q = 0; q < c; q++) z[q] = (z[q] as number) + x * (theta[base + q] as number);
          }
          for (let q = 0; q < c; q++) {
            const zq = z[q] as number;
            const on = targets[i * c + q] !== 0 ? 1 : 0;
            lossSum += _softplus(zq) - on * zq;
            const pq = 1 / (1 + Math.exp(-zq));
            const rq = pq - on;
            r[q] = rq;
            v[q] = ggn ? pq * (1 - pq) : rq * rq;
          }
          lossCount++;
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
 * Per-label log-probabilities of "on" under the head's posterior: T weight
 * draws θ_t ~ N(mean, 1 / precision), shared by all items, applied with one
 * matMul, then log-sigmoid.
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
  const normal = _normalSource(rng);
  const tc = samples * c;
  const draws = new Float32Array((d + 1) * tc);
  for (let j = 0; j <= d; j++) {
    for (let t = 0; t < samples; t++) {
      for (let k = 0; k < c; k++) {
        const at = j * c + k;
        draws[j * tc + t * c + k] = (head.mean[at] as number) + normal() / Math.sqrt(head.precision[at] as number);
      }
    }
  }
  return tf.tidy(() => {
    const all = tf.tensor2d(draws, [d + 1, tc]);
    const weights = tf.slice(all, [0, 0], [d, tc]);
    const bias = tf.slice(all, [d, 0], [1, tc]);
    const logits = tf.add(tf.matMul(features, weights), bias);
    return tf.reshape(tf.logSigmoid(logits), [n, samples, c]) as tf.Tensor3D;
  });
}
