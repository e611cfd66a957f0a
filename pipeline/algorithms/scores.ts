/**
 * Acquisition scores computed from MC samples of the predictive distribution.
 * Input is always a chunk of log-probabilities `logProbs_N_T_C` (N items,
 * T samples, C classes, row-major); output is one score per item, higher
 * meaning "more worth labelling". Maths is done in log space so that a
 * probability of exactly 0 gives no NaN.
 *
 * @module
 */

/** A chunk of log-probabilities, row-major [N, T, C]. */
export interface LogProbs {
  /** The values: `data[(i * t + s) * c + k]` is log p(class k | item i, sample s), -Infinity for a probability of 0. */
  readonly data: Float32Array;
  /** N: items in the chunk. */
  readonly n: number;
  /** T: posterior samples per item. */
  readonly t: number;
  /** C: classes (for the multi-label scores, labels, each entry the log-probability that the label is on). */
  readonly c: number;
}

/**
 * A score: maps a chunk of log-probabilities to N scores. `rand` gives
 * seeded uniform numbers in [0, 1) for scores that draw (e.g. random).
 */
export type ScoreFn = (logProbs: LogProbs, rand: () => number) => Float64Array;

/** p * log p with the convention 0 * log 0 = 0. */
function plogp(logp: number): number {
  return logp === -Infinity ? 0 : Math.exp(logp) * logp;
}

/** Mean over samples of the probabilities of item i, into `out` (length C). */
function meanProbs(lp: LogProbs, i: number, out: Float64Array): void {
  out.fill(0);
  const base = i * lp.t * lp.c;
  for (let s = 0; s < lp.t; s++) {
    const row = base + s * lp.c;
    for (let k = 0; k < lp.c; k++) out[k] = (out[k] as number) + Math.exp(lp.data[row + k] as number);
  }
  for (let k = 0; k < lp.c; k++) out[k] = (out[k] as number) / lp.t;
}

/** Entropy of a probability vector, in nats. */
function entropyOf(p: Float64Array): number {
  let h = 0;
  for (const v of p) if (v > 0) h -= v * Math.log(v);
  return h;
}

/**
 * Max entropy: H[y | x, D] of the MC-averaged predictive distribution
 * (Shannon 1948; used for AL by Gal et al. 2017).
 */
export const maxEntropy: ScoreFn = (lp) => {
  const out = new Float64Array(lp.n);
  const p = new Float64Array(lp.c);
  for (let i = 0; i < lp.n; i++) {
    meanProbs(lp, i, p);
    out[i] = entropyOf(p);
  }
  return out;
};

/**
 * BALD (Houlsby et al. 2011): mutual information between the prediction and
 * the weights, H[y | x, D] - E_w H[y | x, w], estimated from the T samples.
 */
export const bald: ScoreFn = (lp) => {
  const out = new Float64Array(lp.n);
  const p = new Float64Array(lp.c);
  for (let i = 0; i < lp.n; i++) {
    meanProbs(lp, i, p);
    let expected = 0;
    const base = i * lp.t * lp.c;
    for (let s = 0; s < lp.t; s++) {
      const row = base + s * lp.c;
      for (let k = 0; k < lp.c; k++) expected -= plogp(lp.data[row + k] as number);
    }
    // Clamp the tiny negative values that rounding can give when all samples agree.
    out[i] = Math.max(0, entropyOf(p) - expected / lp.t);
  }
  return out;
};

/**
 * Variation ratios (Freeman 1965): 1 - (count of the modal predicted class
 * over the T samples) / T.
 */
export const variationRatios: ScoreFn = (lp) => {
  const out = new Float64Array(lp.n);
  const counts = new Int32Array(lp.c);
  for (let i = 0; i < lp.n; i++) {
    counts.fill(0);
    const base = i * lp.t * lp.c;
    for (let s = 0; s < lp.t; s++) {
      const row = base + s * lp.c;
      let best = 0;
      for (let k = 1; k < lp.c; k++) {
        if ((lp.data[row + k] as number) > (lp.data[row + best] as number)) best = k;
      }
      counts[best] = (counts[best] as number) + 1;
    }
    let mode = 0;
    for (const v of counts) mode = Math.max(mode, v);
    out[i] = 1 - mode / lp.t;
  }
  return out;
};

/**
 * Mean standard deviation (Kampffmeyer et al. 2016): the mean over classes
 * of the standard deviation of p(y = c | x, w) over the T samples.
 */
export const meanStd: ScoreFn = (lp) => {
  const out = new Float64Array(lp.n);
  const sum = new Float64Array(lp.c);
  const sumSq = new Float64Array(lp.c);
  for (let i = 0; i < lp.n; i++) {
    sum.fill(0);
    sumSq.fill(0);
    const base = i * lp.t * lp.c;
    for (let s = 0; s < lp.t; s++) {
      const row = base + s * lp.c;
      for (let k = 0; k < lp.c; k++) {
        const v = Math.exp(lp.data[row + k] as number);
        sum[k] = (sum[k] as number) + v;
        sumSq[k] = (sumSq[k] as number) + v * v;
      }
    }
    let total = 0;
    for (let k = 0; k < lp.c; k++) {
      const m = (sum[k] as number) / lp.t;
      total += Math.sqrt(Math.max(0, (sumSq[k] as number) / lp.t - m * m));
    }
    out[i] = total / lp.c;
  }
  return out;
};

/**
 * Random acquisition: a uniform score per item, ignoring the predictions
 * (the baseline of Gal et al. 2017).
 */
export const randomScore: ScoreFn = (lp, rand) => {
  const out = new Float64Array(lp.n);
  for (let i = 0; i < lp.n; i++) out[i] = rand();
  return out;
};

/**
 * Least confidence (Lewis & Gale 1994; "least confident" in Settles' 2009
 * survey): 1 - max_c p̄_c, where p̄ is the predictive averaged over the T
 * samples. 0 when the mean puts all its mass on one class, 1 - 1/C at most.
 */
export const leastConfidence: ScoreFn = (lp) => {
  const out = new Float64Array(lp.n);
  const p = new Float64Array(lp.c);
  for (let i = 0; i < lp.n; i++) {
    meanProbs(lp, i, p);
    let best = 0;
    for (const v of p) if (v > best) best = v;
    out[i] = 1 - best;
  }
  return out;
};

/**
 * Margin, the "difference uncertainty" U(y) = 1 - (y^(1) - y^(2)) of S.
 * Loustau's talk "Bayesian Deep Active Learning: Computer vision and NLP"
 * (2023), with y^(1) >= y^(2) the two largest probabilities (margin sampling,
 * Scheffer et al. 2001). The talk applies it to one deterministic output;
 * here y is the MC-averaged predictive p̄, as for `maxEntropy`. With a single
 * class, y^(2) is taken as 0, giving 0.
 */
export const margin: ScoreFn = (lp) => {
  const out = new Float64Array(lp.n);
  const p = new Float64Array(lp.c);
  for (let i = 0; i < lp.n; i++) {
    meanProbs(lp, i, p);
    let first = 0, second = 0;
    for (const v of p) {
      if (v > first) {
        second = first;
        first = v;
      } else if (v > second) second = v;
    }
    out[i] = 1 - (first - second);
  }
  return out;
};

/**
 * The MC-averaged predictive distribution p(y | x) = mean_t exp(log p_t(y | x)).
 *
 * @param logProbs_N_T_C log-probabilities, row-major [n, t, c]
 * @returns row-major [n, c] probabilities
 * @throws RangeError when the shape does not match the data
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { meanPredictive } from "./scores.ts";
 * const lp = { data: new Float32Array([1, 0, 0.5, 0.5].map(Math.log)), n: 1, t: 2, c: 2 };
 * assert(meanPredictive(lp).join() === "0.75,0.25");
 * ```
 */
export function meanPredictive(logProbs_N_T_C: LogProbs): Float32Array {
  const { n, t, c, data } = logProbs_N_T_C;
  if (![n, t, c].every(Number.isInteger) || n < 0 || t < 1 || c < 1) {
    throw new RangeError(`meanPredictive: shape [${n}, ${t}, ${c}] is not valid`);
  }
  if (data.length !== n * t * c) {
    throw new RangeError(`meanPredictive: log-probabilities hold ${data.length} values, expected ${n} x ${t} x ${c}`);
  }
  const out = new Float32Array(n * c);
  const acc = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    acc.fill(0);
    for (let s = 0; s < t; s++) {
      const row = (i * t + s) * c;
      for (let k = 0; k < c; k++) acc[k] = (acc[k] as number) + Math.exp(data[row + k] as number);
    }
    for (let k = 0; k < c; k++) out[i * c + k] = (acc[k] as number) / t;
  }
  return out;
}
