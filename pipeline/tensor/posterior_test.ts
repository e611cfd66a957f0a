import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { assert, assertAlmostEquals, assertEquals } from "../../tests/asserts.ts";
import type { NetSpec } from "../../dsl/model.ts";
import { deepEnsemble, deterministic, mcDropout } from "../../dsl/strategy.ts";
import { applyLayers, createNet, disposeNet } from "./net.ts";
import { ensemblePosterior, posteriorImpl } from "./posterior.ts";
import { makeRng } from "./rng.ts";

tf.enableProdMode();
await tf.setBackend("cpu");

/** A small MLP on 4x4x1 inputs whose logits are linear in the dropout mask. */
const spec: NetSpec = {
  inputShape: [4, 4, 1],
  layers: [
    { kind: "flatten" },
    { kind: "dense", units: 12, activation: "relu" },
    { kind: "dropout", rate: 0.5 },
    { kind: "dense", units: 3, activation: "linear" },
  ],
};

const x = () => tf.tensor4d(Float32Array.from({ length: 5 * 16 }, (_, i) => Math.sin(i * 0.37)), [5, 4, 4, 1]);

Deno.test("MC-dropout samples differ, and their mean logit equals the dropout-off net (inverted dropout)", async () => {
  const net = createNet(spec, 3);
  const input = x();
  try {
    const rng = makeRng(1);
    const t = 4000;
    // Logits are linear in the mask after the last dropout, so E[sampled logits] = logits with dropout off.
    const [mean, spread, off] = tf.tidy(() => {
      const rows = tf.concat(new Array<tf.Tensor>(t).fill(input), 0);
      const sampled = tf.reshape(applyLayers(net, rows, 0, 4, { kind: "sample", rng }), [t, 5, 3]);
      return [
        tf.mean(sampled, 0).arraySync() as number[][],
        tf.mean(tf.abs(tf.sub(sampled, tf.mean(sampled, 0))), 0).arraySync() as number[][],
        applyLayers(net, input, 0, 4, { kind: "off" }).arraySync() as number[][],
      ];
    });
    for (let i = 0; i < 5; i++) {
      for (let c = 0; c < 3; c++) {
        // Standard error of a mean over 4,000 samples is about spread / 63; allow 5 of them.
        const tol = Math.max(5 * (spread[i]![c]! / Math.sqrt(t)), 1e-5);
        assertAlmostEquals(mean[i]![c]!, off[i]![c]!, tol);
        assert(spread[i]![c]! > 1e-4 || Math.abs(off[i]![c]!) < 1e-6, "samples do not differ");
      }
    }
    const post = await posteriorImpl(mcDropout({ samples: 6 })).fit(
      { net, members: [net], images: {} as never, labelled: [], classes: 3, seed: 0 },
      { progress: () => {}, warn: () => {} },
    );
    const lp = post.logProbs(input, makeRng(2));
    assertEquals(lp.shape, [5, 6, 3]);
    const v = lp.arraySync();
    lp.dispose();
    assert(JSON.stringify(v[0]![0]) !== JSON.stringify(v[0]![1]), "two MC samples of one item are identical");
    // Each row is a normalised log-distribution.
    for (const item of v) for (const row of item) assertAlmostEquals(row.reduce((a, b) => a + Math.exp(b), 0), 1, 1e-5);
  } finally {
    input.dispose();
    disposeNet(net);
  }
});

Deno.test("an ensemble's samples are its members' softmax outputs; the deterministic posterior is one of them", async () => {
  const members = [createNet(spec, 1), createNet(spec, 2), createNet(spec, 3)];
  const input = x();
  try {
    const ensemble = await posteriorImpl(deepEnsemble({ members: 3 })).fit(
      { net: members[0]!, members, images: {} as never, labelled: [], classes: 3, seed: 0 },
      { progress: () => {}, warn: () => {} },
    );
    const lp = ensemble.logProbs(input, makeRng(0));
    assertEquals(lp.shape, [5, 3, 3]);
    const got = lp.arraySync();
    lp.dispose();
    // Second method: softmax by hand from each member's dropout-off logits.
    for (const [m, net] of members.entries()) {
      const logits = tf.tidy(() => applyLayers(net, input, 0, 4, { kind: "off" }).arraySync() as number[][]);
      for (let i = 0; i < 5; i++) {
        const row = logits[i]!;
        const z = Math.log(row.reduce((a, b) => a + Math.exp(b), 0));
        for (let c = 0; c < 3; c++) assertAlmostEquals(got[i]![m]![c]!, row[c]! - z, 1e-5);
      }
    }
    // Members have different weights, so they disagree.
    assert(JSON.stringify(got[0]![0]) !== JSON.stringify(got[0]![1]));
    const det = await posteriorImpl(deterministic()).fit(
      { net: members[0]!, members: [members[0]!], images: {} as never, labelled: [], classes: 3, seed: 0 },
      { progress: () => {}, warn: () => {} },
    );
    const one = det.logProbs(input, makeRng(5));
    assertEquals(one.shape, [5, 1, 3]);
    const d = one.arraySync();
    one.dispose();
    for (let i = 0; i < 5; i++) for (let c = 0; c < 3; c++) assertAlmostEquals(d[i]![0]![c]!, got[i]![0]![c]!, 1e-6);
    assertEquals(ensemblePosterior(members).samples, 3);
  } finally {
    input.dispose();
    members.forEach(disposeNet);
  }
});
