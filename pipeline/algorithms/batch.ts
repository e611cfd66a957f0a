/**
 * Batch acquisition: choosing b pool items at once so that the batch is
 * informative as a whole, not just item by item. Pure JS over arrays.
 *
 * - {@link batchBald}: greedy joint mutual information (Kirsch, van
 *   Amersfoort & Gal 2019, "BatchBALD").
 * - {@link powerAcquisition}: sampling ∝ score^β (Kirsch et al. 2023,
 *   "Stochastic Batch Acquisition").
 * - {@link kCenterGreedy}: the core-set greedy of Sener & Savarese 2018.
 * - {@link kMeansPlusPlus} and {@link badgeEmbeddings}: BADGE (Ash et al.
 *   2020), k-means++ seeding (Arthur & Vassilvitskii 2007) over gradient
 *   embeddings.
 *
 * Every selector returns positions into its input arrays, first pick first,
 * each position at most once. When the input holds fewer candidates than the
 * batch, all of them are returned and `warn` is told.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kCenterGreedy } from "./batch.ts";
 * // Points 0, 1, 2, 3, 10 on a line, point 0 labelled: 10 is farthest, then 3.
 * const x = new Float32Array([0, 1, 2, 3, 10]);
 * assert(kCenterGreedy(x, 5, 1, [0], 2).join() === "4,3");
 * ```
 *
 * @module
 */
import type { LogProbs } from "./scores.ts";
import { checkMatrix } from "./checks.ts";

/** Options of {@link batchBald}. */
export interface BatchBaldOptions {
  /** Seeded uniform numbers in [0, 1), used once configurations are sampled. */
  readonly rand: () => number;
  /**
   * Joint entropies are exact while C^k, the number of label configurations
   * of the chosen set plus the candidate, is at most this (default 10,000).
   */
  readonly maxExactConfigs?: number;
  /** Configurations drawn for the estimate beyond that (default 2,000). */
  readonly sampledConfigs?: number;
  /** Receives a warning when the pool is smaller than the batch (default `console.warn`). */
  readonly warn?: (message: string) => void;
  /**
   * Computes the conditional entropies of every item at once where the
   * numbers are (a GPU; see `pipeline/tensor/device_batch.ts`): each greedy
   * step then evaluates every remaining item in one batch instead of the
   * lazy one-by-one evaluation in JS. Absent: JS, float64.
   */
  readonly device?: JointEntropyDevice;
}

/**
 * Something that computes H(y_i | y_S) for every item i in one batch: the
 * tensor part of BatchBALD. `load` receives the items' log-probabilities
 * once per selection; each call of `conditionalEntropies` gets the chosen
 * set's configurations (weights and posterior rows [count, T] over the T
 * samples) and returns one entropy per item (nats).
 */
export interface JointEntropyDevice {
  /** Puts the items' probabilities where the device computes; the caller releases what it returns. */
  load(logProbs_N_T_C: LogProbs): LoadedJointEntropies;
}

/** The items of one selection, loaded on a {@link JointEntropyDevice}. */
export interface LoadedJointEntropies {
  /** H(y_i | y_S) of every item, for `count` configurations (weights, and rows [count, T]). */
  conditionalEntropies(weight: Float64Array, rows_M_T: Float64Array, count: number): Promise<Float64Array>;
  /** Frees what `load` put on the device. */
  release(): void;
}

/**
 * Something that computes, for every row of an embedding matrix, the squared
 * Euclidean distance to its nearest row among `centres` (Infinity when there
 * are none): the tensor part of core-set's k-center greedy.
 */
export interface NearestCentresDevice {
  /** The distances, one per row of the row-major [n, d] `x_N_D`. */
  minSquaredDistances(x_N_D: Float32Array, n: number, d: number, centres: readonly number[]): Promise<Float64Array>;
}

/** The outcome of {@link batchBald}. */
export interface BatchBaldResult {
  /** Positions into the pool, in the order picked. */
  readonly picked: number[];
  /**
   * gains[k] = I(y_1..y_{k+1}; w) - I(y_1..y_k; w) for the picks (nats, floored
   * at 0; estimated in the sampled regime); their running sum is the batch's
   * joint mutual information. NaN for items whose log-probabilities hold NaN.
   */
  readonly gains: number[];
}

/**
 * Label configurations of the chosen set, as the kernel reads them: each
 * configuration m has a weight (its probability, or its share of the draws)
 * and a row q_m[t] = p(w_t | y_S = m), the posterior over the T samples.
 * Padded with zero rows of weight 0 to a multiple of 4.
 */
interface _Configs {
  readonly count: number;
  readonly weight: Float64Array;
  /** Row-major [count, T]. */
  readonly rows: Float64Array;
}

const _DEFAULT_MAX_EXACT = 10_000;
const _DEFAULT_SAMPLED = 2_000;

function _checkBatch(fn: string, b: number): void {
  if (!Number.isInteger(b) || b < 0) throw new RangeError(`${fn}: batch size must be an integer >= 0, got ${b}`);
}

function _warnSmall(fn: string, available: number, b: number, warn: (m: string) => void): void {
  if (available < b) warn(`${fn}: pool holds ${available} candidates, fewer than the batch of ${b}: taking all`);
}

/** -v log v, with 0 for v <= 0. */
function _negVLogV(v: number): number {
  return v > 0 ? -v * Math.log(v) : 0;
}

/**
 * H(y_i | y_S) = Σ_m weight_m H(r_m) with r_m[c] = Σ_t q_m[t] p_i[t, c].
 * `base` = i T C; `pT_C_T` is scratch of length C T for candidate i's
 * probabilities, transposed. The product is blocked 4 configurations x 2
 * classes, which V8 runs about twice as fast as the plain triple loop.
 */
function _conditionalEntropy(
  probs_N_T_C: Float64Array,
  base: number,
  t: number,
  c: number,
  cfg: _Configs,
  pT_C_T: Float64Array,
): number {
  for (let s = 0; s < t; s++) for (let j = 0; j < c; j++) pT_C_T[j * t + s] = probs_N_T_C[base + s * c + j] as number;
  const { weight, rows } = cfg;
  let total = 0;
  for (let m = 0; m < cfg.count; m += 4) {
    const r0 = m * t, r1 = r0 + t, r2 = r1 + t, r3 = r2 + t;
    let h0 = 0, h1 = 0, h2 = 0, h3 = 0;
    let j = 0;
    for (; j + 2 <= c; j += 2) {
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
      const oa = j * t, ob = oa + t;
      for (let s = 0; s < t; s++) {
        const pa = pT_C_T[oa + s] as number, pb = pT_C_T[ob + s] as number;
        const q0 = rows[r0 + s] as number, q1 = rows[r1 + s] as number;
        const q2 = rows[r2 + s] as number, q3 = rows[r3 + s] as number;
        a0 += q0 * pa;
        a1 += q1 * pa;
        a2 += q2 * pa;
        a3 += q3 * pa;
        b0 += q0 * pb;
        b1 += q1 * pb;
        b2 += q2 * pb;
        b3 += q3 * pb;
      }
      h0 += _negVLogV(a0) + _negVLogV(b0);
      h1 += _negVLogV(a1) + _negVLogV(b1);
      h2 += _negVLogV(a2) + _negVLogV(b2);
      h3 += _negVLogV(a3) + _negVLogV(b3);
    }
    if (j < c) {
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      const oa = j * t;
      for (let s = 0; s < t; s++) {
        const pa = pT_C_T[oa + s] as number;
        a0 += (rows[r0 + s] as number) * pa;
        a1 += (rows[r1 + s] as number) * pa;
        a2 += (rows[r2 + s] as number) * pa;
        a3 += (rows[r3 + s] as number) * pa;
      }
      h0 += _negVLogV(a0);
      h1 += _negVLogV(a1);
      h2 += _negVLogV(a2);
      h3 += _negVLogV(a3);
    }
    total += (weight[m] as number) * h0 + (weight[m + 1] as number) * h1 + (weight[m + 2] as number) * h2 +
      (weight[m + 3] as number) * h3;
  }
  return total;
}

/** Copies `count` weights and rows [count, T] into the padded form. */
function _packConfigs(weight: Float64Array, rows_M_T: Float64Array, count: number, t: number): _Configs {
  const padded = Math.ceil(count / 4) * 4;
  const w = new Float64Array(padded);
  w.set(weight.subarray(0, count));
  const rows = new Float64Array(padded * t);
  rows.set(rows_M_T.subarray(0, count * t));
  return { count: padded, weight: w, rows };
}

/** Draws a class from row `off` of `probs` (C entries, need not sum to 1); never a zero-probability class. */
function _drawClass(probs: Float64Array, off: number, c: number, u: number): number {
  let total = 0;
  for (let j = 0; j < c; j++) total += probs[off + j] as number;
  let x = u * total, last = 0;
  for (let j = 0; j < c; j++) {
    const p = probs[off + j] as number;
    if (p > 0) {
      last = j;
      x -= p;
      if (x < 0) return j;
    }
  }
  return last;
}

/**
 * BatchBALD (Kirsch, van Amersfoort & Gal 2019): picks b items that greedily
 * maximise the joint mutual information I(y_1, ..., y_b; w) between their
 * labels and the weights.
 *
 * The T samples must be consistent: sample t of every item comes from the
 * same weights w_t (e.g. the same dropout masks, `mcDropout({ consistent:
 * true })`), and w is uniform over w_1..w_T. Then
 *
 *   I(y_S; w) = H(y_S) - Σ_{j∈S} E_t H(y_j | w_t),
 *
 * and adding candidate i to S gains H(y_i | y_S) - E_t H(y_i | w_t). The
 * second term is fixed per item; the first is computed from the posterior
 * over samples given each configuration m of y_S, q_m[t] ∝ Π_{j∈S} p(y_j = m_j | w_t):
 *
 *   H(y_i | y_S) = Σ_m p(m) H(Σ_t q_m[t] p(y_i | w_t)).
 *
 * - Exact regime, while C^{|S|+1} <= `maxExactConfigs`: every configuration
 *   of y_S is enumerated with its probability p(m) = (1/T) Σ_t Π p(m_j | w_t)
 *   (the paper's [configs, T] product matrix, kept row-normalised so nothing
 *   underflows, and extended by one item per pick).
 * - Sampled regime beyond: `sampledConfigs` = M configurations are drawn
 *   from p(y_S) as in the paper (pick a sample t, then each y_j ~ p(y_j |
 *   w_t); a later pick extends each draw from its own w_t), and p(m) is
 *   replaced by the draw's weight. This equals the paper's importance-sampled
 *   H(y_S, y_i) minus the same draws' estimate of H(y_S). When M >= T the
 *   draws are stratified over the samples (draw m uses w_(m mod T), weighing
 *   1/T shared among that sample's draws), which lowers the variance;
 *   otherwise t is uniform and each draw weighs 1/M. Identical draws are
 *   merged. The seeded `rand` drives the draws, so a seed fixes the batch.
 *
 * Greedy is run lazily: the joint mutual information is submodular (shown in
 * the paper), so a candidate's last gain bounds its next one, and a step stops
 * evaluating once the best gain found is at least every remaining bound. In
 * the exact regime this picks what plain greedy picks; in the sampled regime
 * the bounds are themselves estimates.
 *
 * Zero probabilities (log-probability -Infinity) are safe (0 log 0 = 0).
 * Items whose log-probabilities hold NaN are never part of the joint: they
 * rank last and are only returned, with gain NaN, when the other items do not
 * fill the batch.
 *
 * Cost per evaluated candidate: (number of configurations) x T x C
 * multiply-adds. With T = 100 and C = 10 the exact regime covers the first 4
 * picks (at most 1,000 configurations of the chosen set); later picks use M.
 * The default M = 2,000 is a trade-off for plain JS: on synthetic pools of
 * 10,000 items (T = 100, C = 10, b = 10) it took 21-35 s on one shared CPU
 * core, against 47-75 s for M = 5,000, with the same joint mutual
 * information of the chosen batch (re-estimated with 50,000 draws) to within
 * 0.2%: the Monte-Carlo noise hurts the choice less than its size
 * suggests, as every candidate is scored on the same draws.
 *
 * @param logProbs_N_T_C log-probabilities of the pool, consistent across items
 * @param b batch size
 * @param opts seeded uniforms, the exact / sampled switch, and the warning sink
 * @returns positions picked (first first) and their marginal gains
 * @throws RangeError when the shape does not match the data, b is not an integer >= 0 or an option is not a positive integer
 * @throws Error when every item's log-probabilities hold NaN
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchBald } from "./batch.ts";
 * // Items 0 and 1 are the same coin flip on w; item 2 is another one.
 * const p = [[1, 0], [0, 1], [1, 0], [0, 1]]; // T = 4 samples of an item
 * const q = [[1, 0], [1, 0], [0, 1], [0, 1]];
 * const data = new Float32Array([p, p, q].flat(2).map(Math.log));
 * const { picked } = await batchBald({ data, n: 3, t: 4, c: 2 }, 2, { rand: Math.random });
 * assert(picked.join() === "0,2"); // not the copy
 * ```
 */
export async function batchBald(
  logProbs_N_T_C: LogProbs,
  b: number,
  opts: BatchBaldOptions,
): Promise<BatchBaldResult> {
  const fn = "batchBald";
  const { n, t, c, data } = logProbs_N_T_C;
  if (![n, t, c].every(Number.isInteger) || n < 0 || t < 1 || c < 1) {
    throw new RangeError(`${fn}: shape [${n}, ${t}, ${c}] is not valid`);
  }
  if (data.length !== n * t * c) {
    throw new RangeError(`${fn}: log-probabilities hold ${data.length} values, expected ${n} x ${t} x ${c}`);
  }
  _checkBatch(fn, b);
  const maxExact = opts.maxExactConfigs ?? _DEFAULT_MAX_EXACT;
  const sampled = opts.sampledConfigs ?? _DEFAULT_SAMPLED;
  if (!Number.isInteger(maxExact) || maxExact < 1) {
    throw new RangeError(`${fn}: maxExactConfigs must be a positive integer, got ${maxExact}`);
  }
  if (!Number.isInteger(sampled) || sampled < 1) {
    throw new RangeError(`${fn}: sampledConfigs must be a positive integer, got ${sampled}`);
  }
  const warn = opts.warn ?? console.warn;

  const probs = new Float64Array(data.length);
  for (let k = 0; k < data.length; k++) probs[k] = Math.exp(data[k] as number);
  // E_t H(y_i | w_t) per item.
  const expectedH_N = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let h = 0;
    for (let k = i * t * c; k < (i + 1) * t * c; k++) {
      const lp = data[k] as number;
      if (lp !== -Infinity) h -= Math.exp(lp) * lp;
    }
    expectedH_N[i] = h / t;
  }

  const pT = new Float64Array(t * c);
  const gainOf = (i: number, cfg: _Configs): number =>
    Math.max(0, _conditionalEntropy(probs, i * t * c, t, c, cfg, pT) - (expectedH_N[i] as number));
  const onDevice = opts.device?.load(logProbs_N_T_C);
  /** Every item's gain under `cfg`, computed on the device in one batch. */
  const allGains = async (cfg: _Configs): Promise<Float64Array> => {
    const h = await (onDevice as NonNullable<typeof onDevice>).conditionalEntropies(cfg.weight, cfg.rows, cfg.count);
    return h.map((v, i) => Math.max(0, v - (expectedH_N[i] as number)));
  };
  try {
    return await batchBaldSteps();
  } finally {
    onDevice?.release();
  }

  async function batchBaldSteps(): Promise<BatchBaldResult> {
    // Step 0: S is empty, one configuration with the uniform posterior; the gain is BALD.
    let configs = _packConfigs(new Float64Array([1]), new Float64Array(t).fill(1 / t), 1, t);
    let bound: Float64Array = new Float64Array(n);
    if (onDevice) bound = await allGains(configs);
    else for (let i = 0; i < n; i++) bound[i] = gainOf(i, configs);
    const valid: number[] = [], invalid: number[] = [];
    for (let i = 0; i < n; i++) (Number.isNaN(bound[i]) ? invalid : valid).push(i);
    if (n > 0 && valid.length === 0) throw new Error(`${fn}: every item's log-probabilities hold NaN (${n} items)`);
    _warnSmall(fn, n, b, warn);

    const picked: number[] = [], gains: number[] = [];
    const taken = new Uint8Array(n);
    // Exact regime: dense normalised posterior rows and probabilities of all configurations of y_S.
    let exactRows: Float64Array | undefined = new Float64Array(t).fill(1 / t);
    let exactWeight = new Float64Array([1]);
    // Sampled regime: per draw, the sample it came from and its classes for each pick.
    let drawT: Int32Array | undefined;
    let drawWeight = new Float64Array(0);
    let drawY: number[][] = [];

    const steps = Math.min(b, valid.length);
    for (let step = 0; step < steps; step++) {
      let best = -Infinity, bestI = -1;
      if (step === 0) {
        for (const i of valid) if ((bound[i] as number) > best) [best, bestI] = [bound[i] as number, i];
      } else if (onDevice) {
        // Every remaining item at once: the largest gain, ties to the lower position (as the lazy loop).
        const gains = await allGains(configs);
        for (const i of valid) {
          if (taken[i]) continue;
          const g = gains[i] as number;
          if (g > best || (g === best && i < bestI)) [best, bestI] = [g, i];
        }
      } else {
        const order = valid.filter((i) => !taken[i]).sort((a, z) =>
          (bound[z] as number) - (bound[a] as number) || a - z
        );
        for (const i of order) {
          const ub = bound[i] as number;
          if (bestI >= 0 && (best > ub || (best === ub && bestI < i))) break;
          const g = gainOf(i, configs);
          bound[i] = g;
          if (g > best || (g === best && i < bestI)) [best, bestI] = [g, i];
        }
      }
      picked.push(bestI);
      gains.push(best);
      taken[bestI] = 1;
      if (step === steps - 1) break;

      const base = bestI * t * c;
      if (exactRows !== undefined && c ** (picked.length + 1) <= maxExact) {
        // Extend every configuration by each class of the new pick.
        const count = exactWeight.length;
        const rows = new Float64Array(count * c * t);
        const weight = new Float64Array(count * c);
        let kept = 0;
        for (let m = 0; m < count; m++) {
          for (let j = 0; j < c; j++) {
            let s = 0;
            for (let u = 0; u < t; u++) {
              const v = (exactRows[m * t + u] as number) * (probs[base + u * c + j] as number);
              rows[kept * t + u] = v;
              s += v;
            }
            const w = (exactWeight[m] as number) * s;
            if (!(w > 0)) continue;
            for (let u = 0; u < t; u++) rows[kept * t + u] = (rows[kept * t + u] as number) / s;
            weight[kept++] = w;
          }
        }
        exactRows = rows.subarray(0, kept * t);
        exactWeight = weight.slice(0, kept);
        configs = _packConfigs(exactWeight, exactRows, kept, t);
        continue;
      }

      // Sampled regime: draw configurations of the picks so far (all of them on the
      // switch, the new pick only afterwards), merge identical ones, rebuild the rows.
      if (drawT === undefined) {
        exactRows = undefined;
        drawT = new Int32Array(sampled);
        drawWeight = new Float64Array(sampled);
        drawY = [];
        // Stratified over the samples when there are enough draws: draw m comes
        // from w_(m mod T) and weighs (1/T) / (draws from that sample).
        const stratified = sampled >= t;
        for (let m = 0; m < sampled; m++) {
          const s = stratified ? m % t : Math.min(t - 1, Math.floor(opts.rand() * t));
          drawT[m] = s;
          drawWeight[m] = stratified ? 1 / (t * (Math.floor(sampled / t) + (s < sampled % t ? 1 : 0))) : 1 / sampled;
          drawY.push(picked.map((j) => _drawClass(probs, j * t * c + s * c, c, opts.rand())));
        }
      } else {
        for (let m = 0; m < sampled; m++) {
          (drawY[m] as number[]).push(_drawClass(probs, base + (drawT[m] as number) * c, c, opts.rand()));
        }
      }
      const distinct = new Map<string, { y: number[]; weight: number }>();
      drawY.forEach((y, m) => {
        const key = y.join(",");
        const seen = distinct.get(key);
        if (seen) seen.weight += drawWeight[m] as number;
        else distinct.set(key, { y, weight: drawWeight[m] as number });
      });
      const rows = new Float64Array(distinct.size * t);
      const weight = new Float64Array(distinct.size);
      let kept = 0;
      for (const { y, weight: w } of distinct.values()) {
        const row = rows.subarray(kept * t, (kept + 1) * t).fill(1);
        picked.forEach((j, pos) => {
          let max = 0;
          for (let u = 0; u < t; u++) {
            const v = (row[u] as number) * (probs[j * t * c + u * c + (y[pos] as number)] as number);
            row[u] = v;
            if (v > max) max = v;
          }
          if (max > 0) { for (let u = 0; u < t; u++) row[u] = (row[u] as number) / max; // keep clear of underflow
           }
        });
        let s = 0;
        for (let u = 0; u < t; u++) s += row[u] as number;
        if (!(s > 0)) continue;
        for (let u = 0; u < t; u++) row[u] = (row[u] as number) / s;
        weight[kept++] = w;
      }
      configs = _packConfigs(weight, rows, kept, t);
    }

    for (const i of invalid) {
      if (picked.length >= b) break;
      picked.push(i);
      gains.push(NaN);
    }
    return { picked, gains };
  }
}

/**
 * Power acquisition, from "Stochastic Batch Acquisition: A Simple Baseline
 * for Deep Active Learning" (Kirsch, Farquhar, Atighehchian, Jesson,
 * Branchaud-Charron & Gal 2023): instead of the top b scores, draw b items
 * without replacement with probability ∝ score^β. β = 0 is uniform sampling;
 * as β grows it approaches top-k.
 *
 * Drawn with the Gumbel-top-k trick (Kool, van Hoof & Welling 2019): with
 * G_i = -log(-log U_i) independent standard Gumbel, the items with the b
 * largest β log s_i + G_i are a draw without replacement from the weights
 * s_i^β. Scores <= 0 (log = -Infinity) come after every positive score, in
 * random order, and NaN scores after them; ties go to the lower position.
 *
 * @param scores one score per candidate, higher = more worth labelling
 * @param b batch size
 * @param beta the power β, finite and >= 0
 * @param rand seeded uniforms in [0, 1)
 * @param warn receives a warning when fewer than b candidates exist (default `console.warn`)
 * @returns positions into `scores`, in the order drawn
 * @throws RangeError when b or beta is not valid
 * @throws Error when every score is NaN
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { powerAcquisition } from "./batch.ts";
 * // A very large β makes it top-k.
 * assert(powerAcquisition([0.1, 0.9, 0.5], 2, 1e6, Math.random).join() === "1,2");
 * ```
 */
export function powerAcquisition(
  scores: ArrayLike<number>,
  b: number,
  beta: number,
  rand: () => number,
  warn: (message: string) => void = console.warn,
): number[] {
  const fn = "powerAcquisition";
  _checkBatch(fn, b);
  if (!Number.isFinite(beta) || beta < 0) throw new RangeError(`${fn}: beta must be finite and >= 0, got ${beta}`);
  const n = scores.length;
  let nan = 0;
  for (let i = 0; i < n; i++) if (Number.isNaN(scores[i])) nan++;
  if (n > 0 && nan === n) throw new Error(`${fn}: every score is NaN (${n} candidates)`);
  _warnSmall(fn, n, b, warn);
  const tier = new Uint8Array(n);
  const key = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = scores[i] as number;
    const u = rand();
    const gumbel = -Math.log(-Math.log(u > 0 ? u : Number.MIN_VALUE));
    if (Number.isNaN(s)) tier[i] = 2;
    else if (s <= 0) tier[i] = 1;
    key[i] = tier[i] === 0 && beta > 0 ? beta * Math.log(s) + gumbel : gumbel;
  }
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, z) => (tier[a] as number) - (tier[z] as number) || (key[z] as number) - (key[a] as number) || a - z);
  return order.slice(0, Math.min(b, n));
}

/** Squared Euclidean distance between rows a and b' of `x_N_D`. */
function _dist2(x_N_D: Float32Array, d: number, a: number, z: number): number {
  let s = 0;
  const oa = a * d, oz = z * d;
  for (let k = 0; k < d; k++) {
    const v = (x_N_D[oa + k] as number) - (x_N_D[oz + k] as number);
    s += v * v;
  }
  return s;
}

/** Lowers minD2[i] to the squared distance from row i to row `centre`, for every row. */
function _relax(x_N_D: Float32Array, n: number, d: number, centre: number, minD2: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const v = _dist2(x_N_D, d, i, centre);
    if (v < (minD2[i] as number)) minD2[i] = v;
  }
}

/**
 * Core-set greedy k-center (Sener & Savarese 2018, "Active Learning for
 * Convolutional Neural Networks: A Core-Set Approach", Algorithm 1): the
 * centres start as the labelled rows; each step picks the unlabelled row
 * farthest (Euclidean) from its nearest centre and makes it a centre. The
 * largest distance from any row to its nearest centre is then at most twice
 * the best achievable with b new centres.
 *
 * With nothing labelled there is no centre to measure from; the first pick
 * is then the row farthest from the mean of all rows (a deterministic stand-in
 * for the arbitrary first centre of Gonzalez's algorithm; the factor 2 still
 * holds). Ties go to the lower position.
 *
 * @param embeddings_N_D row-major [n, d] embeddings of labelled and unlabelled rows
 * @param n rows
 * @param d columns
 * @param labelled positions of the labelled rows (repeats are ignored)
 * @param b batch size
 * @param warn receives a warning when fewer than b unlabelled rows exist (default `console.warn`)
 * @param labelledD2 each row's squared distance to its nearest labelled row, when computed elsewhere (a
 *   {@link NearestCentresDevice}, the rule's tensor part); computed here by default
 * @returns positions of the new picks, in the order picked
 * @throws RangeError when sizes disagree, a labelled position is out of range, or a value is not finite
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kCenterGreedy } from "./batch.ts";
 * const x = new Float32Array([0, 0, 1, 0, 9, 0]); // three points in 2-D
 * assert(kCenterGreedy(x, 3, 2, [0], 1).join() === "2");
 * ```
 */
export function kCenterGreedy(
  embeddings_N_D: Float32Array,
  n: number,
  d: number,
  labelled: Int32Array | number[],
  b: number,
  warn: (message: string) => void = console.warn,
  labelledD2?: Float64Array,
): number[] {
  const fn = "kCenterGreedy";
  checkMatrix(fn, "embeddings", embeddings_N_D, n, d);
  _checkBatch(fn, b);
  const centre = new Uint8Array(n);
  for (const l of labelled) {
    if (!Number.isInteger(l) || l < 0 || l >= n) throw new RangeError(`${fn}: labelled position ${l} is not a row`);
    centre[l] = 1;
  }
  let unlabelled = 0;
  for (let i = 0; i < n; i++) if (!centre[i]) unlabelled++;
  _warnSmall(fn, unlabelled, b, warn);
  let minD2 = new Float64Array(n).fill(Infinity);
  if (labelledD2 !== undefined) {
    if (labelledD2.length !== n) {
      throw new RangeError(`${fn}: ${labelledD2.length} distances to the labelled rows, expected ${n}`);
    }
    minD2 = Float64Array.from(labelledD2);
  } else {
    for (let i = 0; i < n; i++) if (centre[i]) _relax(embeddings_N_D, n, d, i, minD2);
  }
  const picks: number[] = [];
  const steps = Math.min(b, unlabelled);
  if (steps > 0 && unlabelled === n) {
    const mean = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < d; k++) mean[k] = (mean[k] as number) + (embeddings_N_D[i * d + k] as number) / n;
    }
    let far = -1, farD2 = -1;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += ((embeddings_N_D[i * d + k] as number) - (mean[k] as number)) ** 2;
      if (s > farD2) [far, farD2] = [i, s];
    }
    picks.push(far);
    centre[far] = 1;
    _relax(embeddings_N_D, n, d, far, minD2);
  }
  while (picks.length < steps) {
    let far = -1, farD2 = -1;
    for (let i = 0; i < n; i++) if (!centre[i] && (minD2[i] as number) > farD2) [far, farD2] = [i, minD2[i] as number];
    picks.push(far);
    centre[far] = 1;
    _relax(embeddings_N_D, n, d, far, minD2);
  }
  return picks;
}

/**
 * k-means++ seeding (Arthur & Vassilvitskii 2007) as BADGE uses it to pick a
 * diverse batch of gradient embeddings (Ash, Zhang, Krishnamurthy, Langford
 * & Agarwal 2020, "Deep Batch Active Learning by Diverse, Uncertain Gradient
 * Lower Bounds"): the first centre is the row with the largest norm (as in
 * BADGE's code, rather than a uniform draw), then each next row is drawn
 * with probability ∝ D², its squared distance to the nearest centre so far.
 *
 * Rows at distance 0 (the centres themselves and their exact duplicates)
 * have probability 0, so no row or copy is picked twice while any row at a
 * positive distance remains; once every remaining distance is 0, the
 * remaining rows are taken in order of position. Ties for the largest norm
 * go to the lower position.
 *
 * @param embeddings_N_D row-major [n, d] embeddings
 * @param n rows
 * @param d columns
 * @param b batch size
 * @param rand seeded uniforms in [0, 1)
 * @param warn receives a warning when fewer than b rows exist (default `console.warn`)
 * @returns positions picked, in the order picked
 * @throws RangeError when sizes disagree or a value is not finite
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kMeansPlusPlus } from "./batch.ts";
 * const x = new Float32Array([1, 0, 5, 5, 1, 0]); // rows 0 and 2 are the same point
 * // Row 1 has the largest norm; then rows 0 and 2 are equally likely, and the other
 * // is left for last, when every remaining distance is 0.
 * const picks = kMeansPlusPlus(x, 3, 2, 3, Math.random);
 * assert(picks[0] === 1 && [...picks].sort().join() === "0,1,2");
 * ```
 */
export function kMeansPlusPlus(
  embeddings_N_D: Float32Array,
  n: number,
  d: number,
  b: number,
  rand: () => number,
  warn: (message: string) => void = console.warn,
): number[] {
  const fn = "kMeansPlusPlus";
  checkMatrix(fn, "embeddings", embeddings_N_D, n, d);
  _checkBatch(fn, b);
  _warnSmall(fn, n, b, warn);
  const steps = Math.min(b, n);
  const picks: number[] = [];
  if (steps === 0) return picks;
  let first = 0, firstNorm = -1;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += (embeddings_N_D[i * d + k] as number) ** 2;
    if (s > firstNorm) [first, firstNorm] = [i, s];
  }
  const chosen = new Uint8Array(n);
  const minD2 = new Float64Array(n).fill(Infinity);
  const choose = (i: number) => {
    picks.push(i);
    chosen[i] = 1;
    minD2[i] = 0;
    _relax(embeddings_N_D, n, d, i, minD2);
  };
  choose(first);
  while (picks.length < steps) {
    let total = 0;
    for (let i = 0; i < n; i++) if (!chosen[i]) total += minD2[i] as number;
    let next = -1;
    if (total > 0 && Number.isFinite(total)) {
      let x = rand() * total;
      for (let i = 0; i < n; i++) {
        const w = minD2[i] as number;
        if (chosen[i] || !(w > 0)) continue;
        next = i;
        x -= w;
        if (x < 0) break;
      }
    } else if (total > 0) {
      // Squared distances overflowed: take the farthest row.
      for (let i = 0; i < n; i++) {
        if (!chosen[i] && (next < 0 || (minD2[i] as number) > (minD2[next] as number))) next = i;
      }
    } else {
      next = chosen.indexOf(0);
    }
    choose(next);
  }
  return picks;
}

/**
 * BADGE gradient embeddings (Ash et al. 2020, "Deep Batch Active Learning by
 * Diverse, Uncertain Gradient Lower Bounds"): the gradient of the
 * cross-entropy loss with respect to the last linear layer's weights, taking
 * the model's own prediction ŷ = argmax_k p_k as the label:
 *
 *   g[k * D + j] = (p_k - [k = ŷ]) h_j,
 *
 * with h the penultimate features, i.e. the outer product (p - onehot(ŷ)) ⊗ h
 * laid out class by class. Its norm is large for uncertain items with large
 * features. This is the gradient itself; BADGE's code stores its negative,
 * (onehot(ŷ) - p) ⊗ h, which has the same norms and pairwise distances, so
 * k-means++ over either picks alike. Ties for ŷ go to the lower class.
 *
 * @param probs_N_C predictive probabilities (e.g. the MC mean), row-major [n, c]
 * @param features_N_D penultimate features, row-major [n, d]
 * @param n rows
 * @param c classes
 * @param d feature size
 * @returns row-major [n, c * d] embeddings
 * @throws RangeError when sizes disagree or a value is not finite
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { badgeEmbeddings } from "./batch.ts";
 * const g = badgeEmbeddings(new Float32Array([0.75, 0.25]), new Float32Array([2]), 1, 2, 1);
 * assert(g.join() === "-0.5,0.5"); // (0.75 - 1) * 2, (0.25 - 0) * 2
 * ```
 */
export function badgeEmbeddings(
  probs_N_C: Float32Array,
  features_N_D: Float32Array,
  n: number,
  c: number,
  d: number,
): Float32Array {
  const fn = "badgeEmbeddings";
  checkMatrix(fn, "probabilities", probs_N_C, n, c);
  checkMatrix(fn, "features", features_N_D, n, d);
  const out = new Float32Array(n * c * d);
  for (let i = 0; i < n; i++) {
    let top = 0;
    for (let k = 1; k < c; k++) if ((probs_N_C[i * c + k] as number) > (probs_N_C[i * c + top] as number)) top = k;
    for (let k = 0; k < c; k++) {
      const coef = (probs_N_C[i * c + k] as number) - (k === top ? 1 : 0);
      for (let j = 0; j < d; j++) out[i * c * d + k * d + j] = coef * (features_N_D[i * d + j] as number);
    }
  }
  return out;
}
