import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { assert, assertAlmostEquals, assertEquals } from "../../tests/asserts.ts";
import { galCnn, type NetSpec } from "../../dsl/model.ts";
import { applyLayers, createNet, disposeNet, dropoutMask, features, layerShapes, mcLogProbs } from "./net.ts";
import { makeRng } from "./rng.ts";

tf.enableProdMode();
await tf.setBackend("cpu");

Deno.test("dropout masks keep 1 - rate of the entries, scaled by 1 / (1 - rate)", async () => {
  const m = dropoutMask([100_000], 0.25, 7);
  const v = await m.data();
  m.dispose();
  let kept = 0;
  for (const x of v) {
    if (x !== 0) {
      kept++;
      assertAlmostEquals(x, 4 / 3, 1e-6);
    }
  }
  // 100,000 Bernoulli(0.75) draws: std of the kept fraction is 0.0014; allow 5 std.
  assertAlmostEquals(kept / v.length, 0.75, 0.007);
  const again = dropoutMask([100_000], 0.25, 7);
  assertEquals(Array.from(await again.data()), Array.from(v));
  again.dispose();
});

Deno.test("the Gal CNN has the layer shapes of the paper's architecture", () => {
  const shapes = layerShapes(galCnn(10));
  assertEquals(shapes, [[25, 25, 32], [22, 22, 32], [11, 11, 32], [11, 11, 32], [3872], [128], [128], [10]]);
});

Deno.test("MC samples differ, and average to the deterministic net for a linear head", async () => {
  // features -> dropout(0.5) -> dense(3, linear): the mean over masks of the logits equals the
  // logits without dropout (inverted dropout is unbiased), so compare MC-mean logits, not probs.
  const spec: NetSpec = {
    inputShape: [2, 2, 1],
    layers: [
      { kind: "flatten" },
      { kind: "dropout", rate: 0.5 },
      { kind: "dense", units: 3, activation: "linear" },
    ],
  };
  const net = createNet(spec, 3);
  const before = tf.memory().numTensors;
  const x = tf.tensor4d([0.1, 0.9, 0.4, 0.7], [1, 2, 2, 1]);
  const exact = tf.tidy(() => applyLayers(net, x, 0, 3, { kind: "off" }));
  const T = 20_000;
  const feats = features(net, x);
  const lp = mcLogProbs(net, feats, T, makeRng(1));
  assertEquals(lp.shape, [1, T, 3]);
  // Recover logits up to a per-sample constant: logits - logsumexp; compare differences between classes.
  const lpv = await lp.data();
  const ex = await exact.data();
  let d01 = 0, d02 = 0;
  const distinct = new Set<string>();
  for (let t = 0; t < T; t++) {
    d01 += (lpv[t * 3]! - lpv[t * 3 + 1]!) / T;
    d02 += (lpv[t * 3]! - lpv[t * 3 + 2]!) / T;
    if (t < 50) distinct.add(lpv[t * 3]!.toFixed(6));
  }
  assert(distinct.size > 1, "MC samples should differ");
  assertAlmostEquals(d01, ex[0]! - ex[1]!, 0.02);
  assertAlmostEquals(d02, ex[0]! - ex[2]!, 0.02);
  tf.dispose([x, exact, feats, lp]);
  assertEquals(tf.memory().numTensors, before);
  disposeNet(net);
});

Deno.test("equal seeds give equal initial weights; the net owns no stray tensors", async () => {
  const before = tf.memory().numTensors;
  const a = createNet(galCnn(10), 5), b = createNet(galCnn(10), 5), c = createNet(galCnn(10), 6);
  const wa = await a.weights[0]!.kernel.data(), wb = await b.weights[0]!.kernel.data();
  const wc = await c.weights[0]!.kernel.data();
  assertEquals(Array.from(wa), Array.from(wb));
  assert(wa[0] !== wc[0]);
  for (const n of [a, b, c]) disposeNet(n);
  assertEquals(tf.memory().numTensors, before);
});
