/**
 * The "top-u" Bayesian uncertainty of S. Loustau's talk "Bayesian Deep
 * Active Learning: Computer vision and NLP" (2023).
 *
 * @module
 */
import type { LogProbs, ScoreFn } from "./scores.ts";

/**
 * Top-u entropy: the entropy of where the top-u classes fall across the
 * posterior samples.
 *
 * The talk defines it for a Bayesian solution q_T = N(m_T, Σ_T) as follows:
 * sample N = 10 outputs, and score x by H(y^(u)(x)), "where y^(u)(·) is the
 * distribution of the top-u outputs over the N realizations". Here the N
 * realizations are the T samples of the chunk. We read the definition as:
 *
 * 1. in each sample t, take the u classes with the highest probability
 *    (ties go to the lower class index, as in `variationRatios`);
 * 2. count, for each class k, in how many samples it is among the top u:
 *    n_k, with Σ_k n_k = T u;
 * 3. y^(u) is the empirical distribution q_k = n_k / (T u), and the score is
 *    its entropy H = -Σ_k q_k ln q_k in nats (0 ln 0 = 0).
 *
 * Consequences that follow from the counting:
 * - u = 1 is the entropy of the distribution of the predicted class over the
 *   samples: 0 when every sample predicts the same class, ln 2 when the
 *   samples split evenly between two classes;
 * - when every sample has the same top-u set, each of those u classes has
 *   q = 1/u and H = ln u: the floor of the score is ln u, not 0, and it grows
 *   to at most ln(min(C, T u)) as the samples disagree;
 * - only the ranking of the classes within a sample matters, not the size of
 *   the probabilities, so the score is computed from comparisons of the
 *   log-probabilities alone: a probability of 0 (log-probability -Infinity)
 *   just ranks last, and the entropy only takes logs of nonzero counts, so no
 *   NaN can arise.
 *
 * The talk introduces it for multi-label text classification, where an item
 * carries several tags and ranking the top u of them is the natural output.
 *
 * @param u the number of top classes per sample, a positive integer
 * @returns the score function; it throws a RangeError on a chunk with fewer than u classes
 * @throws RangeError when u is not a positive integer
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { topUEntropy } from "./top_u.ts";
 * // One item, two samples that rank (0.9, 0.1) and (0.2, 0.8): top-1 classes 0 and 1.
 * const lp = { data: new Float32Array([0.9, 0.1, 0.2, 0.8].map(Math.log)), n: 1, t: 2, c: 2 };
 * assert(Math.abs(topUEntropy(1)(lp, Math.random)[0]! - Math.LN2) < 1e-9);
 * ```
 */
export function topUEntropy(u: number): ScoreFn {
  if (!Number.isInteger(u) || u < 1) throw new RangeError(`topUEntropy: u must be a positive integer, got ${u}`);
  return (lp: LogProbs) => {
    if (u > lp.c) throw new RangeError(`topUEntropy: u = ${u} exceeds the ${lp.c} classes`);
    const out = new Float64Array(lp.n);
    const counts = new Int32Array(lp.c);
    const top = new Int32Array(u); // class indices of the current sample's top u, best first
    const total = lp.t * u;
    for (let i = 0; i < lp.n; i++) {
      counts.fill(0);
      const base = i * lp.t * lp.c;
      for (let s = 0; s < lp.t; s++) {
        const row = base + s * lp.c;
        // Insertion into a sorted list of length u; strict comparisons keep
        // the lower index ahead on ties.
        let filled = 0;
        for (let k = 0; k < lp.c; k++) {
          const v = lp.data[row + k] as number;
          let pos = filled;
          while (pos > 0 && v > (lp.data[row + (top[pos - 1] as number)] as number)) pos--;
          if (pos >= u) continue;
          for (let q = Math.min(filled, u - 1); q > pos; q--) top[q] = top[q - 1] as number;
          top[pos] = k;
          if (filled < u) filled++;
        }
        for (let q = 0; q < u; q++) {
          const k = top[q] as number;
          counts[k] = (counts[k] as number) + 1;
        }
      }
      let h = 0;
      for (const n of counts) {
        if (n > 0) {
          const q = n / total;
          h -= q * Math.log(q);
        }
      }
      out[i] = h;
    }
    return out;
  };
}
