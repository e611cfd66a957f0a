/**
 * Multi-label (sigmoid) acquisition scores and evaluation metrics, for the
 * NLP part of S. Loustau's talk "Bayesian Deep Active Learning: Computer
 * vision and NLP" (2023): multi-label text classification, where a document
 * carries any number of tags and the net has one independent sigmoid output
 * per tag (trained with binary cross-entropy). The talk's data sets are
 * French library catalogues; this project runs the same setting on
 * Reuters-21578 (ModApte).
 *
 * Predictions are per-label log-probabilities of "on", log p(y_l = 1 | x, w),
 * for T posterior samples. The log-probability of "off", log(1 - p), is
 * derived from it without cancellation (`log1mexp`), so a probability of
 * exactly 0 or 1 gives finite scores.
 *
 * @module
 */
import type { LogProbs, ScoreFn } from "./scores.ts";

/**
 * A chunk of multi-label predictions: `data[(i * t + s) * l + k]` is
 * log p(label k is on | item i, sample s), row-major [N, T, L]. Values are
 * log-probabilities (≤ 0, -Infinity for a probability of 0); the off
 * probability of each label is 1 - p, not a separate entry.
 */
export interface MultiLabelLogProbs {
  readonly data: Float32Array;
  /** N: items. */
  readonly n: number;
  /** T: posterior samples per item. */
  readonly t: number;
  /** L: labels (tags). */
  readonly l: number;
}

/** Per-label uncertainty: binary entropy of the mean, or binary BALD. */
export type MultiLabelScoreKind = "entropy" | "bald";

/** How per-label uncertainties become one score per item. */
export type MultiLabelAggregate = "mean" | "max" | "sum-per-tag";

/**
 * log(1 - e^a) for a log-probability a, computed without cancellation
 * (Mächler 2012, "Accurately computing log(1 - exp(-|a|))"): for a close to
 * 0 via expm1, otherwise via log1p. log1mexp(0) = -Infinity (p = 1 leaves
 * nothing off) and log1mexp(-Infinity) = 0. Rounding can leave a
 * log-sigmoid slightly above 0; such values are treated as 0.
 *
 * @param a log p, with p in [0, 1]
 * @returns log(1 - p)
 */
export function log1mexp(a: number): number {
  const x = Math.min(a, 0);
  return x > -Math.LN2 ? Math.log(-Math.expm1(x)) : Math.log1p(-Math.exp(x));
}

/** x log x from log x, with 0 log 0 = 0. */
function xlogx(logx: number): number {
  return logx === -Infinity ? 0 : Math.exp(logx) * logx;
}

/** x log x from x, with 0 log 0 = 0. */
function xlogxOf(x: number): number {
  return x > 0 ? x * Math.log(x) : 0;
}

function checkShape(lp: MultiLabelLogProbs, who: string): void {
  if (!Number.isInteger(lp.n) || !Number.isInteger(lp.t) || !Number.isInteger(lp.l) || lp.n < 0) {
    throw new RangeError(`${who}: bad shape [${lp.n}, ${lp.t}, ${lp.l}]`);
  }
  if (lp.n > 0 && (lp.t < 1 || lp.l < 1)) {
    throw new RangeError(`${who}: need at least one sample and one label, got [${lp.n}, ${lp.t}, ${lp.l}]`);
  }
  if (lp.data.length !== lp.n * lp.t * lp.l) {
    throw new RangeError(
      `${who}: data has ${lp.data.length} values, shape [${lp.n}, ${lp.t}, ${lp.l}] needs ${lp.n * lp.t * lp.l}`,
    );
  }
}

/**
 * Per-label uncertainties of item i into `u` (length L), and the MC-mean
 * on-probabilities into `pOn`.
 *
 * entropy: h(p̄_l) = -p̄ ln p̄ - q̄ ln q̄, where p̄ and q̄ are the means over
 * samples of p and of 1 - p (each averaged from its own log, so that q̄ keeps
 * its precision when p is near 1).
 * bald: h(p̄_l) - (1/T) Σ_s h(p_sl), the mutual information between the
 * label and the weights (Houlsby et al. 2011) for one binary output,
 * clamped at 0 against rounding.
 */
function perLabel(
  lp: MultiLabelLogProbs,
  kind: MultiLabelScoreKind,
  i: number,
  u: Float64Array,
  pOn: Float64Array,
  pOff: Float64Array,
  expected: Float64Array,
): void {
  pOn.fill(0);
  pOff.fill(0);
  expected.fill(0);
  const base = i * lp.t * lp.l;
  for (let s = 0; s < lp.t; s++) {
    const row = base + s * lp.l;
    for (let k = 0; k < lp.l; k++) {
      const a = lp.data[row + k] as number;
      const b = log1mexp(a);
      pOn[k] = (pOn[k] as number) + Math.exp(a);
      pOff[k] = (pOff[k] as number) + Math.exp(b);
      if (kind === "bald") expected[k] = (expected[k] as number) - xlogx(a) - xlogx(b);
    }
  }
  for (let k = 0; k < lp.l; k++) {
    const p = (pOn[k] as number) / lp.t;
    const q = (pOff[k] as number) / lp.t;
    pOn[k] = p;
    const h = -xlogxOf(p) - xlogxOf(q);
    u[k] = kind === "entropy" ? h : Math.max(0, h - (expected[k] as number) / lp.t);
  }
}

/**
 * A multi-label acquisition score: per-label uncertainty of each item's
 * sigmoid outputs, aggregated over labels into one number (higher = more
 * worth labelling).
 *
 * Per-label uncertainty (`kind`), from the MC mean p̄_l of the T samples:
 * - `"entropy"`: binary entropy h(p̄_l), the talk's entropy uncertainty
 *   H(y) applied to each tag's on/off output;
 * - `"bald"`: binary mutual information h(p̄_l) - mean_s h(p_sl) (Houlsby et
 *   al. 2011 for a single Bernoulli output); 0 when all samples agree.
 *
 * Aggregation over the L labels (`aggregate`):
 * - `"mean"`: Σ_l u_l / L;
 * - `"max"`: max_l u_l, the most doubtful tag;
 * - `"sum-per-tag"`: Σ_l u_l / max(1, Σ_l p̄_l), the summed uncertainty per
 *   expected tag.
 *
 * Why `"sum-per-tag"`: the talk warns, for its multi-label experiments, that
 * "the uncertainty depends on the number of tags". A document with more tags
 * has more outputs that can sit away from 0, so summed uncertainty grows
 * with its tag count and the acquisition prefers many-tag documents rather
 * than documents the model is unsure about. The talk gives the warning but
 * no formula (its own answer is the Bayesian top-u entropy, see
 * `top_u.ts`); we normalise by the number of tags. Pool items have no known
 * tags, so the count is the model's expected number of tags Σ_l p̄_l (smooth,
 * unlike a thresholded count), floored at 1 so that a document predicted to
 * carry almost no tag is not inflated by a tiny denominator. Two documents
 * whose tags are equally uncertain then score the same whatever their
 * number of tags.
 *
 * @param kind per-label uncertainty
 * @param aggregate how labels are combined
 * @returns a function from a chunk [N, T, L] to N scores; it throws a
 *   RangeError when the data length does not match the shape
 * @throws RangeError on an unknown kind or aggregate
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { multiLabelScore } from "./multilabel.ts";
 * // One item, two samples, one label: p = 1 then p = 0 -> mean 0.5, BALD ln 2.
 * const lp = { data: new Float32Array([0, -Infinity]), n: 1, t: 2, l: 1 };
 * assert(Math.abs(multiLabelScore("bald", "max")(lp)[0]! - Math.LN2) < 1e-9);
 * ```
 */
export function multiLabelScore(
  kind: MultiLabelScoreKind,
  aggregate: MultiLabelAggregate,
): (lp: MultiLabelLogProbs) => Float64Array {
  if (kind !== "entropy" && kind !== "bald") throw new RangeError(`multiLabelScore: unknown kind ${String(kind)}`);
  if (aggregate !== "mean" && aggregate !== "max" && aggregate !== "sum-per-tag") {
    throw new RangeError(`multiLabelScore: unknown aggregate ${String(aggregate)}`);
  }
  return (lp) => {
    checkShape(lp, "multiLabelScore");
    const out = new Float64Array(lp.n);
    const u = new Float64Array(lp.l);
    const pOn = new Float64Array(lp.l);
    const pOff = new Float64Array(lp.l);
    const expected = new Float64Array(lp.l);
    for (let i = 0; i < lp.n; i++) {
      perLabel(lp, kind, i, u, pOn, pOff, expected);
      let sum = 0, max = 0, tags = 0;
      for (let k = 0; k < lp.l; k++) {
        const v = u[k] as number;
        sum += v;
        if (v > max) max = v;
        tags += pOn[k] as number;
      }
      out[i] = aggregate === "mean" ? sum / lp.l : aggregate === "max" ? max : sum / Math.max(1, tags);
    }
    return out;
  };
}

/**
 * `multiLabelScore` as a `ScoreFn`, for registering with `defineScore`: the
 * chunk's C axis is read as the L labels, and its entries as per-label
 * log-probabilities of "on" (log-sigmoid outputs), not a softmax.
 *
 * @param kind per-label uncertainty
 * @param aggregate how labels are combined
 * @returns the score function
 */
export function multiLabelScoreFn(kind: MultiLabelScoreKind, aggregate: MultiLabelAggregate): ScoreFn {
  const fn = multiLabelScore(kind, aggregate);
  return (lp: LogProbs) => fn({ data: lp.data, n: lp.n, t: lp.t, l: lp.c });
}

/**
 * MC-mean on-probabilities p̄ [N, L] of a chunk, e.g. to feed
 * `multiLabelMetrics`.
 *
 * @param lp per-label log-probabilities [N, T, L]
 * @returns row-major [N, L] mean probabilities
 */
export function multiLabelMeanProbs(lp: MultiLabelLogProbs): Float32Array {
  checkShape(lp, "multiLabelMeanProbs");
  const out = new Float32Array(lp.n * lp.l);
  for (let i = 0; i < lp.n; i++) {
    for (let s = 0; s < lp.t; s++) {
      const row = (i * lp.t + s) * lp.l;
      for (let k = 0; k < lp.l; k++) {
        out[i * lp.l + k] = (out[i * lp.l + k] as number) + Math.exp(lp.data[row + k] as number);
      }
    }
    for (let k = 0; k < lp.l; k++) out[i * lp.l + k] = (out[i * lp.l + k] as number) / lp.t;
  }
  return out;
}

/** Options of `multiLabelMetrics`. */
export interface MultiLabelMetricOptions {
  /** L, the number of labels (columns of `scores` and `truth`). */
  readonly labels: number;
  /** A label is predicted on when its probability is ≥ threshold (default 0.5). */
  readonly threshold?: number;
}

/** Multi-label evaluation metrics; all in [0, 1]. */
export interface MultiLabelMetrics {
  /** Fraction of documents whose highest-scored label is one of their tags. */
  readonly top1: number;
  /** Fraction of documents with at least one tag among their 5 highest-scored labels. */
  readonly top5: number;
  /** Mean over documents of the fraction of their k tags found among their k highest-scored labels. */
  readonly recall: number;
  /** F1 of all (document, label) decisions pooled. */
  readonly microF1: number;
  /** Mean of per-label F1 over the labels with a tag or a prediction. */
  readonly macroF1: number;
  /** Documents with at least one tag: the denominator of top1, top5 and recall. */
  readonly documents: number;
  /** Labels averaged in macroF1. */
  readonly macroLabels: number;
}

/**
 * Multi-label metrics of the talk's NLP benchmark tables ("top1", "top5",
 * "recall"), plus micro- and macro-F1 at a threshold.
 *
 * Our reading of the talk's metrics, which it names but does not define:
 * - top1: the share of documents whose best-scored label is a true tag
 *   (precision@1);
 * - top5: the share of documents with at least one true tag among the five
 *   best-scored labels (a hit rate, not precision@5: the tables report top5
 *   well above top1, 0.98 vs 0.78, which precision@5 over documents with
 *   one or two tags could not reach);
 * - recall: for a document with k true tags, the share of them among its k
 *   best-scored labels (recall@k with k its own tag count, i.e.
 *   R-precision), averaged over documents. It equals the top1 hit for a
 *   one-tag document, consistent with the tables' recall sitting just above
 *   top1.
 *
 * These three rank labels by score, highest first, ties going to the lower
 * label index (NaN ranks last); with fewer than 5 labels top5 looks at all
 * of them. Documents without any tag have nothing to find and are left out
 * of all three; the count used is `documents`.
 *
 * F1 uses the decisions score ≥ threshold. microF1 = 2 TP / (2 TP + FP + FN)
 * over all cells. macroF1 averages per-label F1 over the labels that have at
 * least one tag or one prediction; a label with neither is left out (its F1
 * is 0/0: counting it as 1 would reward nothing, as 0 would punish nothing),
 * and a label with tags or predictions but no true positive counts as 0.
 * Any quantity whose denominator is empty (no tagged document, no tag and no
 * prediction at all) is reported as 0.
 *
 * @param scores predicted on-probabilities, row-major [N, L]
 * @param truth tags, row-major [N, L]; nonzero means the tag is present
 * @param opts the number of labels L and the threshold
 * @returns the metrics
 * @throws RangeError when the lengths do not match [N, L] or L is not a positive integer
 */
export function multiLabelMetrics(
  scores: Float32Array,
  truth: Uint8Array,
  opts: MultiLabelMetricOptions,
): MultiLabelMetrics {
  const l = opts.labels;
  const threshold = opts.threshold ?? 0.5;
  if (!Number.isInteger(l) || l < 1) {
    throw new RangeError(`multiLabelMetrics: labels must be a positive integer, got ${l}`);
  }
  if (scores.length !== truth.length || scores.length % l !== 0) {
    throw new RangeError(
      `multiLabelMetrics: ${scores.length} scores and ${truth.length} tags do not make [N, ${l}] arrays`,
    );
  }
  const n = scores.length / l;
  const k5 = Math.min(5, l);
  const tp = new Int32Array(l), fp = new Int32Array(l), fn = new Int32Array(l);
  const order = Array.from({ length: l }, (_, k) => k);
  let documents = 0, hits1 = 0, hits5 = 0, recallSum = 0;
  for (let i = 0; i < n; i++) {
    const row = i * l;
    let tags = 0;
    for (let k = 0; k < l; k++) {
      const on = truth[row + k] !== 0;
      const s = scores[row + k] as number;
      const predicted = s >= threshold;
      if (on) tags++;
      if (on && predicted) tp[k] = (tp[k] as number) + 1;
      else if (predicted) fp[k] = (fp[k] as number) + 1;
      else if (on) fn[k] = (fn[k] as number) + 1;
    }
    if (tags === 0) continue;
    documents++;
    const key = (k: number): number => {
      const s = scores[row + k] as number;
      return Number.isNaN(s) ? -Infinity : s;
    };
    order.sort((a, b) => key(b) - key(a) || a - b);
    // Walk the ranking down to the deeper of rank k (this document's tag
    // count) and rank 5, noting where true tags fall.
    let found = 0, first = -1;
    for (let r = 0; r < Math.max(tags, k5); r++) {
      if (truth[row + (order[r] as number)] === 0) continue;
      if (first < 0) first = r;
      if (r < tags) found++;
    }
    if (first === 0) hits1++;
    if (first >= 0 && first < k5) hits5++;
    recallSum += found / tags;
  }
  let tpAll = 0, fpAll = 0, fnAll = 0, f1Sum = 0, macroLabels = 0;
  for (let k = 0; k < l; k++) {
    const a = tp[k] as number, b = fp[k] as number, c = fn[k] as number;
    tpAll += a;
    fpAll += b;
    fnAll += c;
    if (a + b + c === 0) continue;
    macroLabels++;
    f1Sum += (2 * a) / (2 * a + b + c);
  }
  const microDen = 2 * tpAll + fpAll + fnAll;
  return {
    top1: documents > 0 ? hits1 / documents : 0,
    top5: documents > 0 ? hits5 / documents : 0,
    recall: documents > 0 ? recallSum / documents : 0,
    microF1: microDen > 0 ? (2 * tpAll) / microDen : 0,
    macroF1: macroLabels > 0 ? f1Sum / macroLabels : 0,
    documents,
    macroLabels,
  };
}
