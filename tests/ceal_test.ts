/**
 * CEAL's pseudo-labelling: the threshold schedule and selection by hand, the
 * retrain stage training on the pseudo-labels it is given (not the true
 * labels), and a whole run where pseudo-labels never join the labelled set.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as E from "fp-ts/Either.js";
import { assert, assertEquals } from "./asserts.ts";
import { ceal, PseudoLabelCodec, StrategyCodec } from "../dsl/strategy.ts";
import type { NetSpec } from "../dsl/model.ts";
import type { TrainConfig } from "../dsl/experiment.ts";
import { applyLayers, disposeNet } from "../pipeline/tensor/net.ts";
import { pseudoLabel, retrain, type Scored } from "../pipeline/tensor/stages.ts";
import { imagesToTensor } from "../pipeline/tensor/train.ts";
import { makeRng } from "../pipeline/tensor/rng.ts";
import { tinyVariant, withTinyMnist } from "./fixtures.ts";

const quiet = { progress: () => {}, warn: () => {} };

// Five candidates over three classes. Entropies (nats), by hand:
//   item 10: (1, 0, 0)           -> 0
//   item 11: (0.999, 0.001, 0)   -> -(0.999 ln 0.999 + 0.001 ln 0.001) = 0.000999 + 0.006908 = 0.007907
//   item 12: (0.9999, 0, 0.0001) -> 0.0001 + 0.000921 = 0.001021 (class 0)
//   item 13: (0, 0, 1)           -> 0 (class 2)
//   item 14: (1/3, 1/3, 1/3)     -> ln 3 = 1.0986
const meanProbs = {
  d: 3,
  data: Float32Array.of(1, 0, 0, 0.999, 0.001, 0, 0.9999, 0, 0.0001, 0, 0, 1, 1 / 3, 1 / 3, 1 / 3),
};
const candidates = [10, 11, 12, 13, 14];

Deno.test("ceal: entropy under delta0 - decay*round, most confident first, acquired items excluded", () => {
  const part = ceal({ delta: 0.008, decay: 0.0035 });
  // Round 0: threshold 0.008 takes 10, 13 (entropy 0), 12 (0.00102), 11 (0.00791); ties by index.
  assertEquals(part.select({ candidates, meanProbs, acquired: new Set(), round: 0 }), {
    indices: [10, 13, 12, 11],
    labels: [0, 2, 0, 0],
  });
  // Round 1: threshold 0.0045 drops 11; item 13 was sent to the oracle.
  assertEquals(part.select({ candidates, meanProbs, acquired: new Set([13]), round: 1 }), {
    indices: [10, 12],
    labels: [0, 0],
  });
  // Round 3: threshold 0.008 - 0.0105 < 0 takes nothing.
  assertEquals(part.select({ candidates, meanProbs, acquired: new Set(), round: 3 }).indices, []);
  // A limit keeps the most confident.
  assertEquals(
    ceal({ delta: 0.008, decay: 0, limit: 2 }).select({ candidates, meanProbs, acquired: new Set(), round: 5 }),
    { indices: [10, 13], labels: [0, 2] },
  );
});

Deno.test("ceal: decodes by name and with parameters; a bad parameter is reported by path", () => {
  const byName = PseudoLabelCodec.decode("ceal");
  assert(E.isRight(byName));
  assertEquals(byName.right.params, { delta: 0.005, decay: 0.00033 });
  const s = StrategyCodec.decode({
    posterior: "deterministic",
    score: "least-confidence",
    acquire: { name: "top-k", k: 5 },
    pseudoLabel: { name: "ceal", delta: 0.01, decay: 0.001, limit: 50 },
  });
  assert(E.isRight(s));
  assertEquals(s.right.pseudoLabel?.params, { delta: 0.01, decay: 0.001, limit: 50 });
  const bad = PseudoLabelCodec.decode({ name: "ceal", delta: -1 });
  assert(E.isLeft(bad));
});

Deno.test("pseudo-label stage rejects labels outside the classes and acquired items", async () => {
  const scored: Scored = { candidates, scores: new Float64Array(5), meanProbs };
  const stage = pseudoLabel(ceal({ delta: 0.008, decay: 0 }), 0, 3);
  const ok = await stage.run({ scored, acquired: [13] }, quiet)();
  assert(E.isRight(ok));
  assertEquals(ok.right.indices, [10, 12, 11]);
  const liar = {
    ...ceal(),
    select: () => ({ indices: [13], labels: [0] }),
  };
  const bad = await pseudoLabel(liar, 0, 3).run({ scored, acquired: [13] }, quiet)();
  assert(E.isLeft(bad) && /not an unacquired scored candidate/.test(bad.left.message), JSON.stringify(bad));
  const badClass = await pseudoLabel({ ...liar, select: () => ({ indices: [10], labels: [3] }) }, 0, 3)
    .run({ scored, acquired: [] }, quiet)();
  assert(E.isLeft(badClass) && /not a class in 0..2/.test(badClass.left.message));
});

Deno.test("retrain trains on the pseudo-labels it is given, not on the items' true labels", async () => {
  await tf.setBackend("cpu");
  // 60 random 4x4 images with true labels cycling 0..2. Items 0..5 are labelled;
  // items 6..59 are pseudo-labelled 1 whatever their true label.
  const rng = makeRng(3);
  const n = 60;
  const x = Uint8Array.from({ length: n * 16 }, () => rng.int(256));
  const y = Int32Array.from({ length: n }, (_, i) => i % 3);
  const data = { x, y, shape: [n, 4, 4, 1] as const };
  const spec: NetSpec = {
    inputShape: [4, 4, 1],
    layers: [{ kind: "flatten" }, { kind: "dense", units: 3, activation: "linear" }],
  };
  const train = { epochs: 60, batchSize: 16, learningRate: 0.05, weightDecay: 0, init: "scratch" } as TrainConfig;
  const labelled = [0, 1, 2, 3, 4, 5];
  const pseudoItems = Array.from({ length: n - 6 }, (_, i) => i + 6);
  const predictOnes = async (pseudo?: { indices: number[]; labels: number[] }) => {
    const out = await retrain(spec, train, 1, 2).run(
      { data, labelled, classes: 3, ...(pseudo ? { pseudo } : {}) },
      quiet,
    )();
    if (E.isLeft(out)) throw out.left.cause ?? new Error(out.left.message);
    const net = out.right.net;
    const predicted = tf.tidy(() =>
      tf.argMax(applyLayers(net, imagesToTensor(data, pseudoItems), 0, spec.layers.length, { kind: "off" }), 1)
    );
    const ones = (await predicted.data()).filter((k) => k === 1).length;
    predicted.dispose();
    disposeNet(net);
    return ones;
  };
  const withPseudo = await predictOnes({ indices: pseudoItems, labels: pseudoItems.map(() => 1) });
  const without = await predictOnes();
  // Fitted to the pseudo-labels, nearly all 54 items are predicted 1; without them, about a third.
  assert(withPseudo >= 50, `with pseudo-labels ${withPseudo}/54 predicted 1`);
  assert(without < 40, `without pseudo-labels ${without}/54 predicted 1`);
});

Deno.test("CEAL run: pseudo-labels train the next round's net but never join the labelled set", async () => {
  await withTinyMnist(async (dir, run) => {
    const mc = { name: "mc-dropout", samples: 4 };
    const strategies = [
      { name: "lc", posterior: mc, score: "least-confidence", acquire: { name: "top-k", k: 10 } },
      {
        name: "ceal",
        posterior: mc,
        score: "least-confidence",
        acquire: { name: "top-k", k: 10 },
        // Threshold above ln 10 = 2.30 nats in round 0: every unacquired candidate qualifies, capped at 25.
        pseudoLabel: { name: "ceal", delta: 2.5, decay: 0.1, limit: 25 },
      },
    ];
    const plain = await run(await tinyVariant(dir, "plain", { acquisitions: [], strategies: [strategies[0]] }), "a");
    const both = await run(await tinyVariant(dir, "both", { acquisitions: [], strategies }), "b");
    const ceal = both.records.filter((r) => r.acquisition === "ceal");
    assertEquals(ceal.map((r) => r.labelled), [20, 30, 40]);
    assertEquals(ceal.map((r) => r.pseudoLabelled), [25, 25, undefined]);
    for (const r of ceal.slice(0, 2)) assert((r.pseudoCorrect ?? -1) >= 0 && (r.pseudoCorrect ?? 99) <= 25);
    // Round 0 is the same as least confidence's (cached); round 0's picks equal too, so
    // round 1's labelled set is the same, yet its net differs: it also saw the pseudo-labels.
    const lc = plain.records;
    assertEquals(ceal[0]?.acquired, lc[0]?.acquired);
    assert(ceal[0]?.cacheHits.includes("retrain"));
    assert(!ceal[1]?.cacheHits.includes("retrain"), "round 1 of CEAL reused the plain net");
    assertEquals(both.executed["pseudo-label"], 2);
    // Only the oracle's items are labelled: 20 warm-start + 10 + 10, none of them pseudo-labelled ones.
    const labelledAfter = ceal.flatMap((r) => r.acquired);
    assertEquals(new Set(labelledAfter).size, 20);
    const rerun = await run(await tinyVariant(dir, "both", { acquisitions: [], strategies }), "c");
    assertEquals(rerun.executed, {});
    assertEquals(rerun.records.map((r) => r.accuracy), both.records.map((r) => r.accuracy));
  });
});
