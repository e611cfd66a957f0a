import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../../tests/asserts.ts";
import {
  log1mexp,
  type MultiLabelLogProbs,
  multiLabelMeanProbs,
  multiLabelMetrics,
  multiLabelScore,
  multiLabelScoreFn,
} from "./multilabel.ts";

/** Builds [N, T, L] log-probabilities of "on" from probabilities. */
function fromProbs(items: number[][][]): MultiLabelLogProbs {
  const n = items.length, t = items[0]!.length, l = items[0]![0]!.length;
  return { data: new Float32Array(items.flat(2).map(Math.log)), n, t, l };
}

// Binary entropies used below (nats): h(p) = -p ln p - (1 - p) ln(1 - p).
const h5 = Math.LN2; // h(0.5) = 0.6931472
const h9 = 0.3250830; // h(0.9) = h(0.1)
const h7 = 0.6108643; // h(0.7)
const h2 = 0.5004024; // h(0.2)

// Three labels, two samples per item (T = 2).
// Item 0: label 0 samples (1, 0) -> p̄ 0.5; label 1 (0.9, 0.9) -> p̄ 0.9; label 2 (0, 0) -> p̄ 0.
//   entropy per label (h5, h9, 0); BALD per label (h5 - 0, 0, 0) = (ln 2, 0, 0).
//   expected tags 0.5 + 0.9 + 0 = 1.4.
// Item 1: label 0 (0.9, 0.5) -> p̄ 0.7; label 1 (0.2, 0.2); label 2 (0.1, 0.1).
//   entropy (h7, h2, h9); BALD label 0: h7 - (h9 + h5) / 2 = 0.6108643 - 0.5091151 = 0.1017492; others 0.
//   expected tags 0.7 + 0.2 + 0.1 = 1.0.
// Item 2: all probabilities exactly 0 (log -Infinity): every uncertainty 0; expected tags 0 -> floor 1.
// Item 3: all probabilities exactly 1 (log 0): every uncertainty 0; expected tags 3.
const chunk = fromProbs([
  [[1, 0.9, 0], [0, 0.9, 0]],
  [[0.9, 0.2, 0.1], [0.5, 0.2, 0.1]],
  [[0, 0, 0], [0, 0, 0]],
  [[1, 1, 1], [1, 1, 1]],
]);

Deno.test("log1mexp gives log(1 - p) from log p, including p = 0 and p = 1", () => {
  assertAlmostEquals(log1mexp(Math.log(0.9)), Math.log(0.1), 1e-12);
  assertAlmostEquals(log1mexp(Math.log(0.25)), Math.log(0.75), 1e-12);
  // p = 1e-10 off: log(1 - e^a) with a = log(1 - 1e-10) ≈ -1e-10 -> log(1e-10) = -23.0258509.
  assertAlmostEquals(log1mexp(-1e-10), Math.log(1e-10), 1e-6);
  assertEquals(log1mexp(0), -Infinity);
  assert(log1mexp(-Infinity) === 0); // -0 or +0
  // Rounding above 0 is read as p = 1.
  assertEquals(log1mexp(1e-9), -Infinity);
});

Deno.test("multi-label entropy: mean, max and sum-per-tag", () => {
  const mean = multiLabelScore("entropy", "mean")(chunk);
  // (h5 + h9 + 0) / 3 = 1.0182302 / 3 = 0.3394101; (h7 + h2 + h9) / 3 = 1.4363497 / 3 = 0.4787832.
  assertAlmostEquals(mean[0]!, 0.3394101, 1e-6);
  assertAlmostEquals(mean[1]!, 0.4787832, 1e-6);
  const max = multiLabelScore("entropy", "max")(chunk);
  assertAlmostEquals(max[0]!, h5, 1e-6);
  assertAlmostEquals(max[1]!, h7, 1e-6);
  const perTag = multiLabelScore("entropy", "sum-per-tag")(chunk);
  // 1.0182302 / 1.4 = 0.7273073; 1.4363497 / max(1, 1.0) = 1.4363497.
  assertAlmostEquals(perTag[0]!, 0.7273073, 1e-6);
  assertAlmostEquals(perTag[1]!, h7 + h2 + h9, 1e-6);
  for (const s of [mean, max, perTag]) {
    assertEquals(s[2], 0);
    assertEquals(s[3], 0);
  }
});

Deno.test("multi-label BALD: ln 2 for confident disagreement, 0 for agreement", () => {
  const mean = multiLabelScore("bald", "mean")(chunk);
  // ln 2 / 3 = 0.2310491; 0.1017492 / 3 = 0.0339164.
  assertAlmostEquals(mean[0]!, 0.2310491, 1e-6);
  assertAlmostEquals(mean[1]!, 0.0339164, 1e-6);
  const max = multiLabelScore("bald", "max")(chunk);
  assertAlmostEquals(max[0]!, Math.LN2, 1e-6);
  assertAlmostEquals(max[1]!, 0.1017492, 1e-6);
  const perTag = multiLabelScore("bald", "sum-per-tag")(chunk);
  // ln 2 / 1.4 = 0.4951051; 0.1017492 / 1.0.
  assertAlmostEquals(perTag[0]!, 0.4951051, 1e-6);
  assertAlmostEquals(perTag[1]!, 0.1017492, 1e-6);
  for (const s of [mean, max, perTag]) {
    assertEquals(s[2], 0);
    assertEquals(s[3], 0);
  }
});

Deno.test("multi-label BALD is 0 with a single sample; entropy is not", () => {
  // T = 1, one item, labels (0.5, 0.9): BALD h(p) - h(p) = 0; entropy max = h5.
  const one = fromProbs([[[0.5, 0.9]]]);
  assertAlmostEquals(multiLabelScore("bald", "max")(one)[0]!, 0, 1e-12);
  assertAlmostEquals(multiLabelScore("entropy", "max")(one)[0]!, h5, 1e-6);
});

Deno.test("sum-per-tag does not grow with the number of equally uncertain tags", () => {
  // Document A: two tags at 0.9, two labels at 0 -> sum 2 h9 = 0.6501659, expected tags 1.8 -> 0.3612033.
  // Document B: four tags at 0.9 -> sum 4 h9 = 1.3003319, expected tags 3.6 -> 0.3612033.
  // The mean over labels doubles instead: 2 h9 / 4 = 0.1625415 vs 4 h9 / 4 = 0.3250830.
  const docs = fromProbs([[[0.9, 0.9, 0, 0]], [[0.9, 0.9, 0.9, 0.9]]]);
  const perTag = multiLabelScore("entropy", "sum-per-tag")(docs);
  assertAlmostEquals(perTag[0]!, 0.3612033, 1e-6);
  assertAlmostEquals(perTag[1]!, 0.3612033, 1e-6);
  const mean = multiLabelScore("entropy", "mean")(docs);
  assertAlmostEquals(mean[0]!, 0.1625415, 1e-6);
  assertAlmostEquals(mean[1]!, h9, 1e-6);
});

Deno.test("multi-label scores are finite for probabilities of exactly 0 and 1", () => {
  for (const kind of ["entropy", "bald"] as const) {
    for (const agg of ["mean", "max", "sum-per-tag"] as const) {
      for (const v of multiLabelScore(kind, agg)(chunk)) assert(Number.isFinite(v), `${kind}/${agg} gave ${v}`);
    }
  }
});

Deno.test("multiLabelScoreFn reads a LogProbs chunk's classes as labels", () => {
  const fn = multiLabelScoreFn("bald", "max");
  const s = fn({ data: chunk.data, n: chunk.n, t: chunk.t, c: chunk.l }, Math.random);
  assertAlmostEquals(s[0]!, Math.LN2, 1e-6);
  assertAlmostEquals(s[1]!, 0.1017492, 1e-6);
});

Deno.test("multiLabelMeanProbs averages the samples", () => {
  const p = multiLabelMeanProbs(chunk);
  const expected = [0.5, 0.9, 0, 0.7, 0.2, 0.1, 0, 0, 0, 1, 1, 1];
  assertEquals(p.length, expected.length);
  expected.forEach((v, k) => assertAlmostEquals(p[k]!, v, 1e-6));
});

Deno.test("multi-label scores reject bad shapes and names", async () => {
  const bad = { data: new Float32Array(5), n: 1, t: 2, l: 3 };
  await assertRejects(() => multiLabelScore("entropy", "mean")(bad), /needs 6/);
  await assertRejects(() => multiLabelScore("entropy", "sum" as "mean"), /unknown aggregate/);
  await assertRejects(() => multiLabelScore("margin" as "bald", "mean"), /unknown kind/);
  // An empty chunk is fine.
  assertEquals(multiLabelScore("bald", "mean")({ data: new Float32Array(0), n: 0, t: 0, l: 0 }).length, 0);
});

// Metrics, N = 3 documents, L = 6 labels (threshold 0.5, predicted when score >= 0.5).
// doc 0: scores (0.9, 0.6, 0.2, 0.1, 0.05, 0), tags {0, 2}.
//   ranking 0, 1, 2, ... -> top1 label 0 is a tag: hit; top5 hit;
//   recall: 2 tags, top 2 = {0, 1} holds 1 of them -> 1/2.
//   predicted {0, 1}.
// doc 1: scores (0.3, 0.8, 0.4, 0.5, 0, 0.1), tags {2}.
//   ranking 1, 3, 2, 0, 5, 4 -> top1 miss; tag 2 at rank 3: top5 hit; recall top 1 = {1} -> 0.
//   predicted {1, 3} (0.5 counts as on).
// doc 2: scores (0.2, 0.1, 0.7, 0.05, 0.3, 0.4), tags {3}.
//   ranking 2, 5, 4, 0, 1, 3 -> tag 3 is last (rank 6): top1 and top5 miss; recall 0.
//   predicted {2}.
// top1 = 1/3, top5 = 2/3, recall = (1/2 + 0 + 0) / 3 = 1/6.
// Per label: 0: TP 1 (doc 0) -> F1 1. 1: FP 2 (docs 0, 1) -> 0. 2: FP 1 (doc 2), FN 2 (docs 0, 1) -> 0.
//   3: FP 1 (doc 1), FN 1 (doc 2) -> 0. 4 and 5: no tag, no prediction -> left out of macro-F1.
// micro: TP 1, FP 4, FN 3 -> 2 / (2 + 4 + 3) = 2/9. macro: (1 + 0 + 0 + 0) / 4 = 0.25.
const scoresA = new Float32Array([
  [0.9, 0.6, 0.2, 0.1, 0.05, 0],
  [0.3, 0.8, 0.4, 0.5, 0, 0.1],
  [0.2, 0.1, 0.7, 0.05, 0.3, 0.4],
].flat());
const truthA = new Uint8Array([
  [1, 0, 1, 0, 0, 0],
  [0, 0, 1, 0, 0, 0],
  [0, 0, 0, 1, 0, 0],
].flat());

Deno.test("multi-label metrics: top-k, recall and F1 by hand", () => {
  const m = multiLabelMetrics(scoresA, truthA, { labels: 6 });
  assertAlmostEquals(m.top1, 1 / 3, 1e-12);
  assertAlmostEquals(m.top5, 2 / 3, 1e-12);
  assertAlmostEquals(m.recall, 1 / 6, 1e-12);
  assertAlmostEquals(m.microF1, 2 / 9, 1e-12);
  assertAlmostEquals(m.macroF1, 0.25, 1e-12);
  assertEquals(m.documents, 3);
  assertEquals(m.macroLabels, 4);
});

Deno.test("multi-label metrics: the threshold option", () => {
  // Threshold 0.55: doc 1's label 3 (0.5) is no longer predicted.
  //   label 3: FN 1 only -> still 0 and still counted (it has a tag).
  //   micro: TP 1, FP 3, FN 3 -> 2 / 8 = 0.25; macro unchanged (1 + 0 + 0 + 0) / 4 = 0.25.
  //   Rankings do not depend on the threshold: top1, top5, recall unchanged.
  const m = multiLabelMetrics(scoresA, truthA, { labels: 6, threshold: 0.55 });
  assertAlmostEquals(m.microF1, 0.25, 1e-12);
  assertAlmostEquals(m.macroF1, 0.25, 1e-12);
  assertAlmostEquals(m.top1, 1 / 3, 1e-12);
  assertEquals(m.macroLabels, 4);
});

Deno.test("multi-label metrics: partial per-label F1 and fewer than 5 labels", () => {
  // N = 3, L = 2.
  // doc 0: (0.7, 0.6), tags {0, 1}; doc 1: (0.6, 0.9), tags {0}; doc 2: (0.4, 0.2), tags {0}.
  // label 0: predicted docs 0, 1; tags docs 0, 1, 2 -> TP 2, FN 1 -> F1 4/5 = 0.8.
  // label 1: predicted docs 0, 1; tag doc 0 -> TP 1, FP 1 -> F1 2/3.
  // macro (0.8 + 2/3) / 2 = 0.7333333; micro TP 3, FP 1, FN 1 -> 6/8 = 0.75.
  // top1: doc 0 best 0 (hit), doc 1 best 1 (miss), doc 2 best 0 (hit) -> 2/3.
  // top5 looks at both labels -> every document hits -> 1.
  // recall: doc 0 top 2 holds both tags -> 1; doc 1 top 1 = {1} -> 0; doc 2 top 1 = {0} -> 1 -> 2/3.
  const m = multiLabelMetrics(
    new Float32Array([0.7, 0.6, 0.6, 0.9, 0.4, 0.2]),
    new Uint8Array([1, 1, 1, 0, 1, 0]),
    { labels: 2 },
  );
  assertAlmostEquals(m.macroF1, (0.8 + 2 / 3) / 2, 1e-12);
  assertAlmostEquals(m.microF1, 0.75, 1e-12);
  assertAlmostEquals(m.top1, 2 / 3, 1e-12);
  assertAlmostEquals(m.top5, 1, 1e-12);
  assertAlmostEquals(m.recall, 2 / 3, 1e-12);
});

Deno.test("multi-label metrics: documents without tags are left out of top-k and recall", () => {
  // doc 0: (0.9, 0.1), no tag -> skipped by top1/top5/recall, but its prediction of label 0 is a FP.
  // doc 1: (0.2, 0.8), tag {1} -> top1 hit, recall 1.
  // top1 = top5 = recall = 1/1. label 0: FP 1 -> F1 0 (counted); label 1: TP 1 -> 1.
  // macro (0 + 1) / 2 = 0.5; micro TP 1, FP 1 -> 2 / 3.
  const m = multiLabelMetrics(new Float32Array([0.9, 0.1, 0.2, 0.8]), new Uint8Array([0, 0, 0, 1]), { labels: 2 });
  assertEquals(m.documents, 1);
  assertAlmostEquals(m.top1, 1, 1e-12);
  assertAlmostEquals(m.top5, 1, 1e-12);
  assertAlmostEquals(m.recall, 1, 1e-12);
  assertAlmostEquals(m.macroF1, 0.5, 1e-12);
  assertAlmostEquals(m.microF1, 2 / 3, 1e-12);
});

Deno.test("multi-label metrics: all zeros give 0, not NaN", () => {
  // No tag and no prediction anywhere: every denominator is empty -> all metrics 0.
  const m = multiLabelMetrics(new Float32Array(6), new Uint8Array(6), { labels: 3 });
  assertEquals(m, { top1: 0, top5: 0, recall: 0, microF1: 0, macroF1: 0, documents: 0, macroLabels: 0 });
});

Deno.test("multi-label metrics: probabilities of exactly 0 and 1, and ties", () => {
  // doc 0: (1, 0, 0), tag {0}; doc 1: (0, 1, 1), tags {1, 2}: perfect at 0.5 -> micro = macro = 1,
  //   top1 = top5 = recall = 1 (doc 1's top 2 is {1, 2}).
  const perfect = multiLabelMetrics(new Float32Array([1, 0, 0, 0, 1, 1]), new Uint8Array([1, 0, 0, 0, 1, 1]), {
    labels: 3,
  });
  assertEquals(perfect, { top1: 1, top5: 1, recall: 1, microF1: 1, macroF1: 1, documents: 2, macroLabels: 3 });
  // A tie at 0.5 on both labels, tag {1}: the tie goes to label 0 -> top1 miss, recall 0, top5 hit.
  //   0.5 >= 0.5: both predicted -> label 0 FP, label 1 TP -> macro (0 + 1) / 2 = 0.5, micro 2 / 3.
  const tie = multiLabelMetrics(new Float32Array([0.5, 0.5]), new Uint8Array([0, 1]), { labels: 2 });
  assertEquals(tie.top1, 0);
  assertEquals(tie.recall, 0);
  assertEquals(tie.top5, 1);
  assertAlmostEquals(tie.macroF1, 0.5, 1e-12);
  assertAlmostEquals(tie.microF1, 2 / 3, 1e-12);
});

Deno.test("multi-label metrics: NaN scores rank last and are never predicted", () => {
  // (NaN, 0.1), tag {0}: label 0 ranks second -> top1 miss; not predicted -> FN -> F1 0.
  const m = multiLabelMetrics(new Float32Array([NaN, 0.1]), new Uint8Array([1, 0]), { labels: 2 });
  assertEquals(m.top1, 0);
  assertEquals(m.top5, 1);
  assertEquals(m.microF1, 0);
});

Deno.test("multi-label metrics reject mismatched shapes", async () => {
  await assertRejects(() => multiLabelMetrics(new Float32Array(4), new Uint8Array(6), { labels: 2 }), /do not make/);
  await assertRejects(() => multiLabelMetrics(new Float32Array(5), new Uint8Array(5), { labels: 2 }), /do not make/);
  await assertRejects(() => multiLabelMetrics(new Float32Array(4), new Uint8Array(4), { labels: 0 }), /positive/);
});
