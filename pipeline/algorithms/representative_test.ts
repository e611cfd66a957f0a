import { makeRng } from "../tensor/rng.ts";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../../tests/asserts.ts";
import { representativeSubset } from "./representative.ts";

// ---------------------------------------------------------------------------
// Independent reference: F(S) = Σ_j max_{i ∈ S} cos(e_i, e_j), straight from the definition.

function cosine(x: Float32Array, d: number, a: number, b: number): number {
  let ab = 0, aa = 0, bb = 0;
  for (let k = 0; k < d; k++) {
    const u = x[a * d + k] as number, v = x[b * d + k] as number;
    ab += u * v;
    aa += u * u;
    bb += v * v;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

function coverage(x: Float32Array, n: number, d: number, subset: readonly number[]): number {
  let f = 0;
  for (let j = 0; j < n; j++) f += Math.max(...subset.map((i) => cosine(x, d, i, j)));
  return f;
}

/** Every k-subset of `items`, in lexicographic order. */
function subsets(items: readonly number[], k: number): number[][] {
  if (k === 0) return [[]];
  const out: number[][] = [];
  items.forEach((first, at) => {
    for (const rest of subsets(items.slice(at + 1), k - 1)) out.push([first, ...rest]);
  });
  return out;
}

const noWarn = (m: string) => {
  throw new Error(`unexpected warning: ${m}`);
};

/** n random rows: uniform in [0, 1) per entry (like ReLU features) or signed normal-ish. */
function randomRows(seed: number, n: number, d: number, signed: boolean): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n * d }, () => signed ? rng.next() + rng.next() - 1 : rng.next());
}

// ---------------------------------------------------------------------------
// (a) Three orthogonal clusters in 3-D and one row between two of them.
//
// Rows 0-3 are e1, rows 4-6 are e2, rows 7-8 are e3 (at various lengths), row 9
// is (1, 1, 0), at cosine 1/√2 ≈ 0.707 to e1 and e2 and 0 to e3. Shortlist: one
// row of each cluster (0, 4, 7) and row 9.
//   Alone: F({9}) = 7 · 0.707 + 1 = 5.95 beats F({0}) = 4 + 0.707 = 4.71,
//   F({4}) = 3 + 0.707 = 3.71 and F({7}) = 2, so 9 comes first.
//   Then row 7 adds 1 for each e3 row: 2; row 0 adds (1 - 0.707) · 4 = 1.17 and
//   row 4 (1 - 0.707) · 3 = 0.88, so 7 comes second, then 0, then 4.
//   {9, 7} is also the best pair: F = 7 · 0.707 + 2 + 1 = 7.95 against
//   F({0, 4}) = 7.71, F({0, 9}) = 7.12, F({4, 9}) = 6.83, F({0, 7}) = 6.71, F({4, 7}) = 5.71.
// Row 10 is the zero vector: cosine 0 with every row, so once every row is
// covered at >= 0 it gains nothing and comes last.

const clusters = new Float32Array([
  [1, 0, 0],
  [2, 0, 0],
  [0.5, 0, 0],
  [1, 0, 0],
  [0, 1, 0],
  [0, 3, 0],
  [0, 1, 0],
  [0, 0, 1],
  [0, 0, 2],
  [1, 1, 0],
  [0, 0, 0],
].flat());

Deno.test("representativeSubset: clusters worked by hand", () => {
  const shortlist = [7, 0, 9, 4];
  assertEquals(representativeSubset(clusters, 11, 3, shortlist, 1, noWarn), [9]);
  assertEquals(representativeSubset(clusters, 11, 3, shortlist, 2, noWarn), [9, 7]);
  assertEquals(representativeSubset(clusters, 11, 3, shortlist, 4, noWarn), [9, 7, 0, 4]);
  assertAlmostEquals(coverage(clusters, 11, 3, [9, 7]), 7 / Math.SQRT2 + 3, 1e-6);
  // The zero row, shortlisted first, is picked last.
  assertEquals(representativeSubset(clusters, 11, 3, [10, ...shortlist], 5, noWarn), [9, 7, 0, 4, 10]);
});

Deno.test("representativeSubset: ties go to the lowest position; repeats count once", () => {
  // Rows 0-3 are all e1 (at different lengths): equal gains.
  assertEquals(representativeSubset(clusters, 11, 3, [3, 1, 2, 3, 1], 1, noWarn), [1]);
  assertEquals(representativeSubset(clusters, 11, 3, [3, 1, 2, 3, 1], 3, noWarn), [1, 2, 3]);
  // All-zero pool: every gain is the same; positions in order.
  assertEquals(representativeSubset(new Float32Array(8), 4, 2, [2, 3, 0], 3, noWarn), [0, 2, 3]);
});

// ---------------------------------------------------------------------------
// (b) Brute force over every k-subset of a small random shortlist.

Deno.test("representativeSubset: within (1 - 1/e) of the brute-force best; exact for k = 1", () => {
  const n = 40, d = 5, bigK = 8, k = 3;
  const bound = 1 - 1 / Math.E;
  let exact = 0;
  for (let seed = 1; seed <= 30; seed++) {
    for (const signed of [false, true]) {
      const x = randomRows(seed, n, d, signed);
      const rng = makeRng(1000 + seed);
      const pool = Array.from({ length: n }, (_, i) => i);
      for (let j = 0; j < bigK; j++) {
        const r = j + rng.int(n - j);
        [pool[j], pool[r]] = [pool[r] as number, pool[j] as number];
      }
      const shortlist = pool.slice(0, bigK);
      const greedy = representativeSubset(x, n, d, shortlist, k, noWarn);
      const fGreedy = coverage(x, n, d, greedy);
      const fBest = Math.max(...subsets(shortlist, k).map((s) => coverage(x, n, d, s)));
      assert(fGreedy <= fBest + 1e-9, `seed ${seed}: greedy ${fGreedy} above the best ${fBest}`);
      // F + n is the normalised objective (0 for the empty set); for non-negative rows F itself is.
      if (!signed) assert(fGreedy >= bound * fBest, `seed ${seed}: ${fGreedy} < (1 - 1/e) ${fBest}`);
      assert(fGreedy + n >= bound * (fBest + n), `seed ${seed} signed: ${fGreedy} + n < (1 - 1/e) (${fBest} + n)`);
      if (fGreedy >= fBest - 1e-9) exact++;

      // k = 1: the greedy pick is the single best row.
      const [one] = representativeSubset(x, n, d, shortlist, 1, noWarn);
      const scores = shortlist.map((i) => coverage(x, n, d, [i]));
      const top = Math.max(...scores);
      assertEquals(one, shortlist[scores.indexOf(top)]);
      // And the first pick of a longer run is the same row.
      assertEquals(greedy[0], one);
    }
  }
  assert(exact >= 30, `greedy found the optimum in only ${exact} of 60 cases`);
});

// ---------------------------------------------------------------------------
// (c) Shape of the answer.

Deno.test("representativeSubset: distinct shortlist members, in pick order, each step a best gain", () => {
  const n = 200, d = 8;
  const x = randomRows(7, n, d, true);
  const rng = makeRng(8);
  const shortlist = Array.from({ length: 60 }, () => rng.int(n)); // with repeats
  const unique = new Set(shortlist);
  const picks = representativeSubset(x, n, d, shortlist, 20, noWarn);
  assertEquals(picks.length, 20);
  assertEquals(new Set(picks).size, 20);
  assert(picks.every((p) => unique.has(p)));
  // Each pick has the largest marginal gain of the remaining candidates (checked from the definition).
  for (let step = 0; step < picks.length; step++) {
    const chosen = picks.slice(0, step);
    const base = step === 0 ? -n : coverage(x, n, d, chosen);
    const gainOf = (i: number) => coverage(x, n, d, [...chosen, i]) - base;
    const got = gainOf(picks[step] as number);
    for (const other of unique) {
      if (!chosen.includes(other)) assert(got >= gainOf(other) - 1e-9, `step ${step}: ${other} gains more`);
    }
  }
});

Deno.test("representativeSubset: a large pool (similarities recomputed) agrees with a plain greedy", () => {
  // 1,000 x 17,000 similarities exceed the cache (2^24 values), so each step recomputes them.
  const n = 17_000, d = 3, bigK = 1_000, k = 2;
  const x = randomRows(11, n, d, true);
  const rng = makeRng(12);
  const shortlist = Array.from({ length: bigK }, (_, j) => (j * 19 + rng.int(19)) % n);
  const picks = representativeSubset(x, n, d, shortlist, k, noWarn);
  const cover = new Float64Array(n).fill(-1);
  const plain: number[] = [];
  const cands = [...new Set(shortlist)].sort((a, b) => a - b);
  for (let step = 0; step < k; step++) {
    let best = -1, bestGain = -Infinity;
    for (const i of cands) {
      if (plain.includes(i)) continue;
      let g = 0;
      for (let j = 0; j < n; j++) g += Math.max(0, cosine(x, d, i, j) - (cover[j] as number));
      if (g > bestGain) [best, bestGain] = [i, g];
    }
    plain.push(best);
    for (let j = 0; j < n; j++) cover[j] = Math.max(cover[j] as number, cosine(x, d, best, j));
  }
  assertEquals(picks, plain);
});

// ---------------------------------------------------------------------------
// (d) Small shortlists and bad inputs.

Deno.test("representativeSubset: a short shortlist gives all of it and warns", async () => {
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  const picks = representativeSubset(clusters, 11, 3, [4, 9, 4, 0], 5, warn);
  assertEquals(picks, [9, 0, 4]);
  assertEquals(warnings.length, 1);
  assert(/holds 3 candidates, fewer than the subset of 5/.test(warnings[0] as string));
  assertEquals(representativeSubset(clusters, 11, 3, [], 2, warn), []);
  assertEquals(warnings.length, 2);
  assertEquals(representativeSubset(clusters, 11, 3, [1, 2], 0, noWarn), []);
  assertEquals(representativeSubset(new Float32Array(0), 0, 3, [], 0, noWarn), []);

  await assertRejects(() => representativeSubset(clusters, 11, 3, [11], 1, noWarn), /shortlist position 11/);
  await assertRejects(() => representativeSubset(clusters, 11, 3, [1.5], 1, noWarn), /shortlist position 1.5/);
  await assertRejects(() => representativeSubset(clusters, 11, 3, [1], -1, noWarn), /subset size must be/);
  await assertRejects(() => representativeSubset(clusters, 10, 3, [1], 1, noWarn), /holds 33 values/);
  const nan = new Float32Array([1, 0, NaN, 1]);
  await assertRejects(() => representativeSubset(nan, 2, 2, [0], 1, noWarn), /row 1 holds a non-finite/);
});
