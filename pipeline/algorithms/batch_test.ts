import { makeRng } from "../tensor/rng.ts";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../../tests/asserts.ts";
import { topK } from "./acquire.ts";
import { badgeEmbeddings, batchBald, kCenterGreedy, kMeansPlusPlus, powerAcquisition } from "./batch.ts";
import { bald, type LogProbs } from "./scores.ts";

// ---------------------------------------------------------------------------
// Independent reference: joint mutual information by enumerating every label
// configuration of a subset (no incremental products, no conditioning).

/** p(y = k | x_i, w_s) from the stored log-probabilities. */
const prob = (lp: LogProbs, i: number, s: number, k: number) => Math.exp(lp.data[(i * lp.t + s) * lp.c + k] as number);

/** I(y_S; w) = H(y_S) - Σ_j E_s H(y_j | w_s), with w uniform over the T samples. */
function jointMutualInformation(lp: LogProbs, subset: readonly number[]): number {
  const configs = lp.c ** subset.length;
  let joint = 0;
  for (let code = 0; code < configs; code++) {
    // Decode configuration `code` into one class per item of the subset.
    const labels = subset.map((_, pos) => Math.floor(code / lp.c ** pos) % lp.c);
    let p = 0;
    for (let s = 0; s < lp.t; s++) {
      let product = 1;
      subset.forEach((i, pos) => (product *= prob(lp, i, s, labels[pos] as number)));
      p += product / lp.t;
    }
    if (p > 0) joint -= p * Math.log(p);
  }
  let conditional = 0;
  for (const i of subset) {
    for (let s = 0; s < lp.t; s++) {
      for (let k = 0; k < lp.c; k++) {
        const p = prob(lp, i, s, k);
        if (p > 0) conditional -= p * Math.log(p) / lp.t;
      }
    }
  }
  return joint - conditional;
}

/** Builds [N, T, C] log-probabilities from probabilities (0 becomes -Infinity). */
function fromProbs(items: number[][][]): LogProbs {
  const n = items.length, t = items[0]!.length, c = items[0]![0]!.length;
  return { data: new Float32Array(items.flat(2).map(Math.log)), n, t, c };
}

/** A random pool: softmax of scaled normal logits, some probabilities set to exactly 0. */
function randomPool(seed: number, n: number, t: number, c: number): LogProbs {
  const rng = makeRng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const items: number[][][] = [];
  for (let i = 0; i < n; i++) {
    const centre = Array.from({ length: c }, () => normal());
    const spread = 3 * rng.next();
    items.push(Array.from({ length: t }, () => {
      const e = centre.map((m) => Math.exp(m + spread * normal()));
      if (rng.next() < 0.2) e[rng.int(c)] = 0; // a hard zero, to check 0 log 0
      const sum = e.reduce((a, z) => a + z, 0);
      return e.map((v) => v / sum);
    }));
  }
  return fromProbs(items);
}

const seeded = (seed: number) => {
  const r = makeRng(seed);
  return () => r.next();
};

const noWarn = (m: string) => {
  throw new Error(`unexpected warning: ${m}`);
};

// ---------------------------------------------------------------------------
// BatchBALD

Deno.test("batchBald: exact regime agrees with brute-force joint mutual information", async () => {
  for (let seed = 1; seed <= 20; seed++) {
    const lp = randomPool(seed, 6, 4, 3);
    const { picked, gains } = await batchBald(lp, 3, { rand: seeded(seed), warn: noWarn });
    assertEquals(picked.length, 3);
    assertEquals(new Set(picked).size, 3);
    // First pick: the best single item, i.e. the top BALD score.
    const single = Array.from({ length: lp.n }, (_, i) => jointMutualInformation(lp, [i]));
    const baldScores = bald(lp, Math.random);
    const top = single.indexOf(Math.max(...single));
    assertEquals(picked[0], top);
    assertEquals(picked[0], Array.from(baldScores).indexOf(Math.max(...baldScores)));
    let chosen: number[] = [], before = 0;
    picked.forEach((item, k) => {
      const after = jointMutualInformation(lp, [...chosen, item]);
      // The reported gain is the brute-force marginal gain of the pick ...
      assertAlmostEquals(
        gains[k]!,
        after - before,
        1e-6,
        `seed ${seed} step ${k}: gain ${gains[k]} vs ${after - before}`,
      );
      // ... and no other item would have gained more (greedy, even though evaluation is lazy).
      for (let other = 0; other < lp.n; other++) {
        if (picked.slice(0, k + 1).includes(other)) continue;
        const alt = jointMutualInformation(lp, [...chosen, other]) - before;
        assert(alt <= after - before + 1e-9, `seed ${seed} step ${k}: item ${other} gains ${alt} > ${after - before}`);
      }
      chosen = [...chosen, item];
      before = after;
    });
  }
});

Deno.test("batchBald: the gains of a whole pool sum to its joint mutual information", async () => {
  // 6 items, C = 3: 729 configurations, still exact.
  const lp = randomPool(5, 6, 4, 3);
  const { picked, gains } = await batchBald(lp, 6, { rand: seeded(1), warn: noWarn });
  assertEquals([...picked].sort(), [0, 1, 2, 3, 4, 5]);
  assertAlmostEquals(gains.reduce((a, z) => a + z, 0), jointMutualInformation(lp, picked), 1e-6);
  for (const g of gains) assert(Number.isFinite(g) && g >= 0);
});

Deno.test("batchBald: sampled configurations estimate the exact gains", async () => {
  // Tolerance: a gain is estimated as a weighted mean of entropies of 3-class
  // distributions, each in [0, ln 3], so its standard deviation is at most
  // ln(3) / 2 ≈ 0.55 and, with 20,000 draws, its standard error at most
  // 0.0039. 0.02 is five standard errors.
  const tolerance = 0.02;
  for (const maxExactConfigs of [1, 9]) {
    for (let seed = 1; seed <= 3; seed++) {
      const lp = randomPool(100 + seed, 6, 4, 3);
      const { picked, gains } = await batchBald(lp, 4, {
        rand: seeded(seed),
        maxExactConfigs,
        sampledConfigs: 20_000,
        warn: noWarn,
      });
      assertEquals(new Set(picked).size, 4);
      let before = 0;
      picked.forEach((_, k) => {
        const after = jointMutualInformation(lp, picked.slice(0, k + 1));
        // Step 0 has nothing to sample (the gain is BALD); with maxExactConfigs = 9 = C^2
        // step 1 is exact too.
        const tol = k === 0 || (maxExactConfigs === 9 && k === 1) ? 1e-6 : tolerance;
        assertAlmostEquals(gains[k]!, after - before, tol, `step ${k}: ${gains[k]} vs ${after - before}`);
        before = after;
      });
    }
  }
});

Deno.test("batchBald: the same seed gives the same sampled batch", async () => {
  const lp = randomPool(7, 12, 5, 3);
  const opts = { maxExactConfigs: 3, sampledConfigs: 500, warn: noWarn };
  const a = await batchBald(lp, 6, { ...opts, rand: seeded(3) });
  const b = await batchBald(lp, 6, { ...opts, rand: seeded(3) });
  assertEquals(a, b);
});

Deno.test("batchBald: a repeated top item is taken once, top-k BALD takes every copy", async () => {
  // T = 8. Item X: sample t is almost sure (0.98) of class t mod 3, so BALD is
  // high, but once one copy's label is known the sample is nearly pinned to a
  // third of them and a second copy tells little more. The other items split
  // the samples along other lines (t < 4, t even, ...) with less confidence.
  const t = 8;
  const sure = (k: number, p: number) => [0, 1, 2].map((j) => (j === k ? p : (1 - p) / 2));
  const x = Array.from({ length: t }, (_, s) => sure(s % 3, 0.98));
  const others = [
    Array.from({ length: t }, (_, s) => sure(s < 4 ? 0 : 1, 0.85)),
    Array.from({ length: t }, (_, s) => sure(s % 2 === 0 ? 1 : 2, 0.85)),
    Array.from({ length: t }, (_, s) => sure(Math.floor(s / 2) % 2 === 0 ? 2 : 0, 0.85)),
    Array.from({ length: t }, (_, s) => sure(s % 4 === 3 ? 0 : 1, 0.8)),
  ];
  // Pool: X at positions 0, 3 and 5.
  const lp = fromProbs([x, others[0]!, others[1]!, x, others[2]!, x, others[3]!]);
  const copies = [0, 3, 5];
  const scores = bald(lp, Math.random);
  const positions = Array.from({ length: lp.n }, (_, i) => i);
  assertEquals([...topK("test", positions, scores, 3, noWarn).indices].sort(), copies);

  const secondCopy = jointMutualInformation(lp, [0, 3]) - jointMutualInformation(lp, [0]);
  assert(secondCopy < 0.15 && secondCopy < 0.2 * scores[0]!, `second copy gains ${secondCopy}`);
  const { picked, gains } = await batchBald(lp, 3, { rand: seeded(1), warn: noWarn });
  assertEquals(picked.filter((i) => copies.includes(i)).length, 1);
  assertEquals(picked[0], 0);
  for (const g of gains.slice(1)) assert(g > secondCopy, `gain ${g} should beat a second copy's ${secondCopy}`);
});

Deno.test("batchBald: NaN items rank last, small pools warn, bad inputs throw", async () => {
  const lp = randomPool(3, 4, 3, 2);
  const data = lp.data.slice();
  data[1 * 3 * 2 + 2] = NaN; // item 1
  const warnings: string[] = [];
  const { picked, gains } = await batchBald({ ...lp, data }, 6, { rand: seeded(1), warn: (m) => warnings.push(m) });
  assertEquals(picked.length, 4);
  assertEquals(picked[3], 1);
  assert(Number.isNaN(gains[3]) && gains.slice(0, 3).every(Number.isFinite));
  assertEquals(warnings.length, 1);
  assert(/batchBald: pool holds 4 candidates, fewer than the batch of 6/.test(warnings[0]!), warnings[0]);

  assertEquals(await batchBald(lp, 0, { rand: seeded(1), warn: noWarn }), { picked: [], gains: [] });
  await assertRejects(() =>
    batchBald({ ...lp, data: new Float32Array(4 * 3 * 2).fill(NaN) }, 2, {
      rand: seeded(1),
    }), /batchBald: every item's log-probabilities hold NaN/);
  await assertRejects(() => batchBald({ ...lp, n: 5 }, 2, { rand: seeded(1) }), /batchBald: log-probabilities hold 24/);
  await assertRejects(() => batchBald(lp, 1.5, { rand: seeded(1) }), /batchBald: batch size/);
  await assertRejects(() => batchBald(lp, 2, { rand: seeded(1), sampledConfigs: 0 }), /batchBald: sampledConfigs/);
});

// ---------------------------------------------------------------------------
// Power acquisition

Deno.test("powerAcquisition: a huge beta is top-k; a permutation when b = n", () => {
  const rng = makeRng(11);
  const scores = Array.from({ length: 30 }, () => 0.1 + rng.next());
  const positions = scores.map((_, i) => i);
  const expected = topK("test", positions, scores, 8, noWarn).indices;
  for (let seed = 1; seed <= 5; seed++) {
    assertEquals(powerAcquisition(scores, 8, 1e7, seeded(seed), noWarn), expected);
    const all = powerAcquisition(scores, 30, 1, seeded(seed), noWarn);
    assertEquals([...all].sort((a, z) => a - z), positions);
  }
});

Deno.test("powerAcquisition: first picks follow score^beta", () => {
  // Scores 1, 2, 3 with beta = 2: P(first) = 1/14, 4/14, 9/14. With 20,000
  // draws the standard error of a frequency is at most 0.0036; tolerance
  // 0.015 is over four of them.
  const draws = 20_000, counts = [0, 0, 0];
  const rand = seeded(5);
  for (let k = 0; k < draws; k++) {
    const first = powerAcquisition([1, 2, 3], 1, 2, rand, noWarn)[0]!;
    counts[first]!++;
  }
  [1 / 14, 4 / 14, 9 / 14].forEach((p, i) => assertAlmostEquals(counts[i]! / draws, p, 0.015));
});

Deno.test("powerAcquisition: non-positive scores come last, then NaN; errors", async () => {
  for (let seed = 1; seed <= 20; seed++) {
    const order = powerAcquisition([0.5, 0, NaN, -1, 0.2], 5, 1, seeded(seed), noWarn);
    assertEquals([...order.slice(0, 2)].sort(), [0, 4]);
    assertEquals([...order.slice(2, 4)].sort(), [1, 3]);
    assertEquals(order[4], 2);
  }
  const warnings: string[] = [];
  assertEquals(powerAcquisition([2, 1], 3, 1e7, seeded(1), (m) => warnings.push(m)), [0, 1]);
  assert(/powerAcquisition: pool holds 2 candidates, fewer than the batch of 3/.test(warnings[0] ?? ""));
  await assertRejects(() => powerAcquisition([NaN, NaN], 1, 1, seeded(1)), /powerAcquisition: every score is NaN/);
  await assertRejects(() => powerAcquisition([1], 1, -1, seeded(1)), /powerAcquisition: beta/);
});

// ---------------------------------------------------------------------------
// k-center greedy

/** max over rows of the distance to the nearest centre. */
function coverRadius(x: Float32Array, n: number, d: number, centres: readonly number[]): number {
  let radius = 0;
  for (let i = 0; i < n; i++) {
    let nearest = Infinity;
    for (const z of centres) {
      let s = 0;
      for (let k = 0; k < d; k++) s += ((x[i * d + k] as number) - (x[z * d + k] as number)) ** 2;
      nearest = Math.min(nearest, Math.sqrt(s));
    }
    radius = Math.max(radius, nearest);
  }
  return radius;
}

/** Every b-subset of `items`. */
function subsets(items: readonly number[], b: number): number[][] {
  if (b === 0) return [[]];
  if (items.length < b) return [];
  const [head, ...rest] = items as [number, ...number[]];
  return [...subsets(rest, b - 1).map((s) => [head, ...s]), ...subsets(rest, b)];
}

Deno.test("kCenterGreedy: points on a line", () => {
  const x = new Float32Array([0, 1, 2, 3, 10]);
  // Labelled 0: farthest is 10; then 3 is 3 away from 0 (and 7 from 10).
  assertEquals(kCenterGreedy(x, 5, 1, [0], 2, noWarn), [4, 3]);
  // Nothing labelled: the mean is 3.2, so 10 first (6.8 away), then 0, then 3.
  assertEquals(kCenterGreedy(x, 5, 1, [], 3, noWarn), [4, 0, 3]);
});

Deno.test("kCenterGreedy: radius within twice the optimum (brute force)", () => {
  for (let seed = 1; seed <= 30; seed++) {
    const rng = makeRng(seed);
    const n = 11, d = 2, b = 3;
    const x = new Float32Array(n * d).map(() => 10 * rng.next());
    const labelled = seed % 3 === 0 ? [] : [rng.int(n)];
    const picks = kCenterGreedy(x, n, d, labelled, b, noWarn);
    assertEquals(picks.length, b);
    assertEquals(new Set([...picks, ...labelled]).size, b + labelled.length);
    const greedy = coverRadius(x, n, d, [...labelled, ...picks]);
    const unlabelled = Array.from({ length: n }, (_, i) => i).filter((i) => !labelled.includes(i));
    const best = Math.min(...subsets(unlabelled, b).map((s) => coverRadius(x, n, d, [...labelled, ...s])));
    assert(greedy <= 2 * best + 1e-9, `seed ${seed}: greedy ${greedy} > 2 x ${best}`);
    assert(greedy >= best - 1e-9);
  }
});

Deno.test("kCenterGreedy: duplicates, warnings and errors", async () => {
  const x = new Float32Array([1, 1, 1, 1, 5, 5]); // rows 0 and 1 coincide
  const warnings: string[] = [];
  assertEquals(kCenterGreedy(x, 3, 2, new Int32Array([0]), 4, (m) => warnings.push(m)), [2, 1]);
  assert(/kCenterGreedy: pool holds 2 candidates, fewer than the batch of 4/.test(warnings[0] ?? ""));
  await assertRejects(() => kCenterGreedy(x, 4, 2, [], 1), /kCenterGreedy: embeddings holds 6 values/);
  await assertRejects(() => kCenterGreedy(x, 3, 2, [3], 1), /kCenterGreedy: labelled position 3/);
  await assertRejects(
    () => kCenterGreedy(x, 3, 2, [0], 1, noWarn, new Float64Array(2)),
    /kCenterGreedy: 2 distances to the labelled rows, expected 3/,
  );
  await assertRejects(() => kCenterGreedy(new Float32Array([NaN, 0]), 1, 2, [], 1), /kCenterGreedy: embeddings row 0/);
});

// ---------------------------------------------------------------------------
// k-means++ seeding

Deno.test("kMeansPlusPlus: largest norm first, then D² sampling", () => {
  // Row 0 has the largest norm. From it, squared distances are
  // 100, 101, 81 and 200 for rows 1..4: row 4 comes second with probability 200/482.
  const x = new Float32Array([10, 0, 0, 0, 0, 1, 1, 0, 0, 10]);
  const draws = 20_000;
  let far = 0;
  const rand = seeded(9);
  for (let k = 0; k < draws; k++) {
    const picks = kMeansPlusPlus(x, 5, 2, 2, rand, noWarn);
    assertEquals(picks[0], 0);
    if (picks[1] === 4) far++;
  }
  // Standard error sqrt(p (1 - p) / 20,000) ≈ 0.0035; tolerance 0.015 is over four of them.
  assertAlmostEquals(far / draws, 200 / 482, 0.015);
  // A fixed stream gives a fixed result.
  assertEquals(kMeansPlusPlus(x, 5, 2, 4, seeded(2), noWarn), kMeansPlusPlus(x, 5, 2, 4, seeded(2), noWarn));
});

Deno.test("kMeansPlusPlus: exact duplicates are never picked twice while distinct rows remain", () => {
  // Rows 0, 1 = A; rows 2, 3 = B; row 4 = C (largest norm).
  const x = new Float32Array([1, 0, 1, 0, 0, 2, 0, 2, 3, 3]);
  const label = ["A", "A", "B", "B", "C"];
  for (let seed = 1; seed <= 50; seed++) {
    const three = kMeansPlusPlus(x, 5, 2, 3, seeded(seed), noWarn);
    assertEquals(three.map((i) => label[i]).sort(), ["A", "B", "C"]);
    // Asking for all five: the copies come last, in order of position.
    const all = kMeansPlusPlus(x, 5, 2, 5, seeded(seed), noWarn);
    assertEquals(all.slice(0, 3), three);
    assertEquals([...all].sort(), [0, 1, 2, 3, 4]);
    assertEquals(all.slice(3), [0, 1, 2, 3].filter((i) => !three.includes(i)));
  }
});

Deno.test("kMeansPlusPlus: warnings and errors", async () => {
  const warnings: string[] = [];
  assertEquals(kMeansPlusPlus(new Float32Array([1, 2]), 2, 1, 3, seeded(1), (m) => warnings.push(m)), [1, 0]);
  assert(/kMeansPlusPlus: pool holds 2 candidates, fewer than the batch of 3/.test(warnings[0] ?? ""));
  await assertRejects(() => kMeansPlusPlus(new Float32Array([1, Infinity]), 2, 1, 1, seeded(1)), /kMeansPlusPlus/);
  await assertRejects(() => kMeansPlusPlus(new Float32Array(3), 2, 2, 1, seeded(1)), /kMeansPlusPlus: embeddings/);
});

// ---------------------------------------------------------------------------
// BADGE embeddings

Deno.test("badgeEmbeddings: hand example with C = 2, D = 2", async () => {
  // Row 0: p = (0.3, 0.7), ŷ = 1, h = (1, -2):
  //   class 0: (0.3 - 0) h = (0.3, -0.6); class 1: (0.7 - 1) h = (-0.3, 0.6).
  // Row 1: p = (0.5, 0.5), a tie, so ŷ = 0; h = (4, 2):
  //   class 0: (0.5 - 1) h = (-2, -1); class 1: 0.5 h = (2, 1).
  const g = badgeEmbeddings(new Float32Array([0.3, 0.7, 0.5, 0.5]), new Float32Array([1, -2, 4, 2]), 2, 2, 2);
  const expected = [0.3, -0.6, -0.3, 0.6, -2, -1, 2, 1];
  assertEquals(g.length, 8);
  expected.forEach((v, k) => assertAlmostEquals(g[k]!, v, 1e-6));
  await assertRejects(
    () => badgeEmbeddings(new Float32Array(4), new Float32Array(3), 2, 2, 2),
    /badgeEmbeddings: features holds 3 values/,
  );
});
