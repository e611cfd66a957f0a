/**
 * The representativeness step of suggestive annotation (Yang, Zhang, Chen,
 * Zhang & Chen 2017, "Suggestive Annotation: A Deep Active Learning Framework
 * for Biomedical Image Segmentation", MICCAI): out of a shortlist S_c of the
 * most uncertain candidates, keep the k that together best stand for the
 * whole unlabelled pool S_u, by maximising
 *
 *   F(S_a) = Σ_{j ∈ S_u} max_{i ∈ S_a} sim(I_i, I_j),
 *
 * with sim the cosine similarity of the items' descriptors (embeddings). This
 * is the maximum-coverage (facility location) problem: NP-hard, but F is
 * monotone and submodular, so adding, k times, the candidate with the largest
 * marginal gain (as the paper does) reaches at least (1 - 1/e) of the best
 * value (Nemhauser, Wolsey & Fisher 1978).
 *
 * - {@link representativeSubset}: the greedy selection.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { representativeSubset } from "./representative.ts";
 * // Pool: three rows along x, one along y. Shortlist rows 0 (x) and 3 (y); one pick covers the x rows.
 * const x = new Float32Array([1, 0, 2, 0, 3, 0.1, 0, 1]);
 * assert(representativeSubset(x, 4, 2, [3, 0], 1).join() === "0");
 * ```
 *
 * @module
 */
import { checkMatrix } from "./checks.ts";

/** Similarity rows are kept when the shortlist times the pool is at most this many values (128 MiB). */
const _CACHE_LIMIT = 1 << 24;

/** Rows scaled to unit length (float64); rows of norm 0 stay 0, so their cosine with anything is 0. */
function _unitRows(x: Float32Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += (x[i * d + k] as number) ** 2;
    if (!(s > 0)) continue;
    const inv = 1 / Math.sqrt(s);
    for (let k = 0; k < d; k++) out[i * d + k] = (x[i * d + k] as number) * inv;
  }
  return out;
}

/** out[j] = cosine of row a with row j, for every row j of the unit rows u. */
function _simRow(u: Float64Array, n: number, d: number, a: number, out: Float64Array, offset: number): void {
  const base = a * d;
  for (let j = 0; j < n; j++) {
    let s = 0;
    const o = j * d;
    for (let k = 0; k < d; k++) s += (u[base + k] as number) * (u[o + k] as number);
    out[offset + j] = s;
  }
}

/**
 * _simRow for four rows at once (out rows a0..a3 at offsets o0..o3): each pass
 * over a pool row serves four dot products. Same sums, in the same order.
 */
function _simRows4(
  u: Float64Array,
  n: number,
  d: number,
  a: readonly [number, number, number, number],
  out: Float64Array,
  o: readonly [number, number, number, number],
): void {
  const [b0, b1, b2, b3] = a.map((r) => r * d) as [number, number, number, number];
  const [o0, o1, o2, o3] = o;
  for (let j = 0; j < n; j++) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    const oj = j * d;
    for (let k = 0; k < d; k++) {
      const v = u[oj + k] as number;
      s0 += (u[b0 + k] as number) * v;
      s1 += (u[b1 + k] as number) * v;
      s2 += (u[b2 + k] as number) * v;
      s3 += (u[b3 + k] as number) * v;
    }
    out[o0 + j] = s0;
    out[o1 + j] = s1;
    out[o2 + j] = s2;
    out[o3 + j] = s3;
  }
}

/**
 * Greedy maximisation of the suggestive-annotation representativeness
 * F(S_a) = Σ_j max_{i ∈ S_a} cos(e_i, e_j) over every row j of `embeddings`
 * (the unlabelled pool S_u), with S_a drawn from `shortlist` (S_c, e.g. the
 * most uncertain items) and |S_a| = k (Yang et al. 2017, "Suggestive
 * Annotation", MICCAI). Each step adds the shortlisted row with the largest
 * gain F(S_a + i) - F(S_a).
 *
 * Cosines lie in [-1, 1]; the gain of the first pick is measured against a
 * coverage of -1 for every row, i.e. greedy runs on F(S) + n, which is 0 for
 * the empty set, monotone and submodular, so the (1 - 1/e) guarantee holds
 * for it (and for F itself when the embeddings are non-negative, as after a
 * ReLU). A row of norm 0 has cosine 0 with every row, itself included. Ties
 * go to the lower position; repeated shortlist positions count once. Costs
 * K n d for the similarities and k K n for the greedy steps (K the shortlist
 * length); the K x n similarities are kept when they fit in 128 MiB and
 * recomputed each step otherwise.
 *
 * @param embeddings_N_D row-major [n, d] descriptors of the whole unlabelled pool
 * @param n rows (the pool)
 * @param d columns
 * @param shortlist positions (rows) of the candidates to choose from
 * @param k how many to choose
 * @param warn receives a warning when the shortlist holds fewer than k rows (default `console.warn`)
 * @returns positions into the rows, in the order picked, each once, all from the shortlist
 * @throws RangeError when sizes disagree, a value is not finite, a shortlist position is not a row, or k is not an
 *   integer >= 0
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { representativeSubset } from "./representative.ts";
 * // Four rows along x, three along y, one on the diagonal; the diagonal row covers most.
 * const x = new Float32Array([1, 0, 1, 0, 2, 0, 1, 0, 0, 1, 0, 3, 0, 1, 1, 1]);
 * assert(representativeSubset(x, 8, 2, [0, 4, 7], 1).join() === "7");
 * ```
 */
export function representativeSubset(
  embeddings_N_D: Float32Array,
  n: number,
  d: number,
  shortlist: readonly number[],
  k: number,
  warn: (message: string) => void = console.warn,
): number[] {
  const fn = "representativeSubset";
  checkMatrix(fn, "embeddings", embeddings_N_D, n, d);
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`${fn}: subset size must be an integer >= 0, got ${k}`);
  for (const s of shortlist) {
    if (!Number.isInteger(s) || s < 0 || s >= n) throw new RangeError(`${fn}: shortlist position ${s} is not a row`);
  }
  const cands = [...new Set(shortlist)].sort((a, b) => a - b);
  const m = cands.length;
  if (m < k) warn(`${fn}: shortlist holds ${m} candidates, fewer than the subset of ${k}: taking all`);
  const steps = Math.min(k, m);
  const picks: number[] = [];
  if (steps === 0) return picks;

  const unit = _unitRows(embeddings_N_D, n, d);
  const cached = m * n <= _CACHE_LIMIT;
  const sims = new Float64Array(cached ? m * n : n);
  if (cached) {
    let a = 0;
    for (; a + 4 <= m; a += 4) {
      const rows = [0, 1, 2, 3].map((r) => cands[a + r] as number) as [number, number, number, number];
      _simRows4(unit, n, d, rows, sims, [a * n, (a + 1) * n, (a + 2) * n, (a + 3) * n]);
    }
    for (; a < m; a++) _simRow(unit, n, d, cands[a] as number, sims, a * n);
  }
  const simOf = (a: number): number => {
    if (cached) return a * n;
    _simRow(unit, n, d, cands[a] as number, sims, 0);
    return 0;
  };

  const cover = new Float64Array(n).fill(-1);
  const taken = new Uint8Array(m);
  while (picks.length < steps) {
    let best = -1, bestGain = -1;
    for (let a = 0; a < m; a++) {
      if (taken[a]) continue;
      const o = simOf(a);
      let gain = 0;
      for (let j = 0; j < n; j++) {
        const g = (sims[o + j] as number) - (cover[j] as number);
        if (g > 0) gain += g;
      }
      if (gain > bestGain) [best, bestGain] = [a, gain];
    }
    taken[best] = 1;
    picks.push(cands[best] as number);
    const o = simOf(best);
    for (let j = 0; j < n; j++) {
      const s = sims[o + j] as number;
      if (s > (cover[j] as number)) cover[j] = s;
    }
  }
  return picks;
}
