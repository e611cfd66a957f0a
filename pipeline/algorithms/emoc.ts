/**
 * Expected Model Output Change (EMOC) for a network's last layer, in the
 * first-order form of Käding, Rodner, Freytag & Denzler 2016 ("Active and
 * continuous exploration with deep neural networks and expected model output
 * changes", NIPS workshop), which carries the EMOC criterion of Freytag,
 * Rodner & Denzler 2014 ("Selecting influential examples: active learning
 * with expected model output changes", ECCV) over to deep networks.
 *
 * The question a score answers: if candidate x' were labelled and the model
 * took one gradient step on it, how much would the model's outputs on the
 * rest of the data move, on average over the label the model expects x' to
 * get? Only the last dense softmax layer is updated, which gives closed
 * forms. With penultimate features h(x) ∈ R^d, logits z = W h + b and
 * p = softmax(z), one SGD step (step size 1) on the cross-entropy of (x', y')
 * moves (W, b) by -(p(x') - e_y') ⊗ [h(x'); 1], so to first order the logits
 * of a reference item x move by
 *
 *   Δz(x) = -(p(x') - e_y') (h(x)·h(x') + 1),
 *
 * and the probabilities by Δp(x) = J(x) Δz(x), J(x) = diag(p(x)) - p(x) p(x)^T
 * the softmax Jacobian. The score is
 *
 *   EMOC(x') = Σ_y' p(y' | x') mean_{x ∈ R} ||Δf(x)||_1,
 *
 * with f the logits or the probabilities and R a reference set (the pool or a
 * sample of it). A larger step size scales every score alike.
 *
 * - {@link emocScores}: the scores from predictive probabilities and features.
 * - {@link emocReference}: a seeded uniform sample of reference rows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emocScores } from "./emoc.ts";
 * // Two candidates with 1-D features 1 and -2, both as references.
 * const probs = new Float32Array([0.5, 0.5, 0.8, 0.2]);
 * const h = new Float32Array([1, -2]);
 * const s = emocScores(probs, h, 2, 2, 1, { reference: [0, 1], output: "logits" });
 * // 2 (1 - Σ p²) times the mean of |h·h' + 1|: 1 * (2 + 1) / 2 and 0.64 * (1 + 5) / 2.
 * assert(Math.abs(s[0]! - 1.5) < 1e-6 && Math.abs(s[1]! - 1.92) < 1e-6);
 * ```
 *
 * @module
 */
import { checkMatrix } from "./checks.ts";

/** Which output's change {@link emocScores} measures. */
export type EmocOutput = "logits" | "probs";

/** Options of {@link emocScores}. */
export interface EmocOptions {
  /**
   * Rows (positions into the candidates) whose output change is averaged;
   * a row given twice counts twice. Must not be empty when there are candidates.
   */
  readonly reference: readonly number[];
  /**
   * "probs" (default): the L1 change of the predicted class distribution;
   * "logits": the L1 change of the logits.
   */
  readonly output?: EmocOutput;
}

/**
 * s[r m + x] = h_{i0 + r} · ref_x + 1 for the r < rows candidates of a block
 * starting at i0 and all m references. Blocked 4 candidates x 2 references, so
 * each pass over d reads six rows for eight products; a short block repeats
 * its last row and drops the extra results.
 */
function _blockDots(
  emb: Float32Array,
  d: number,
  i0: number,
  rows: number,
  ref: Float64Array,
  m: number,
  s: Float64Array,
): void {
  const a0 = i0 * d;
  const a1 = (i0 + Math.min(1, rows - 1)) * d;
  const a2 = (i0 + Math.min(2, rows - 1)) * d;
  const a3 = (i0 + Math.min(3, rows - 1)) * d;
  let x = 0;
  for (; x + 2 <= m; x += 2) {
    const b0 = x * d, b1 = b0 + d;
    let s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0;
    for (let k = 0; k < d; k++) {
      const r0 = ref[b0 + k] as number, r1 = ref[b1 + k] as number;
      const e0 = emb[a0 + k] as number, e1 = emb[a1 + k] as number;
      const e2 = emb[a2 + k] as number, e3 = emb[a3 + k] as number;
      s00 += e0 * r0;
      s01 += e0 * r1;
      s10 += e1 * r0;
      s11 += e1 * r1;
      s20 += e2 * r0;
      s21 += e2 * r1;
      s30 += e3 * r0;
      s31 += e3 * r1;
    }
    s[x] = s00 + 1;
    s[x + 1] = s01 + 1;
    if (rows > 1) [s[m + x], s[m + x + 1]] = [s10 + 1, s11 + 1];
    if (rows > 2) [s[2 * m + x], s[2 * m + x + 1]] = [s20 + 1, s21 + 1];
    if (rows > 3) [s[3 * m + x], s[3 * m + x + 1]] = [s30 + 1, s31 + 1];
  }
  if (x < m) {
    const b0 = x * d;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let k = 0; k < d; k++) {
      const r0 = ref[b0 + k] as number;
      s0 += (emb[a0 + k] as number) * r0;
      s1 += (emb[a1 + k] as number) * r0;
      s2 += (emb[a2 + k] as number) * r0;
      s3 += (emb[a3 + k] as number) * r0;
    }
    s[x] = s0 + 1;
    if (rows > 1) s[m + x] = s1 + 1;
    if (rows > 2) s[2 * m + x] = s2 + 1;
    if (rows > 3) s[3 * m + x] = s3 + 1;
  }
}

/**
 * Σ_y q_y ||J (q - e_y)||_1 for a candidate's distribution q and the Jacobian
 * J = diag(p) - p p^T of a reference's distribution p (at offset po of
 * `refP`). Writing v = q - (p·q), the k-th entry of J (q - e_y) is
 * p_k (v_k + p_y) for k ≠ y and p_y (v_y + p_y - 1) for k = y, so each label
 * costs one pass over the classes. `v` is scratch of length c.
 */
function _probsChange(q: Float64Array, refP: Float64Array, po: number, c: number, v: Float64Array): number {
  let pq = 0;
  for (let k = 0; k < c; k++) pq += (refP[po + k] as number) * (q[k] as number);
  for (let k = 0; k < c; k++) v[k] = (q[k] as number) - pq;
  let total = 0;
  for (let y = 0; y < c; y++) {
    const qy = q[y] as number;
    if (qy === 0) continue;
    const py = refP[po + y] as number;
    let a = 0;
    for (let k = 0; k < c; k++) a += (refP[po + k] as number) * Math.abs((v[k] as number) + py);
    const vy = (v[y] as number) + py;
    total += qy * (a + py * (Math.abs(vy - 1) - Math.abs(vy)));
  }
  return total;
}

/**
 * First-order Expected Model Output Change of the last softmax layer
 * (Käding et al. 2016, after Freytag et al. 2014; see the module doc for the
 * derivation). For each candidate x' with predictive q = p(· | x'):
 *
 * - "logits": Σ_y q_y ||q - e_y||_1 · mean_x |h(x)·h(x') + 1|, which for a
 *   distribution q is 2 (1 - ||q||²) · mean_x |h(x)·h(x') + 1|;
 * - "probs" (default): Σ_y q_y mean_x |h(x)·h(x') + 1| ||J(x) (q - e_y)||_1,
 *   with J(x) the softmax Jacobian at the reference's predictive p(· | x).
 *
 * The given probabilities serve both as the candidates' label distributions
 * and as the references' softmax outputs (pass the MC mean, see
 * `meanPredictive` in `scores.ts`, or a deterministic net's softmax). Labels of
 * probability 0 are skipped. Costs n m d for the feature products plus
 * n m c² for "probs" (n m for "logits").
 *
 * @param probs_N_C predictive probabilities of the candidates, row-major [n, c]
 * @param embeddings_N_D penultimate features of the candidates, row-major [n, d]
 * @param n candidates
 * @param c classes
 * @param d feature size
 * @param opts the reference rows and which output to measure
 * @returns one score per candidate (higher: a larger expected change)
 * @throws RangeError when sizes disagree, a value is not finite, a probability is negative, a reference is not a row
 *   or the reference set is empty while there are candidates
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emocScores } from "./emoc.ts";
 * // A confident candidate (0) changes little; an undecided one (1) more.
 * const probs = new Float32Array([0.99, 0.01, 0.5, 0.5]);
 * const h = new Float32Array([1, 0, 1, 0]);
 * const s = emocScores(probs, h, 2, 2, 2, { reference: [0, 1] });
 * assert(s[1]! > s[0]!);
 * ```
 */
export function emocScores(
  probs_N_C: Float32Array,
  embeddings_N_D: Float32Array,
  n: number,
  c: number,
  d: number,
  opts: EmocOptions,
): Float64Array {
  const fn = "emocScores";
  checkMatrix(fn, "probabilities", probs_N_C, n, c);
  checkMatrix(fn, "embeddings", embeddings_N_D, n, d);
  for (let i = 0; i < probs_N_C.length; i++) {
    if ((probs_N_C[i] as number) < 0) {
      throw new RangeError(`${fn}: probabilities row ${Math.floor(i / c)} holds a negative value (${probs_N_C[i]})`);
    }
  }
  const output = opts.output ?? "probs";
  if (output !== "probs" && output !== "logits") throw new RangeError(`${fn}: unknown output "${output}"`);
  const { reference } = opts;
  const m = reference.length;
  const out = new Float64Array(n);
  if (n === 0) return out;
  if (m === 0) throw new RangeError(`${fn}: the reference set is empty`);
  const refH = new Float64Array(m * d);
  const refP = new Float64Array(m * c);
  reference.forEach((r, x) => {
    if (!Number.isInteger(r) || r < 0 || r >= n) throw new RangeError(`${fn}: reference position ${r} is not a row`);
    for (let k = 0; k < d; k++) refH[x * d + k] = embeddings_N_D[r * d + k] as number;
    for (let k = 0; k < c; k++) refP[x * c + k] = probs_N_C[r * c + k] as number;
  });

  const block = 4;
  const s = new Float64Array(block * m);
  const v = new Float64Array(c), q = new Float64Array(c);
  for (let i0 = 0; i0 < n; i0 += block) {
    const rows = Math.min(block, n - i0);
    _blockDots(embeddings_N_D, d, i0, rows, refH, m, s);
    for (let r = 0; r < rows; r++) {
      const i = i0 + r, qo = i * c, so = r * m;
      if (output === "logits") {
        // Σ_y q_y ||q - e_y||_1 = Σ_y q_y (Σ_k |q_k| - |q_y| + |q_y - 1|).
        let l1 = 0;
        for (let k = 0; k < c; k++) l1 += Math.abs(probs_N_C[qo + k] as number);
        let label = 0;
        for (let y = 0; y < c; y++) {
          const qy = probs_N_C[qo + y] as number;
          label += qy * (l1 - Math.abs(qy) + Math.abs(qy - 1));
        }
        let mean = 0;
        for (let x = 0; x < m; x++) mean += Math.abs(s[so + x] as number);
        out[i] = label * mean / m;
      } else {
        for (let k = 0; k < c; k++) q[k] = probs_N_C[qo + k] as number;
        let total = 0;
        for (let x = 0; x < m; x++) {
          const sx = Math.abs(s[so + x] as number);
          if (sx === 0) continue;
          total += sx * _probsChange(q, refP, x * c, c, v);
        }
        out[i] = total / m;
      }
    }
  }
  return out;
}

/**
 * A uniform sample of m distinct rows out of n (all n rows, in order, when
 * m >= n), for the reference set of {@link emocScores}. Partial
 * Fisher-Yates shuffle; the sample is returned sorted.
 *
 * @param n rows
 * @param m rows wanted
 * @param rand seeded uniforms in [0, 1)
 * @returns sorted distinct positions
 * @throws RangeError when n or m is not an integer >= 0
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emocReference } from "./emoc.ts";
 * const r = emocReference(100, 5, Math.random);
 * assert(r.length === 5 && new Set(r).size === 5);
 * ```
 */
export function emocReference(n: number, m: number, rand: () => number): number[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`emocReference: rows must be an integer >= 0, got ${n}`);
  if (!Number.isInteger(m) || m < 0) {
    throw new RangeError(`emocReference: sample size must be an integer >= 0, got ${m}`);
  }
  if (m >= n) return Array.from({ length: n }, (_, i) => i);
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  for (let j = 0; j < m; j++) {
    const r = j + Math.min(n - j - 1, Math.floor(rand() * (n - j)));
    const tmp = idx[j] as number;
    idx[j] = idx[r] as number;
    idx[r] = tmp;
  }
  return Array.from(idx.subarray(0, m)).sort((a, b) => a - b);
}
