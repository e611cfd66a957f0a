import { assert, assertAlmostEquals } from "../../tests/asserts.ts";
import {
  bald,
  leastConfidence,
  type LogProbs,
  margin,
  maxEntropy,
  meanStd,
  randomScore,
  type ScoreFn,
  variationRatios,
} from "./scores.ts";

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

// Three-class items, two samples each (T = 2):
// Item 0: (0.6, 0.3, 0.1) and (0.2, 0.5, 0.3): mean (0.4, 0.4, 0.2).
//   least confidence 1 - 0.4 = 0.6; margin 1 - (0.4 - 0.4) = 1 (a tie at the top).
// Item 1: (0.5, 0.2, 0.3) twice: mean (0.5, 0.2, 0.3).
//   least confidence 0.5; margin 1 - (0.5 - 0.3) = 0.8.
// Item 2: (1, 0, 0) twice (log 0 = -Infinity): mean (1, 0, 0).
//   least confidence 0; margin 1 - (1 - 0) = 0; entropy 0; BALD 0.
// Item 3: (0, 0, 1) and (0, 1, 0): mean (0, 0.5, 0.5), two confident samples that disagree.
//   least confidence 0.5; margin 1; entropy ln 2; each sample's entropy 0 -> BALD ln 2.
const three = fromProbs([
  [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]],
  [[0.5, 0.2, 0.3], [0.5, 0.2, 0.3]],
  [[1, 0, 0], [1, 0, 0]],
  [[0, 0, 1], [0, 1, 0]],
]);

Deno.test("least confidence is 1 minus the largest mean probability", () => {
  // Two-class cases above: means (0.5, 0.5), (0.7, 0.3), (0.7, 0.3) -> 0.5, 0.3, 0.3.
  const s = leastConfidence(lp, Math.random);
  assertAlmostEquals(s[0]!, 0.5, 1e-6);
  assertAlmostEquals(s[1]!, 0.3, 1e-6);
  assertAlmostEquals(s[2]!, 0.3, 1e-6);
  const s3 = leastConfidence(three, Math.random);
  assertAlmostEquals(s3[0]!, 0.6, 1e-6);
  assertAlmostEquals(s3[1]!, 0.5, 1e-6);
  assertAlmostEquals(s3[2]!, 0, 1e-12);
  assertAlmostEquals(s3[3]!, 0.5, 1e-6);
});

Deno.test("margin is 1 minus the gap between the two largest mean probabilities", () => {
  // Two-class cases: means (0.5, 0.5) -> 1 - 0 = 1; (0.7, 0.3) -> 1 - 0.4 = 0.6 (twice).
  const s = margin(lp, Math.random);
  assertAlmostEquals(s[0]!, 1, 1e-6);
  assertAlmostEquals(s[1]!, 0.6, 1e-6);
  assertAlmostEquals(s[2]!, 0.6, 1e-6);
  const s3 = margin(three, Math.random);
  assertAlmostEquals(s3[0]!, 1, 1e-6);
  assertAlmostEquals(s3[1]!, 0.8, 1e-6);
  assertAlmostEquals(s3[2]!, 0, 1e-12);
  assertAlmostEquals(s3[3]!, 1, 1e-6);
});

Deno.test("margin with a single class is 0", () => {
  // C = 1: p̄ = (1), y^(2) taken as 0 -> 1 - (1 - 0) = 0.
  const one: LogProbs = { data: new Float32Array([0, 0]), n: 1, t: 2, c: 1 };
  assertAlmostEquals(margin(one, Math.random)[0]!, 0, 1e-12);
  assertAlmostEquals(leastConfidence(one, Math.random)[0]!, 0, 1e-12);
});

Deno.test("BALD is 0 when samples agree and ln 2 for two confident disagreeing samples (3 classes)", () => {
  const s = bald(three, Math.random);
  // Item 1: identical samples -> 0. Item 2: identical one-hot samples -> 0.
  assertAlmostEquals(s[1]!, 0, 1e-6);
  assertAlmostEquals(s[2]!, 0, 1e-12);
  assertAlmostEquals(s[3]!, Math.LN2, 1e-6);
  // Item 0: H(0.4, 0.4, 0.2) = 1.0549202; E[H] = (0.8979457 + 1.0296530) / 2 = 0.9637993
  //   -> BALD 0.0911208.
  assertAlmostEquals(s[0]!, 0.0911208, 1e-6);
  const h = maxEntropy(three, Math.random);
  assertAlmostEquals(h[2]!, 0, 1e-12);
  assertAlmostEquals(h[3]!, Math.LN2, 1e-6);
});

Deno.test("probabilities of exactly 0 give no NaN", () => {
  const all: ScoreFn[] = [maxEntropy, bald, variationRatios, meanStd, leastConfidence, margin, randomScore];
  for (const fn of all) {
    for (const chunk of [lp, three]) {
      for (const v of fn(chunk, Math.random)) assert(Number.isFinite(v), `${fn.name} gave ${v}`);
    }
  }
});
