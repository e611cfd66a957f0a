import { assert, assertAlmostEquals } from "../tests/asserts.ts";
import { bald, type LogProbs, maxEntropy, meanStd, variationRatios } from "./scores.ts";

/** Builds [N, T, C] log-probabilities from probabilities. */
function fromProbs(items: number[][][]): LogProbs {
  const n = items.length, t = items[0]!.length, c = items[0]![0]!.length;
  const data = new Float32Array(items.flat(2).map(Math.log));
  return { data, n, t, c };
}

// Item 0: two confident samples that disagree, p = (1, 0) and (0, 1).
//   mean p = (0.5, 0.5): entropy = ln 2; each sample's entropy is 0, so BALD = ln 2.
//   argmaxes 0 and 1: the mode appears once in 2 -> variation ratio 1 - 1/2 = 0.5.
//   each class's p over samples is {1, 0}: population std 0.5 -> mean std 0.5.
// Item 1: three samples that all say (0.7, 0.3).
//   entropy = -(0.7 ln 0.7 + 0.3 ln 0.3) = 0.6108643; BALD = 0; VR = 0; mean std = 0.
// Item 2: samples (0.9, 0.1) and (0.5, 0.5); mean (0.7, 0.3).
//   entropy 0.6108643; E[H] = (0.3250830 + 0.6931472) / 2 = 0.5091151 -> BALD 0.1017492.
//   argmaxes 0 and 0 (ties go to the first class) -> VR 0.
//   stds: class 0 {0.9, 0.5} -> 0.2, class 1 {0.1, 0.5} -> 0.2 -> mean std 0.2.
const cases = [
  [[1, 0], [0, 1], [1, 0], [0, 1]],
  [[0.7, 0.3], [0.7, 0.3], [0.7, 0.3], [0.7, 0.3]],
  [[0.9, 0.1], [0.5, 0.5], [0.9, 0.1], [0.5, 0.5]],
];
const lp = fromProbs(cases);

Deno.test("max entropy matches hand-computed values", () => {
  const s = maxEntropy(lp, Math.random);
  assertAlmostEquals(s[0]!, Math.LN2, 1e-6);
  assertAlmostEquals(s[1]!, 0.6108643, 1e-6);
  assertAlmostEquals(s[2]!, 0.6108643, 1e-6);
});

Deno.test("BALD is ln 2 for confident disagreement, 0 for agreement", () => {
  const s = bald(lp, Math.random);
  assertAlmostEquals(s[0]!, Math.LN2, 1e-6);
  assertAlmostEquals(s[1]!, 0, 1e-6);
  assertAlmostEquals(s[2]!, 0.1017492, 1e-6);
});

Deno.test("variation ratios count the modal class", () => {
  const s = variationRatios(lp, Math.random);
  assertAlmostEquals(s[0]!, 0.5, 1e-12);
  assertAlmostEquals(s[1]!, 0, 1e-12);
  assertAlmostEquals(s[2]!, 0, 1e-12);
});

Deno.test("mean std averages per-class standard deviations", () => {
  const s = meanStd(lp, Math.random);
  assertAlmostEquals(s[0]!, 0.5, 1e-6);
  assertAlmostEquals(s[1]!, 0, 1e-6);
  assertAlmostEquals(s[2]!, 0.2, 1e-6);
});

Deno.test("probabilities of exactly 0 give no NaN", () => {
  for (const fn of [maxEntropy, bald, variationRatios, meanStd]) {
    for (const v of fn(lp, Math.random)) assert(Number.isFinite(v), `${fn.name} gave ${v}`);
  }
});
