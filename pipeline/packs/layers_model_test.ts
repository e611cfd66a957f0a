/** The layers-model pack: checks, seeded training and sampling, the codec, posteriors and tensor lifetimes. */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import * as E from "fp-ts/Either.js";
import nodeAssert from "node:assert/strict";
import { assert, assertEquals } from "../../tests/asserts.ts";
import { source } from "../../dsl/compose.ts";
import type { Stage, StoredValue } from "../../dsl/stage.ts";
import { bald, deepEnsemble, deterministic, mcDropout, strategy, topK, vognHead } from "../../dsl/strategy.ts";
import { makeRng } from "../tensor/rng.ts";
import { type ImageData, imageRound, type LabelledSet, warmStartState } from "./images.ts";
import { imageShape, layersModel, type TrainedLayers, withSeededRandom } from "./layers_model.ts";
import * as TE from "fp-ts/TaskEither.js";

function assertNotEquals<T>(actual: T, expected: T, message?: string): void {
  nodeAssert.notDeepStrictEqual(actual, expected, message);
}

/** Asserts that `f` throws an error of class `kind` whose message contains `text`. */
function assertThrows(f: () => unknown, kind: new (...a: never[]) => Error, text: string): void {
  try {
    f();
  } catch (e) {
    assert(e instanceof kind, `expected a ${kind.name}, got ${e}`);
    assert(e.message.includes(text), `expected "${text}" in: ${e.message}`);
    return;
  }
  throw new nodeAssert.AssertionError({ message: `expected an error containing "${text}"` });
}

tf.enableProdMode();
await tf.setBackend("cpu");

const train = { epochs: 3, batchSize: 4, learningRate: 1e-2, weightDecay: 1e-4, init: "scratch" } as const;

/** A small CNN with dropout on 8x8x1 images and `units` outputs. */
function cnn(units = 3, activation: "softmax" | "linear" | "sigmoid" = "softmax", dropout = true): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, activation: "relu" }),
      tfl.layers.flatten(),
      ...(dropout ? [tfl.layers.dropout({ rate: 0.5 })] : []),
      tfl.layers.dense({ units: 6, activation: "relu" }),
      tfl.layers.dense({ units, activation }),
    ],
  });
}

/** 3 classes of 8x8 images: class k is bright in row band k. */
function tinyData(n = 24): ImageData {
  const rng = makeRng(5);
  const make = (count: number) => {
    const x = new Uint8Array(count * 64);
    const y = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const k = i % 3;
      y[i] = k;
      for (let p = 0; p < 64; p++) {
        x[i * 64 + p] = Math.floor(p / 8) >= 2 * k && Math.floor(p / 8) < 2 * k + 3 ? 200 : rng.int(50);
      }
    }
    return { x, y, shape: [count, 8, 8, 1] as [number, number, number, number] };
  };
  return { train: make(n), test: make(9), classes: 3, labelNames: ["a", "b", "c"], contentHash: "ab".repeat(32) };
}

const data = tinyData();
const labelled: LabelledSet = { labelled: [0, 1, 2, 3, 4, 5, 6, 7, 8], pool: [9, 10, 11, 12, 13, 14, 15] };
const ctx = { progress: () => {}, warn: () => {} };

async function run<I, O>(stage: Stage<I, O>, input: I): Promise<O> {
  const out = await stage.run(input, ctx)();
  if (E.isLeft(out)) throw new Error(out.left.message);
  return out.right;
}

async function weightsOf(t: TrainedLayers): Promise<number[]> {
  const out: number[] = [];
  for (const w of t.model.getWeights()) out.push(...await w.data());
  return out;
}

Deno.test("withSeededRandom: the same seed gives the same draws; Math.random is restored, also after a throw", () => {
  const saved = Math.random;
  const a = withSeededRandom(3, () => [Math.random(), Math.random()]);
  assertEquals(withSeededRandom(3, () => [Math.random(), Math.random()]), a);
  assertNotEquals(withSeededRandom(4, () => [Math.random(), Math.random()]), a);
  assertEquals(Math.random, saved);
  assertThrows(
    () =>
      withSeededRandom(3, () => {
        throw new Error("boom");
      }),
    Error,
    "boom",
  );
  assertEquals(Math.random, saved);
  assertThrows(() => withSeededRandom(3, () => Promise.resolve(1)), TypeError, "synchronous");
  assertEquals(Math.random, saved);
});

Deno.test("a wrong model fails when the round is built, naming the problem", () => {
  const s = (posterior = mcDropout({ samples: 4 })) => strategy({ posterior, score: bald, acquire: topK(2) });
  const parts = (model: ReturnType<typeof layersModel>, posterior = mcDropout({ samples: 4 })) => ({
    data: source<ImageData>({ kind: "load", name: "load/x", version: 1, params: {}, run: () => TE.right(data) }),
    model,
    strategy: s(posterior),
    seed: 0,
    classes: 3,
    poolSubset: 0,
    testSubset: 0,
    inputShape: imageShape(data),
  });
  const before = tf.memory().numTensors;
  assertThrows(
    () => imageRound(parts(layersModel(() => cnn(7), train))),
    Error,
    "model output has 7 units but the data set has 3 classes",
  );
  assertThrows(
    () => imageRound({ ...parts(layersModel(() => cnn(), train)), inputShape: [28, 28, 1] }),
    Error,
    "model input shape is [8, 8, 1] but the data set's images are [28, 28, 1]",
  );
  assertThrows(
    () => imageRound(parts(layersModel(() => cnn(), train), vognHead({ samples: 4 }))),
    Error,
    'posterior "vogn-head" is not supported for a layers model (supported: mc-dropout, deterministic, ensemble)',
  );
  assertThrows(
    () => imageRound(parts(layersModel(() => cnn(3, "softmax", false), train))),
    Error,
    "mc-dropout needs a dropout layer",
  );
  assertThrows(
    () => imageRound(parts(layersModel(() => cnn(), train), mcDropout({ samples: 4, consistent: true }))),
    Error,
    "consistent masks",
  );
  assertThrows(
    () => imageRound(parts(layersModel(() => cnn(3, "sigmoid"), train), deterministic())),
    Error,
    "activation sigmoid",
  );
  // Without dropout, the deterministic posterior and an ensemble are fine.
  imageRound(parts(layersModel(() => cnn(3, "softmax", false), train), deterministic()));
  imageRound(parts(layersModel(() => cnn(3, "linear", false), train), deepEnsemble({ members: 2 })));
  assertThrows(() => layersModel(() => cnn(), { ...train, epochs: 0 }), RangeError, "train.epochs");
  // The probe builds are disposed.
  assertEquals(tf.memory().numTensors, before);
  // The round builds its steps without running anything.
  const round = imageRound(parts(layersModel(() => cnn(), train)));
  const state = warmStartState<TrainedLayers>(parts(layersModel(() => cnn(), train)).data, 1, 3, 0);
  assert(round(state, { round: 0, rounds: 1, last: false }).acquired);
});

Deno.test("retrain: seeded (same seeds, same weights), copies the previous model, pseudo-labels train, no leaks", async () => {
  const pack = layersModel(() => cnn(), train);
  const before = tf.memory().numTensors;
  const stage = pack.retrain({ init: 1, train: 2 });
  const a = await run(stage, { data, labelled });
  const count = stage.tensors?.(a) ?? -1;
  assertEquals(count, a.model.weights.length);
  assertEquals(tf.memory().numTensors - before, count);
  const b = await run(pack.retrain({ init: 1, train: 2 }), { data, labelled });
  assertEquals(await weightsOf(b), await weightsOf(a));
  const otherInit = await run(pack.retrain({ init: 9, train: 2 }), { data, labelled });
  const otherOrder = await run(pack.retrain({ init: 1, train: 9 }), { data, labelled });
  assertNotEquals(await weightsOf(otherInit), await weightsOf(a));
  assertNotEquals(await weightsOf(otherOrder), await weightsOf(a));
  assert(Number.isFinite(a.loss) && a.imagesPerSecond > 0);
  // From a copy of the previous model: the previous one is left as it was.
  const kept = await weightsOf(a);
  const more = await run(pack.retrain({ init: 1, train: 3 }), { data, labelled, from: a });
  assertEquals(await weightsOf(a), kept);
  assertNotEquals(await weightsOf(more), kept);
  // Pseudo-labelled items train too.
  const pseudo = { indices: [9, 10, 11], labels: [0, 1, 2] };
  const withPseudo = await run(pack.retrain({ init: 1, train: 2 }), { data, labelled, pseudo });
  assertNotEquals(await weightsOf(withPseudo), kept);
  for (const t of [a, b, otherInit, otherOrder, more, withPseudo]) stage.release?.(t);
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("retrain codec: weights stored by name and restored into a fresh model, same predictions, no leaks", async () => {
  const pack = layersModel(() => cnn(), train);
  const stage = pack.retrain({ init: 1, train: 2 });
  const trained = await run(stage, { data, labelled });
  const before = tf.memory().numTensors;
  const stored = await stage.codec!.encode(trained) as Required<StoredValue>;
  assertEquals(tf.memory().numTensors, before);
  assertEquals(Object.keys(stored.arrays), ["l0.kernel", "l0.bias", "l3.kernel", "l3.bias", "l4.kernel", "l4.bias"]);
  const restored = await stage.codec!.decode(stored, () => Promise.reject(new Error("not needed")));
  assertEquals(tf.memory().numTensors - before, stage.tensors!(restored));
  assertEquals(await weightsOf(restored), await weightsOf(trained));
  assertEquals(restored.loss, trained.loss);
  // A damaged entry is an error (the interpreter then recomputes), and leaks nothing.
  const bad = { ...stored, arrays: { ...stored.arrays, "l0.kernel": { data: new Float32Array(3), shape: [3] } } };
  await assertRejects(() => Promise.resolve(stage.codec!.decode(bad, () => Promise.reject(new Error("no")))));
  assertEquals(tf.memory().numTensors - before, stage.tensors!(restored));
  stage.release?.(restored);
  stage.release?.(trained);
});

async function assertRejects(f: () => Promise<unknown>): Promise<void> {
  let threw = false;
  try {
    await f();
  } catch {
    threw = true;
  }
  assert(threw, "expected a rejection");
}

Deno.test("posteriors: MC dropout gives T distinct seeded samples, deterministic one, an ensemble one per member", async () => {
  const pack = layersModel(() => cnn(), train);
  const trained = await run(pack.retrain({ init: 1, train: 2 }), { data, labelled });
  const member = await run(pack.retrain({ init: 5, train: 6 }), { data, labelled });
  const x = tf.tidy(() => tf.randomUniform([4, 8, 8, 1], 0, 1, "float32", 3));
  const before = tf.memory().numTensors;
  for (
    const [def, nets, t] of [
      [mcDropout({ samples: 5 }), [trained], 5],
      [deterministic(), [trained], 1],
      [deepEnsemble({ members: 2 }), [trained, member], 2],
    ] as const
  ) {
    const stage = pack.posterior(def, 7);
    const posterior = await run(stage, { data, labelled, nets });
    assertEquals(tf.memory().numTensors, before, def.name);
    const lp = posterior.logProbs(x, makeRng(1));
    assertEquals(lp.shape, [4, t, 3]);
    const values = await lp.array();
    // Probabilities sum to 1.
    for (const s of values[0] ?? []) assert(Math.abs(s.reduce((a, b) => a + Math.exp(b), 0) - 1) < 1e-4);
    const samples = new Set((values[0] ?? []).map((s) => s.map((v) => v.toFixed(5)).join()));
    assertEquals(samples.size, t, `${def.name}: distinct samples`);
    const again = posterior.logProbs(x, makeRng(1));
    assertEquals(await again.array(), values, `${def.name}: same rng, same samples`);
    if (def.name === "mc-dropout") {
      const other = posterior.logProbs(x, makeRng(2));
      assertNotEquals(await other.array(), values);
      other.dispose();
    }
    const e = posterior.embed!(x);
    assertEquals(e.shape, [4, 6]);
    for (const t of [lp, again, e]) t.dispose();
    // Restored from its entry (nothing but its kind), it samples the same.
    const stored = await stage.codec!.encode(posterior) as Required<StoredValue>;
    const restored = await stage.codec!.decode(stored, () => Promise.resolve({ data, labelled, nets }));
    const lp2 = restored.logProbs(x, makeRng(1));
    assertEquals(await lp2.array(), values);
    lp2.dispose();
    stage.release?.(posterior);
    stage.release?.(restored);
    assertEquals(tf.memory().numTensors, before, def.name);
  }
  x.dispose();
  trained.model.dispose();
  member.model.dispose();
});

Deno.test("keys: the topology (names made positional) and the calling module are in the retrain stage's identity", () => {
  const a = layersModel(() => cnn(), train).retrain({ init: 1, train: 2 });
  // Built again, tfjs-layers names the layers anew (dense_Dense7...): the topology is the same.
  const b = layersModel(() => cnn(), train).retrain({ init: 1, train: 2 });
  assertEquals(a.params, b.params);
  assert(!/_Dense\d/.test(JSON.stringify(a.params)), "layer names left in the topology");
  const wider = layersModel(() => cnn(4), train).retrain({ init: 1, train: 2 });
  assertNotEquals(wider.params["topology"], a.params["topology"]);
  assert(a.modules?.includes(import.meta.url), JSON.stringify(a.modules));
  assert(a.modules?.some((u) => u.endsWith("/pipeline/packs/layers_model.ts")));
});

Deno.test("retrain fails before training on data the model does not fit", async () => {
  const pack = layersModel(() => cnn(7), train);
  const before = tf.memory().numTensors;
  const out = await pack.retrain({ init: 1, train: 2 }).run({ data, labelled }, ctx)();
  assert(E.isLeft(out));
  assert(out.left.message.includes("model output has 7 units but the data set has 3 classes"), out.left.message);
  assertEquals(tf.memory().numTensors, before);
});
