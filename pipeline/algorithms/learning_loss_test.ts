import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { makeRng } from "../tensor/rng.ts";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../../tests/asserts.ts";
import {
  fitLossPredictor,
  learningLossSelect,
  marginRankingLoss,
  marginRankingLossTensor,
  perItemNll,
  predictLosses,
} from "./learning_loss.ts";
import type { LogProbs } from "./scores.ts";

tf.enableProdMode();
await tf.setBackend("cpu");

/** Standard normal draws (Box-Muller) from a seeded stream. */
function normals(seed: number): () => number {
  const rng = makeRng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/** Ranks from 1, ties sharing their mean rank. */
function ranks(v: ArrayLike<number>): number[] {
  const order = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => (v[a] as number) - (v[b] as number));
  const out = new Array<number>(v.length);
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && v[order[end + 1] as number] === v[order[start] as number]) end++;
    for (let k = start; k <= end; k++) out[order[k] as number] = (start + end) / 2 + 1;
    start = end + 1;
  }
  return out;
}

/** Spearman's rank correlation: Pearson's correlation of the ranks. */
function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = ranks(a), rb = ranks(b), n = ra.length;
  const ma = ra.reduce((s, v) => s + v, 0) / n, mb = rb.reduce((s, v) => s + v, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = (ra[i] as number) - ma, db = (rb[i] as number) - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Features [count, d] standard normal; true loss exp(x_0) + 0.05 noise. */
function synthetic(seed: number, count: number, d: number) {
  const normal = normals(seed);
  const x = new Float32Array(count * d);
  const loss = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < d; j++) x[i * d + j] = normal();
    loss[i] = Math.exp(x[i * d] as number) + 0.05 * normal();
  }
  return { x, loss };
}

Deno.test("marginRankingLoss on hand-made pairs", () => {
  // Pairs are (0, 1), (2, 3), ...; each costs max(0, -sign(l_i - l_j)·(l̂_i - l̂_j) + ξ).
  // (a) truth 0.5 > 0.2 (sign +1), prediction 3 - 1 = +2, right by more than ξ = 1: max(0, -2 + 1) = 0.
  assertEquals(marginRankingLoss([3, 1], [0.5, 0.2]), 0);
  // (b) truth 1 < 2 (sign -1), prediction 0.5 - 0 = +0.5, the wrong order: max(0, +0.5 + 1) = 1.5.
  assertEquals(marginRankingLoss([0.5, 0], [1, 2]), 1.5);
  // (c) truth 3 > 1, prediction 2 - 1.5 = +0.5, right but inside the margin: max(0, -0.5 + 1) = 0.5.
  assertEquals(marginRankingLoss([2, 1.5], [3, 1]), 0.5);
  // (d) a tie in the truth (sign 0) costs ξ = 1 whatever the prediction.
  assertEquals(marginRankingLoss([7, -4], [2, 2]), 1);
  // All four as one batch: the mean (0 + 1.5 + 0.5 + 1) / 4 = 0.75; a ninth, unpaired item is left out.
  const pred = [3, 1, 0.5, 0, 2, 1.5, 7, -4, 100];
  const target = [0.5, 0.2, 1, 2, 3, 1, 2, 2, -100];
  assertEquals(marginRankingLoss(pred, target), 0.75);
  // Swapping the two items of a pair changes both signs, so the loss is the same.
  assertEquals(marginRankingLoss([0, 0.5], [2, 1]), 1.5);
  // Margin 0: only wrongly ordered pairs cost, by how far they are off: (0 + 0.5 + 0 + 0) / 4.
  assertEquals(marginRankingLoss(pred, target, 0), 0.125);
  // Margin 2: (max(0, -2 + 2) + 2.5 + 1.5 + 2) / 4 = 1.5.
  assertEquals(marginRankingLoss(pred, target, 2), 1.5);
});

Deno.test("the tensor ranking loss used for training equals the plain JS one", () => {
  const rng = makeRng(9);
  const before = tf.memory().numTensors;
  for (const size of [2, 9, 64]) {
    const pred = Float32Array.from({ length: size }, () => 4 * rng.next() - 2);
    const target = Float32Array.from({ length: size }, () => rng.next() < 0.1 ? 1 : 3 * rng.next());
    for (const margin of [0, 0.3, 1]) {
      const loss = tf.tidy(() => marginRankingLossTensor(tf.tensor1d(pred), tf.tensor1d(target), margin));
      const value = loss.dataSync()[0] as number;
      loss.dispose();
      assertAlmostEquals(value, marginRankingLoss(pred, target, margin), 1e-5);
    }
  }
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("perItemNll: -log of the sample-averaged label probability, finite around exact zeros", () => {
  const probs = [
    // item 0, label 1: samples give 0.5 and 0.9, mean 0.7 -> -log 0.7. Class 2 has probability 0.
    [[0.5, 0.5, 0], [0.1, 0.9, 0]],
    // item 1, label 0: samples give 1 and 0, mean 0.5 -> log 2.
    [[1, 0, 0], [0, 0, 1]],
    // item 2, label 1: 0 in both samples -> +Infinity.
    [[1, 0, 0], [0, 0, 1]],
    // item 3, label 2: probabilities e^-200 and e^-202, far below float32's range (their logs are fine):
    // -log((e^-200 + e^-202) / 2) = 200 + log 2 - log(1 + e^-2).
    [[0.5, 0.5, Math.exp(-200)], [0.5, 0.5, Math.exp(-202)]],
  ];
  const data = new Float32Array(probs.flat(2).map(Math.log));
  const lp: LogProbs = { data, n: 4, t: 2, c: 3 };
  const nll = perItemNll(lp, new Int32Array([1, 0, 1, 2]));
  assertAlmostEquals(nll[0] as number, -Math.log(0.7), 1e-6);
  assertAlmostEquals(nll[1] as number, Math.log(2), 1e-6);
  assertEquals(nll[2], Infinity);
  assertAlmostEquals(nll[3] as number, 200 + Math.log(2) - Math.log(1 + Math.exp(-2)), 1e-4);
});

Deno.test("perItemNll and marginRankingLoss reject input that does not fit", async () => {
  const lp: LogProbs = { data: new Float32Array(6).fill(Math.log(0.5)), n: 3, t: 1, c: 2 };
  await assertRejects(() => perItemNll(lp, new Int32Array([0, 1])), /2 labels for 3 items/);
  await assertRejects(() => perItemNll(lp, new Int32Array([0, 2, 1])), /label 2 of item 1/);
  await assertRejects(() => perItemNll({ ...lp, n: 4 }, new Int32Array(4)), /hold 6 values/);
  await assertRejects(() => marginRankingLoss([1], [1]), /at least 2 items/);
  await assertRejects(() => marginRankingLoss([1, 2], [1]), /2 predictions but 1 targets/);
  await assertRejects(() => marginRankingLoss([1, 2], [1, 2], -1), /margin/);
});

Deno.test("the loss head ranks held-out losses like the truth (Spearman > 0.8)", () => {
  const d = 4;
  const train = synthetic(1, 256, d);
  const test = synthetic(2, 400, d);
  const pred = predictLosses(train.x, 256, train.loss, test.x, 400, d, {
    rand: makeRng(3).next,
    hidden: [32],
    epochs: 20,
    batchSize: 32,
    learningRate: 0.01,
  });
  const rho = spearman(pred, test.loss);
  assert(rho > 0.8, `Spearman correlation ${rho}`);
  // The acquisition takes the largest predicted losses: most of its picks are among the truly largest.
  const picks = learningLossSelect(train.x, 256, train.loss, test.x, 400, d, 20, {
    rand: makeRng(3).next,
    hidden: [32],
    epochs: 20,
    batchSize: 32,
    learningRate: 0.01,
  });
  const top40 = new Set(
    Array.from({ length: 400 }, (_, i) => i).sort((a, b) => (test.loss[b] as number) - (test.loss[a] as number))
      .slice(0, 40),
  );
  assert(picks.filter((p) => top40.has(p)).length >= 15, `picks ${picks} vs the top 40`);
});

Deno.test("the loss head leaks no tensors, is deterministic given the seed, and checks its input", async () => {
  const d = 3;
  const { x, loss } = synthetic(5, 50, d);
  const opts = { rand: makeRng(7).next, hidden: [8, 8], epochs: 3, batchSize: 9 };
  const before = tf.memory().numTensors;
  const a = predictLosses(x, 50, loss, x, 50, d, opts);
  const b = predictLosses(x, 50, loss, x, 50, d, { ...opts, rand: makeRng(7).next });
  const head = fitLossPredictor(x, 50, d, loss, { ...opts, rand: makeRng(7).next });
  const c = head.predict(x, 50);
  assert(tf.memory().numTensors > before, "a live predictor holds tensors");
  head.dispose();
  head.dispose(); // a second dispose is harmless
  await assertRejects(() => head.predict(x, 50), /disposed/);
  const picks = learningLossSelect(x, 50, loss, x, 50, d, 10, { ...opts, rand: makeRng(8).next });
  assertEquals(tf.memory().numTensors, before);
  assertEquals(Array.from(a), Array.from(b));
  assertEquals(Array.from(c), Array.from(a));
  assertEquals(new Set(picks).size, 10);
  for (const v of a) assert(Number.isFinite(v));

  const warnings: string[] = [];
  const small = { ...opts, warn: (m: string) => warnings.push(m) };
  assertEquals(learningLossSelect(x, 50, loss, x.subarray(0, 2 * d), 2, d, 5, small), [0, 1]);
  assertEquals(warnings.length, 1);
  assertEquals(learningLossSelect(x, 50, loss, x, 50, d, 0, small), []);
  await assertRejects(() => fitLossPredictor(x, 1, d, [1], opts), /holds 150 values/);
  await assertRejects(() => fitLossPredictor(x.subarray(0, d), 1, d, [1], opts), /at least 2 labelled/);
  await assertRejects(() => fitLossPredictor(x, 50, d, loss.subarray(1), opts), /49 losses for 50/);
  await assertRejects(() => fitLossPredictor(x, 50, d, new Float64Array(50).fill(NaN), opts), /loss of item 0/);
  await assertRejects(() => fitLossPredictor(x, 50, d, loss, { ...opts, batchSize: 1 }), /batchSize/);
  await assertRejects(() => predictLosses(x, 50, loss, x, 49, d, opts), /pool features/);
  assertEquals(tf.memory().numTensors, before);
});
