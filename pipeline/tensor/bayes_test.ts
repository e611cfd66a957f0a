import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
// Registers the gradients of tfjs-core's ops (see pipeline/tensor/backend.ts), needed by trainNet.
import "@tensorflow/tfjs-layers";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../../tests/asserts.ts";
import { type BayesianSpec, hybridPreset, hybridPresetNames, type NetSpec } from "../../dsl/model.ts";
import {
  applyLayers,
  createNet,
  disposeNet,
  features,
  klDivergence,
  mcLogProbs,
  type McOptions,
  type Net,
  netFromArrays,
  netToArrays,
  netVariables,
} from "./net.ts";
import { makeRng } from "./rng.ts";
import { trainNet } from "./train.ts";

tf.enableProdMode();
await tf.setBackend("cpu");

const bayes = (rhoInit: number, rhoInitStd: number, priorStd = 1): BayesianSpec => ({ priorStd, rhoInit, rhoInitStd });
const softplus = (r: number) => Math.log1p(Math.exp(r));
const read = async (t: tf.Tensor) => Array.from(await t.data());
/** Reads a tensor made for the test, then frees it. */
const take = async (t: tf.Tensor) => {
  const v = await read(t);
  t.dispose();
  return v;
};

/** Closed-form KL(N(mu, sigma^2) || N(0, s^2)) for one weight, written out by hand. */
function klOne(mu: number, sigma: number, s: number): number {
  return Math.log(s) - Math.log(sigma) + (sigma * sigma + mu * mu) / (2 * s * s) - 0.5;
}

Deno.test("klDivergence equals the closed form summed by hand over every Gaussian weight and bias", async () => {
  const spec: NetSpec = {
    inputShape: [3, 3, 1],
    layers: [
      { kind: "conv2d", filters: 2, kernel: 2, activation: "relu", padding: "valid", bayesian: bayes(-1, 0.3, 0.5) },
      { kind: "flatten" },
      { kind: "dense", units: 4, activation: "relu" },
      { kind: "dense", units: 3, activation: "linear", bayesian: bayes(-2, 0.5, 2) },
    ],
  };
  const net = createNet(spec, 9);
  // Give the biases non-zero means so that their mu^2 term counts too.
  for (const w of net.weights) if (w?.rho) w.bias.assign(tf.fill(w.bias.shape, 0.3));
  let expected = 0;
  for (const [i, priorStd] of [[0, 0.5], [3, 2]] as const) {
    const w = net.weights[i]!;
    for (const [mu, rho] of [[w.kernel, w.rho!.kernel], [w.bias, w.rho!.bias]]) {
      const m = await read(mu!), r = await read(rho!);
      for (let j = 0; j < m.length; j++) expected += klOne(m[j]!, softplus(r[j]!), priorStd);
    }
  }
  const kl = klDivergence(net);
  assertAlmostEquals((await kl.data())[0]!, expected, 1e-4 * Math.abs(expected));
  kl.dispose();

  // At mu = 0, sigma = priorStd the posterior is the prior: KL = 0.
  for (const [i, s] of [[0, 0.5], [3, 2]] as const) {
    const w = net.weights[i]!;
    for (const v of netVariables({ spec, weights: [w] })) {
      v.assign(v === w.rho!.kernel || v === w.rho!.bias ? tf.fill(v.shape, Math.log(Math.expm1(s))) : tf.zerosLike(v));
    }
  }
  const zero = klDivergence(net);
  assertAlmostEquals((await zero.data())[0]!, 0, 1e-4);
  zero.dispose();
  disposeNet(net);

  const det = createNet({
    inputShape: [2, 2, 1],
    layers: [{ kind: "flatten" }, { kind: "dense", units: 2, activation: "linear" }],
  }, 1);
  const none = klDivergence(det);
  assertEquals((await none.data())[0], 0);
  none.dispose();
  disposeNet(det);
});

Deno.test("the closed-form KL agrees with a Monte Carlo estimate of E_q[log q - log p]", () => {
  // Checks the formula itself: 200,000 draws from q = N(0.4, 0.3^2) against p = N(0, 0.8^2).
  const mu = 0.4, sigma = 0.3, s = 0.8, n = 200_000;
  const rng = makeRng(4);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const z = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    const w = mu + sigma * z;
    // log q(w) - log p(w); the 0.5 log(2 pi) terms cancel.
    sum += -Math.log(sigma) - (z * z) / 2 + Math.log(s) + (w * w) / (2 * s * s);
  }
  // The summand has std below 1 here, so 5 standard errors are below 0.012.
  assertAlmostEquals(sum / n, klOne(mu, sigma, s), 0.012);
});

Deno.test("sampled passes differ; mode off is the pass with the mean weights", async () => {
  const spec: NetSpec = {
    inputShape: [2, 2, 1],
    layers: [{ kind: "flatten" }, { kind: "dense", units: 3, activation: "linear", bayesian: bayes(-1, 0.1) }],
  };
  const net = createNet(spec, 2);
  net.weights[1]!.bias.assign(tf.tensor1d([0.1, -0.2, 0.3]));
  const before = tf.memory().numTensors;
  const xs = [0.2, 0.9, -0.4, 0.7, 1, 0, 0.5, -0.3];
  const x = tf.tensor4d(xs, [2, 2, 2, 1]);
  const off = await take(tf.tidy(() => applyLayers(net, x, 0, 2, { kind: "off" })));
  const k = await read(net.weights[1]!.kernel), b = await read(net.weights[1]!.bias);
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 3; j++) {
      let y = b[j]!;
      for (let f = 0; f < 4; f++) y += xs[i * 4 + f]! * k[f * 3 + j]!;
      assertAlmostEquals(off[i * 3 + j]!, y, 1e-5);
    }
  }
  const rng = makeRng(5);
  const s1 = await take(tf.tidy(() => applyLayers(net, x, 0, 2, { kind: "sample", rng })));
  const s2 = await take(tf.tidy(() => applyLayers(net, x, 0, 2, { kind: "sample", rng })));
  assert(s1.some((v, i) => Math.abs(v - s2[i]!) > 1e-4), "two sampled passes should differ");
  assert(s1.some((v, i) => Math.abs(v - off[i]!) > 1e-4), "a sampled pass should differ from the mean pass");
  x.dispose();
  assertEquals(tf.memory().numTensors, before);
  disposeNet(net);

  // The means of a Gaussian layer start as the deterministic layer's weights for the same seed.
  const conv = (b?: BayesianSpec): NetSpec => ({
    inputShape: [5, 5, 2],
    layers: [{
      kind: "conv2d",
      filters: 3,
      kernel: 3,
      activation: "relu",
      padding: "same",
      ...(b ? { bayesian: b } : {}),
    }],
  });
  const bn = createNet(conv(bayes(-3, 0.1)), 8), dn = createNet(conv(), 8);
  const img = tf.randomUniform([2, 5, 5, 2], 0, 1, "float32", 3);
  const yb = tf.tidy(() => applyLayers(bn, img, 0, 1, { kind: "off" }));
  const yd = tf.tidy(() => applyLayers(dn, img, 0, 1, { kind: "off" }));
  assertEquals(await read(yb), await read(yd));
  tf.dispose([img, yb, yd]);
  disposeNet(bn);
  disposeNet(dn);
});

Deno.test("the mean and variance of many sampled linear outputs match the Gaussian weights'", async () => {
  // y_j = sum_f x_f w_fj + b_j with independent w_fj ~ N(mu_fj, s_fj^2), b_j ~ N(mb_j, sb_j^2):
  // E y_j = the mean-weight output, Var y_j = sum_f x_f^2 s_fj^2 + sb_j^2.
  const spec: NetSpec = {
    inputShape: [1, 1, 4],
    layers: [{ kind: "flatten" }, { kind: "dense", units: 2, activation: "linear", bayesian: bayes(-0.5, 0.4) }],
  };
  const net = createNet(spec, 6);
  const xs = [0.5, -1, 2, 0.25];
  const x = tf.tensor4d(xs, [1, 1, 1, 4]);
  const w = net.weights[1]!;
  const mu = await read(w.kernel), sk = (await read(w.rho!.kernel)).map(softplus);
  const mb = await read(w.bias), sb = (await read(w.rho!.bias)).map(softplus);
  const M = 2000;
  const rng = makeRng(3);
  const sum = [0, 0], sq = [0, 0];
  for (let m = 0; m < M; m++) {
    const y = tf.tidy(() => applyLayers(net, x, 0, 2, { kind: "sample", rng }));
    const v = y.dataSync();
    y.dispose();
    for (let j = 0; j < 2; j++) {
      sum[j]! += v[j]!;
      sq[j]! += v[j]! * v[j]!;
    }
  }
  for (let j = 0; j < 2; j++) {
    let mean = mb[j]!, variance = sb[j]! ** 2;
    for (let f = 0; f < 4; f++) {
      mean += xs[f]! * mu[f * 2 + j]!;
      variance += xs[f]! ** 2 * sk[f * 2 + j]! ** 2;
    }
    const sampleMean = sum[j]! / M;
    const sampleVar = sq[j]! / M - sampleMean ** 2;
    // The sample mean has std sqrt(Var / M); allow 5 of them.
    assertAlmostEquals(sampleMean, mean, 5 * Math.sqrt(variance / M));
    // The sample variance of Gaussian draws has std about Var sqrt(2 / M); allow 5 of them.
    assertAlmostEquals(sampleVar, variance, 5 * variance * Math.sqrt(2 / M));
  }
  x.dispose();
  disposeNet(net);
});

Deno.test("initial rho entries have mean rhoInit and std rhoInitStd; biases start at zero", async () => {
  const spec: NetSpec = {
    inputShape: [1, 1, 64],
    layers: [{ kind: "flatten" }, { kind: "dense", units: 64, activation: "relu", bayesian: bayes(-5, 0.1) }],
  };
  const net = createNet(spec, 12);
  const rho = await read(net.weights[1]!.rho!.kernel);
  assertEquals(rho.length, 4096);
  const mean = rho.reduce((a, b) => a + b, 0) / rho.length;
  const std = Math.sqrt(rho.reduce((a, b) => a + (b - mean) ** 2, 0) / (rho.length - 1));
  // Standard errors: 0.1 / sqrt(4096) for the mean, about 0.1 / sqrt(2 * 4096) for the std; allow 5 of each.
  assertAlmostEquals(mean, -5, 5 * 0.1 / 64);
  assertAlmostEquals(std, 0.1, 5 * 0.1 / Math.sqrt(2 * 4096));
  const biasRho = await read(net.weights[1]!.rho!.bias);
  assert(biasRho.every((r) => Math.abs(r + 5) < 0.6));
  assert((await read(net.weights[1]!.bias)).every((b) => b === 0));
  disposeNet(net);
});

Deno.test("a net built from each hybrid preset has Gaussian weights exactly in the layers the poster names", () => {
  const expected: Record<string, number[]> = {
    // Layer indices in hybridPreset: 0 Conv1, 1 Conv2, 4 Dense1, 5 Dense2.
    "BNN": [0, 1, 4, 5],
    "BNN-1": [5],
    "BNN-2": [4, 5],
    "BNN-3": [1, 4, 5],
    "BNN1": [0],
    "BNN2": [0, 1],
    "BNN3": [0, 1, 4],
    "CNN": [],
  };
  const before = tf.memory().numTensors;
  for (const name of hybridPresetNames) {
    const net = createNet(hybridPreset(name, 3, [10, 10, 1]), 1);
    assertEquals(net.weights.flatMap((w, i) => (w?.rho ? [i] : [])), expected[name], name);
    assertEquals(netVariables(net).length, 8 + 2 * expected[name]!.length);
    disposeNet(net);
  }
  assertEquals(tf.memory().numTensors, before);
});

/** dropout -> Bayesian conv -> Bayesian dense -> dropout -> dense, behind a deterministic conv. */
const mixedSpec: NetSpec = {
  inputShape: [4, 4, 1],
  layers: [
    { kind: "conv2d", filters: 2, kernel: 2, activation: "relu", padding: "valid" },
    { kind: "dropout", rate: 0.3 },
    { kind: "conv2d", filters: 3, kernel: 2, activation: "relu", padding: "valid", bayesian: bayes(-1, 0.1) },
    { kind: "flatten" },
    { kind: "dense", units: 5, activation: "relu", bayesian: bayes(-1, 0.1) },
    { kind: "dropout", rate: 0.5 },
    { kind: "dense", units: 3, activation: "linear" },
  ],
};

/** Deterministic prefix, then the Bayesian last layer (BNN-1 style). */
const lastBayesSpec: NetSpec = {
  inputShape: [4, 4, 1],
  layers: [
    { kind: "flatten" },
    { kind: "dense", units: 6, activation: "relu" },
    { kind: "dense", units: 3, activation: "linear", bayesian: bayes(0, 0.1) },
  ],
};

/** MC log-probs of `x` scored in chunks split at `cuts`, concatenated over items. */
async function scored(
  net: Net,
  x: tf.Tensor,
  cuts: number[],
  T: number,
  rngSeed: number,
  opts: McOptions = {},
): Promise<number[]> {
  const n = x.shape[0]!;
  const bounds = [0, ...cuts, n];
  const rng = makeRng(rngSeed);
  const out: number[] = [];
  for (let c = 0; c + 1 < bounds.length; c++) {
    const lp = tf.tidy(() => {
      const xc = tf.slice(x, [bounds[c]!], [bounds[c + 1]! - bounds[c]!]);
      return mcLogProbs(net, features(net, xc), T, rng, opts);
    });
    assertEquals(lp.shape, [bounds[c + 1]! - bounds[c]!, T, 3]);
    out.push(...(await read(lp)));
    lp.dispose();
  }
  return out;
}

Deno.test("consistent MC samples: equal across calls, chunkings and pass layouts; plain samples are not", async () => {
  const T = 7;
  for (const spec of [mixedSpec, lastBayesSpec]) {
    for (const passes of ["batched", "per-sample"] as const) {
      const net = createNet(spec, 4);
      const x = tf.randomUniform([6, 4, 4, 1], 0, 1, "float32", 11);
      const before = tf.memory().numTensors;
      const c42 = { consistentSeed: 42, passes };
      const whole = await scored(net, x, [], T, 1, c42);
      assertEquals(await scored(net, x, [], T, 2, c42), whole, "same consistent seed, different rng");
      assertEquals(await scored(net, x, [2], T, 3, c42), whole, "one chunk vs two");
      assertEquals(await scored(net, x, [1, 3, 4], T, 3, c42), whole, "one chunk vs four");
      // Samples of one item differ from each other, and another consistent seed gives other samples.
      const item0 = Array.from({ length: T }, (_, t) => whole[t * 3]!);
      assert(new Set(item0.map((v) => v.toFixed(5))).size > 1, "samples should differ");
      const other = await scored(net, x, [], T, 1, { consistentSeed: 43, passes });
      assert(other.some((v, i) => Math.abs(v - whole[i]!) > 1e-4));
      // Sample t does not depend on T: the first 3 of 7 samples are the 3 samples of T = 3.
      const three = await scored(net, x, [], 3, 1, c42);
      for (let i = 0; i < 6; i++) {
        assertEquals(three.slice(i * 9, i * 9 + 9), whole.slice(i * T * 3, i * T * 3 + 9));
      }
      // The other pass layout makes the same draws.
      const flip = passes === "batched" ? "per-sample" : "batched";
      const across = await scored(net, x, [], T, 1, { consistentSeed: 42, passes: flip });
      across.forEach((v, i) => assertAlmostEquals(v, whole[i]!, 1e-5));
      // Without the option, equal rng seeds reproduce, different ones (or a chunk split) do not.
      const plain = await scored(net, x, [], T, 1, { passes });
      assertEquals(await scored(net, x, [], T, 1, { passes }), plain);
      const plain2 = await scored(net, x, [], T, 2, { passes });
      assert(plain2.some((v, i) => Math.abs(v - plain[i]!) > 1e-4), "different rng seeds should differ");
      const split = await scored(net, x, [2], T, 1, { passes });
      assert(split.some((v, i) => Math.abs(v - plain[i]!) > 1e-4), "plain samples are drawn per call");
      assertEquals(tf.memory().numTensors, before);
      x.dispose();
      disposeNet(net);
    }
  }
});

Deno.test("MC samples of a Gaussian linear head average to the mean-weight logits", async () => {
  // Logit differences d = y_0 - y_c are linear in the weights, so their MC mean tends to the
  // mean-weight value, with variance sum_f x_f^2 (s_f0^2 + s_fc^2) + sb_0^2 + sb_c^2 per sample.
  const spec: NetSpec = {
    inputShape: [1, 1, 4],
    layers: [{ kind: "flatten" }, { kind: "dense", units: 3, activation: "linear", bayesian: bayes(-1, 0.2) }],
  };
  const net = createNet(spec, 5);
  const xs = [0.3, -0.8, 1.2, 0.5];
  const x = tf.tensor4d(xs, [1, 1, 1, 4]);
  const w = net.weights[1]!;
  const mu = await read(w.kernel), sk = (await read(w.rho!.kernel)).map(softplus);
  const mb = await read(w.bias), sb = (await read(w.rho!.bias)).map(softplus);
  for (const [passes, T] of [["batched", 20_000], ["per-sample", 2_000]] as const) {
    const lp = await scored(net, x, [], T, 8, { passes });
    for (const c of [1, 2]) {
      let mean = mb[0]! - mb[c]!, variance = sb[0]! ** 2 + sb[c]! ** 2;
      for (let f = 0; f < 4; f++) {
        mean += xs[f]! * (mu[f * 3]! - mu[f * 3 + c]!);
        variance += xs[f]! ** 2 * (sk[f * 3]! ** 2 + sk[f * 3 + c]! ** 2);
      }
      let sum = 0;
      for (let t = 0; t < T; t++) sum += lp[t * 3]! - lp[t * 3 + c]!;
      // 5 standard errors of the MC mean.
      assertAlmostEquals(sum / T, mean, 5 * Math.sqrt(variance / T), `${passes}, class ${c}`);
    }
  }
  x.dispose();
  disposeNet(net);
});

Deno.test("consistent dropout masks are shared by the items of a sample", async () => {
  // Two copies of one image: under consistent masks every sample scores them equally.
  const spec: NetSpec = {
    inputShape: [1, 1, 8],
    layers: [{ kind: "flatten" }, { kind: "dropout", rate: 0.5 }, { kind: "dense", units: 3, activation: "linear" }],
  };
  const net = createNet(spec, 1);
  const row = [0.1, 0.5, 0.9, 0.3, 0.7, 0.2, 0.4, 0.8];
  const x = tf.tensor4d([...row, ...row], [2, 1, 1, 8]);
  const lp = await scored(net, x, [], 16, 1, { consistentSeed: 5 });
  assertEquals(lp.slice(0, 48), lp.slice(48));
  const plain = await scored(net, x, [], 16, 1);
  assert(plain.slice(0, 48).some((v, i) => v !== plain[48 + i]), "plain masks are per item");
  x.dispose();
  disposeNet(net);
});

Deno.test("netToArrays / netFromArrays round-trip a Bayesian net exactly", async () => {
  const net = createNet(mixedSpec, 7);
  const arrays = await netToArrays(net);
  assertEquals(Object.keys(arrays).sort(), [
    "l0.bias",
    "l0.kernel",
    "l2.bias",
    "l2.biasRho",
    "l2.kernel",
    "l2.kernelRho",
    "l4.bias",
    "l4.biasRho",
    "l4.kernel",
    "l4.kernelRho",
    "l6.bias",
    "l6.kernel",
  ]);
  const back = netFromArrays(mixedSpec, arrays);
  const again = await netToArrays(back);
  for (const [name, a] of Object.entries(arrays)) {
    assertEquals(again[name]!.shape, a.shape, name);
    assertEquals(Array.from(again[name]!.data), Array.from(a.data), name);
  }
  const x = tf.randomUniform([3, 4, 4, 1], 0, 1, "float32", 2);
  assertEquals(
    await scored(back, x, [], 5, 1, { consistentSeed: 9 }),
    await scored(net, x, [], 5, 1, { consistentSeed: 9 }),
  );
  x.dispose();
  disposeNet(back);

  const before = tf.memory().numTensors;
  const { ["l4.kernelRho"]: _dropped, ...missing } = arrays;
  await assertRejects(() => netFromArrays(mixedSpec, missing), /layer 4/);
  const wrong = { ...arrays, "l2.biasRho": { data: new Float32Array(2), shape: [2] } };
  await assertRejects(() => netFromArrays(mixedSpec, wrong), /layer 2/);
  assertEquals(tf.memory().numTensors, before);
  disposeNet(net);
});

Deno.test("training a tiny Bayesian net lowers its loss (cross-entropy + KL / N) and moves the rhos", async () => {
  // Two classes of 2x2 images: is the first pixel brighter than the second?
  const n = 64;
  const rng = makeRng(21);
  const xs = Array.from({ length: n * 4 }, () => rng.next());
  const labels = Int32Array.from({ length: n }, (_, i) => (xs[i * 4]! > xs[i * 4 + 1]! ? 1 : 0));
  const spec: NetSpec = {
    inputShape: [2, 2, 1],
    layers: [
      { kind: "flatten" },
      { kind: "dense", units: 8, activation: "relu", bayesian: bayes(-5, 0.1, 1) },
      { kind: "dense", units: 2, activation: "linear", bayesian: bayes(-5, 0.1, 1) },
    ],
  };
  const net = createNet(spec, 3);
  const rho0 = await read(net.weights[2]!.rho!.kernel);
  const x = tf.tensor4d(xs, [n, 2, 2, 1]);
  const losses: number[] = [];
  const before = tf.memory().numTensors;
  await trainNet(net, x, labels, 2, {
    epochs: 40,
    batchSize: 16,
    learningRate: 0.03,
    weightDecay: 1e-3, // every kernel is Bayesian, so this must be a no-op rather than an error
    seed: 1,
    onEpoch: (_e, loss) => losses.push(loss),
  });
  assertEquals(tf.memory().numTensors, before);
  assert(losses.every(Number.isFinite));
  // The first epoch's loss includes KL / N: about 4.5 nats per weight (sigma = softplus(-5)) * 58 / 64.
  assert(losses[0]! > 2, `first loss ${losses[0]}`);
  assert(losses[losses.length - 1]! < 0.5 * losses[0]!, `losses ${losses[0]} -> ${losses[losses.length - 1]}`);
  // The cross-entropy part is learnt too: the mean-weight net separates the two classes.
  const pred = await take(tf.tidy(() => tf.argMax(applyLayers(net, x, 0, 3, { kind: "off" }), 1)));
  const accuracy = pred.filter((p, i) => p === labels[i]).length / n;
  assert(accuracy >= 0.85, `training accuracy ${accuracy}`);
  const rho1 = await read(net.weights[2]!.rho!.kernel);
  assert(rho1.some((r, i) => Math.abs(r - rho0[i]!) > 1e-3), "rho should be trained");
  x.dispose();
  disposeNet(net);
});

Deno.test("klWeight scales the KL term of the training loss, and only it", async () => {
  const n = 32;
  const rng = makeRng(5);
  const x = tf.tensor4d(Array.from({ length: n * 4 }, () => rng.next()), [n, 2, 2, 1]);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
  const spec: NetSpec = {
    inputShape: [2, 2, 1],
    layers: [{ kind: "flatten" }, { kind: "dense", units: 2, activation: "linear", bayesian: bayes(-5, 0.1, 1) }],
  };
  // One full batch, a step too small to matter: the loss is CE(one draw) + w KL / N, with the same draw each time.
  const lossWith = async (klWeight: number) => {
    const net = createNet(spec, 3);
    let loss = NaN;
    await trainNet(net, x, labels, 2, {
      epochs: 1,
      batchSize: n,
      learningRate: 1e-12,
      weightDecay: 0,
      klWeight,
      seed: 1,
      onEpoch: (_e, l) => (loss = l),
    });
    const kl = (await read(klDivergence(net)))[0]!;
    disposeNet(net);
    return { loss, kl };
  };
  const full = await lossWith(1), quarter = await lossWith(0.25);
  assertAlmostEquals(full.kl, quarter.kl, 1e-3);
  assertAlmostEquals(full.loss - quarter.loss, (0.75 * full.kl) / n, 1e-3 * Math.max(1, full.kl / n));
  x.dispose();
});
