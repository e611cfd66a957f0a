import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../../tests/asserts.ts";
import type { LogProbs } from "./scores.ts";
import { topUEntropy } from "./top_u.ts";

/** Builds [N, T, C] log-probabilities from probabilities (0 becomes -Infinity). */
function fromProbs(items: number[][][]): LogProbs {
  const n = items.length, t = items[0]!.length, c = items[0]![0]!.length;
  return { data: new Float32Array(items.flat(2).map(Math.log)), n, t, c };
}

/** Score of a single item. */
const score = (u: number, samples: number[][]) => topUEntropy(u)(fromProbs([samples]), Math.random)[0]!;

const LN2 = Math.LN2, LN3 = Math.log(3);

Deno.test("top-u: all samples agree on the ranking", () => {
  // Four samples, each ranking classes 0 > 1 > 2.
  const agree = [[0.7, 0.2, 0.1], [0.7, 0.2, 0.1], [0.7, 0.2, 0.1], [0.7, 0.2, 0.1]];
  // u = 1: class 0 every time, counts (4, 0, 0) / 4 = (1, 0, 0): entropy 0.
  assertAlmostEquals(score(1, agree), 0, 1e-12);
  // u = 2: top two are {0, 1} every time, counts (4, 4, 0) / 8 = (1/2, 1/2, 0): ln 2.
  // Agreement still scores ln u, not 0.
  assertAlmostEquals(score(2, agree), LN2, 1e-12);
  // u = 3 = C: every class every time, counts (4, 4, 4) / 12: uniform, ln 3.
  assertAlmostEquals(score(3, agree), LN3, 1e-12);
});

Deno.test("top-u: samples split evenly between two classes, with zero probabilities", () => {
  // Two samples say class 0, two say class 1; class 2 has probability exactly 0.
  const split = [[0.9, 0.1, 0], [0.9, 0.1, 0], [0.1, 0.9, 0], [0.1, 0.9, 0]];
  // u = 1: counts (2, 2, 0) / 4 = (1/2, 1/2, 0): ln 2.
  assertAlmostEquals(score(1, split), LN2, 1e-12);
  // u = 2: every sample's top two are {0, 1}: counts (4, 4, 0) / 8: ln 2 again, the
  // same as full agreement at u = 2 (the split only shows in the order within the top two).
  assertAlmostEquals(score(2, split), LN2, 1e-12);
});

Deno.test("top-u: u = 1 and u = 2 differ when the second choice is shared", () => {
  // Sample 1 ranks 0 > 1 > 2, sample 2 ranks 2 > 1 > 0.
  const samples = [[0.6, 0.3, 0.1], [0.1, 0.3, 0.6]];
  // u = 1: classes 0 and 2, counts (1, 0, 1) / 2: ln 2.
  assertAlmostEquals(score(1, samples), LN2, 1e-12);
  // u = 2: {0, 1} and {2, 1}, counts (1, 2, 1) / 4 = (1/4, 1/2, 1/4):
  // H = 2 (1/4) ln 4 + (1/2) ln 2 = ln 2 + (1/2) ln 2 = 1.5 ln 2 = 1.0397208.
  assertAlmostEquals(score(2, samples), 1.5 * LN2, 1e-12);
});

Deno.test("top-u: uneven votes", () => {
  // Predicted classes 0, 0, 0, 1: counts (3, 1) / 4:
  // H = -(3/4 ln 3/4 + 1/4 ln 1/4) = 0.2157616 + 0.3465736 = 0.5623351.
  const samples = [[0.8, 0.2], [0.8, 0.2], [0.8, 0.2], [0.3, 0.7]];
  assertAlmostEquals(score(1, samples), 0.5623351, 1e-7);
});

Deno.test("top-u: ties go to the lower class index, -Infinity included", () => {
  // (0.4, 0.4, 0.2): class 0 wins the tie at u = 1, and at u = 2 the top two are {0, 1}.
  // With (0.2, 0.4, 0.4) class 1 wins; so these two samples give classes 0 and 1 at u = 1: ln 2.
  assertAlmostEquals(score(1, [[0.4, 0.4, 0.2], [0.2, 0.4, 0.4]]), LN2, 1e-12);
  // Both samples (0.4, 0.4, 0.2): class 0 both times at u = 1: 0.
  assertAlmostEquals(score(1, [[0.4, 0.4, 0.2], [0.4, 0.4, 0.2]]), 0, 1e-12);
  // One-hot samples (1, 0, 0) and (0, 0, 1): the zeros tie at -Infinity, so the second
  // place goes to the lowest-indexed zero: top two {0, 1} and {2, 0}. Counts (2, 1, 1) / 4:
  // H = (1/2) ln 2 + 2 (1/4) ln 4 = 1.5 ln 2, finite.
  const s = score(2, [[1, 0, 0], [0, 0, 1]]);
  assert(!Number.isNaN(s));
  assertAlmostEquals(s, 1.5 * LN2, 1e-12);
});

Deno.test("top-u: scores a chunk of several items independently", () => {
  // Item 0: samples agree on class 2 (top-1 entropy 0); item 1: classes 0 and 1 (ln 2);
  // item 2: classes 0, 1, 2 and 0 -> counts (2, 1, 1) / 4 -> 1.5 ln 2.
  const lp = fromProbs([
    [[0.1, 0.1, 0.8], [0.2, 0.1, 0.7], [0, 0, 1], [0.3, 0.3, 0.4]],
    [[0.5, 0.2, 0.3], [0.2, 0.5, 0.3], [0.6, 0.4, 0], [0, 1, 0]],
    [[0.9, 0.1, 0], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [1, 0, 0]],
  ]);
  const s = topUEntropy(1)(lp, Math.random);
  assertEquals(s.length, 3);
  assertAlmostEquals(s[0]!, 0, 1e-12);
  assertAlmostEquals(s[1]!, LN2, 1e-12);
  assertAlmostEquals(s[2]!, 1.5 * LN2, 1e-12);
});

Deno.test("top-u: u must be a positive integer no larger than C", async () => {
  await assertRejects(() => topUEntropy(0), /positive integer/);
  await assertRejects(() => topUEntropy(1.5), /positive integer/);
  await assertRejects(() => topUEntropy(4)(fromProbs([[[0.5, 0.25, 0.25]]]), Math.random), /exceeds the 3 classes/);
});
