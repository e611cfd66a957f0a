import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { makeRng } from "../tensor/rng.ts";
import { assert, assertEquals, assertRejects } from "../../tests/asserts.ts";
import { discriminativeScores, discriminativeSelect } from "./discriminative.ts";

tf.enableProdMode();
await tf.setBackend("cpu");

/** Standard normal draws (Box-Muller) from a seeded stream. */
function normals(seed: number): () => number {
  const rng = makeRng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/** `count` 2-D points around (cx, cy) with the given spread, row-major. */
function cluster(normal: () => number, count: number, cx: number, cy: number, spread: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(cx + spread * normal(), cy + spread * normal());
  return out;
}

/** Labelled: 30 points at the origin. Pool: rows 0..59 at the origin, rows 60..119 around (8, 8). */
function twoClusterData() {
  const normal = normals(11);
  const labelled = new Float32Array(cluster(normal, 30, 0, 0, 0.5));
  const pool = new Float32Array([...cluster(normal, 60, 0, 0, 0.5), ...cluster(normal, 60, 8, 8, 0.5)]);
  return { labelled, l: 30, pool, n: 120, d: 2 };
}

Deno.test("discriminativeSelect picks only from the pool cluster that no labelled item covers", () => {
  const { labelled, l, pool, n, d } = twoClusterData();
  const picks = discriminativeSelect(labelled, l, pool, n, d, 10, {
    rand: makeRng(1).next,
    subBatches: 2,
    hidden: [32],
    epochs: 15,
    batchSize: 32,
    learningRate: 0.01,
  });
  assertEquals(picks.length, 10);
  assertEquals(new Set(picks).size, 10);
  for (const p of picks) assert(p >= 60 && p < 120, `pick ${p} is in the covered cluster`);
  // The classifier's scores agree: every far item is more "unlabelled-looking" than every near one.
  const p = discriminativeScores(labelled, l, pool, n, d, {
    rand: makeRng(2).next,
    hidden: [32],
    epochs: 15,
    batchSize: 32,
    learningRate: 0.01,
  });
  let maxNear = 0, minFar = 1;
  for (let i = 0; i < 60; i++) maxNear = Math.max(maxNear, p[i] as number);
  for (let i = 60; i < 120; i++) minFar = Math.min(minFar, p[i] as number);
  assert(minFar > maxNear, `far items score ${minFar}, near ones up to ${maxNear}`);
  assert(minFar > 0.9, `far items should be clearly class U, got ${minFar}`);
});

Deno.test("with hidden = [] and a 1-D pool to the right of the labelled items, picks are the largest values", () => {
  // Logistic regression in 1-D is monotone in x; since the pool lies mostly right of L, the slope is
  // positive in every mini-query, so each mini-query takes the largest remaining values, largest first.
  const labelled = new Float32Array([-1, -0.5, 0, 0.5, 1]);
  const values = [0.2, 3.1, 1.4, 2.6, 0.9, 4.2, 1.1, 3.8, 0.4, 2.2, 1.9, 3.3];
  const pool = new Float32Array(values);
  const picks = discriminativeSelect(labelled, 5, pool, values.length, 1, 4, {
    rand: makeRng(5).next,
    subBatches: 2,
    hidden: [],
    epochs: 100,
    batchSize: 17,
    learningRate: 0.05,
  });
  const byValue = values.map((_, i) => i).sort((a, b) => (values[b] as number) - (values[a] as number));
  assertEquals(picks, byValue.slice(0, 4));
});

/**
 * Second method: the same class-weighted, L2-penalised logistic regression
 * fitted by Newton's method on the standardised 1-D feature.
 * Objective (1/N) Σ w_i [softplus(z_i) - y_i z_i] + (λ/2) a², z = a s + c; `weighted` = false sets w = 1.
 */
function newtonLogistic(xs: number[], ys: number[], l2: number, weighted = true): (x: number) => number {
  const nAll = xs.length;
  const mean = xs.reduce((a, v) => a + v, 0) / nAll;
  const std = Math.sqrt(xs.reduce((a, v) => a + (v - mean) ** 2, 0) / nAll);
  const s = xs.map((v) => (v - mean) / std);
  const countU = ys.reduce((a, v) => a + v, 0), countL = nAll - countU;
  const w = ys.map((y) => (!weighted ? 1 : y ? nAll / (2 * countU) : nAll / (2 * countL)));
  let a = 0, c = 0;
  for (let iter = 0; iter < 50; iter++) {
    let ga = l2 * a, gc = 0, haa = l2, hac = 0, hcc = 0;
    for (let i = 0; i < nAll; i++) {
      const si = s[i] as number, wi = (w[i] as number) / nAll;
      const p = 1 / (1 + Math.exp(-(a * si + c)));
      const r = p - (ys[i] as number), v = p * (1 - p);
      ga += wi * r * si;
      gc += wi * r;
      haa += wi * v * si * si;
      hac += wi * v * si;
      hcc += wi * v;
    }
    const det = haa * hcc - hac * hac;
    a -= (hcc * ga - hac * gc) / det;
    c -= (haa * gc - hac * ga) / det;
  }
  return (x: number) => 1 / (1 + Math.exp(-(a * (x - mean) / std + c)));
}

Deno.test("with hidden = [], P(U | x) matches a Newton-fitted weighted logistic regression", () => {
  // Overlapping classes (L around -1, U around +1, 3x as many), so the fit is finite even without L2.
  const normal = normals(21);
  const lx = Array.from({ length: 20 }, () => -1 + normal());
  const ux = Array.from({ length: 60 }, () => 1 + normal());
  const l2 = 0.01;
  const xs = [...lx, ...ux], ys = [...lx.map(() => 0), ...ux.map(() => 1)];
  const reference = newtonLogistic(xs, ys, l2);
  const unweighted = newtonLogistic(xs, ys, l2, false);
  const p = discriminativeScores(new Float32Array(lx), 20, new Float32Array(ux), 60, 1, {
    rand: makeRng(3).next,
    hidden: [],
    epochs: 600,
    batchSize: 80, // full batch: Adam then converges to the minimiser itself
    learningRate: 0.05,
    l2,
  });
  let worst = 0, unweightedGap = 0;
  ux.forEach((x, i) => {
    worst = Math.max(worst, Math.abs((p[i] as number) - reference(x)));
    unweightedGap = Math.max(unweightedGap, Math.abs((p[i] as number) - unweighted(x)));
  });
  assert(worst < 1e-4, `largest gap to the Newton fit is ${worst}`);
  // The check sees the class weights: with 3 pool items per labelled one, the unweighted fit is far off.
  assert(unweightedGap > 0.1, `gap to the unweighted fit is only ${unweightedGap}`);
});

Deno.test("discriminativeSelect leaks no tensors, repeats no item and is deterministic given the seed", () => {
  const { labelled, l, pool, n, d } = twoClusterData();
  const run = (seed: number) =>
    discriminativeSelect(labelled, l, pool, n, d, 7, {
      rand: makeRng(seed).next,
      subBatches: 3,
      hidden: [16, 16],
      epochs: 3,
    });
  const before = tf.memory().numTensors;
  const a = run(4);
  const b = run(4);
  discriminativeScores(labelled, l, pool, n, d, { rand: makeRng(4).next, hidden: [8], epochs: 1, l2: 0.1 });
  assertEquals(tf.memory().numTensors, before);
  assertEquals(a, b);
  assertEquals(a.length, 7);
  assertEquals(new Set(a).size, 7);
  for (const p of a) assert(Number.isInteger(p) && p >= 0 && p < n);
});

Deno.test("discriminativeSelect: small pools, empty batches and bad input", async () => {
  const warnings: string[] = [];
  const opts = { rand: makeRng(1).next, hidden: [4], epochs: 1, warn: (m: string) => warnings.push(m) };
  const labelled = new Float32Array([0, 0]);
  assertEquals(discriminativeSelect(labelled, 1, new Float32Array([1, 1, 2, 2]), 2, 2, 5, opts), [0, 1]);
  assertEquals(warnings.length, 1);
  assert(warnings[0]!.includes("fewer than the batch"));
  assertEquals(discriminativeSelect(labelled, 1, new Float32Array([1, 1, 2, 2]), 2, 2, 2, opts), [0, 1]);
  assertEquals(discriminativeSelect(labelled, 1, new Float32Array([1, 1, 2, 2]), 2, 2, 0, opts), []);
  assertEquals(warnings.length, 1);
  const pool = new Float32Array([1, 1, 2, 2, 3, 3]);
  await assertRejects(() => discriminativeSelect(labelled, 1, pool, 2, 2, 1, opts), /holds 6 values/);
  await assertRejects(() => discriminativeSelect(labelled, 0, pool, 3, 2, 1, opts), /holds 2 values/);
  await assertRejects(
    () => discriminativeSelect(new Float32Array(0), 0, pool, 3, 2, 1, opts),
    /at least one labelled item/,
  );
  await assertRejects(
    () => discriminativeSelect(labelled, 1, new Float32Array([1, NaN, 2, 2, 3, 3]), 3, 2, 1, opts),
    /non-finite/,
  );
  await assertRejects(() => discriminativeSelect(labelled, 1, pool, 3, 2, 1.5, opts), /batch size/);
  await assertRejects(() => discriminativeSelect(labelled, 1, pool, 3, 2, 1, { ...opts, subBatches: 0 }), /subBatches/);
  await assertRejects(() => discriminativeSelect(labelled, 1, pool, 3, 2, 1, { ...opts, hidden: [0] }), /hidden/);
  await assertRejects(() => discriminativeScores(labelled, 1, new Float32Array(0), 0, 2, opts), /one pool item/);
});
