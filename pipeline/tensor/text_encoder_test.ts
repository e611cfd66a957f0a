import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { assert, assertEquals } from "../../tests/asserts.ts";
import { encodeFeatures, hashString, hashTexts, pointLogProbs, tokenize, trainEncoder } from "./text_encoder.ts";

tf.enableProdMode();
await tf.setBackend("cpu");

Deno.test("tokenize lower-cases words and drops punctuation", () => {
  assertEquals(tokenize("Bahia COCOA <Review>: 3.5 pct, München"), [
    "bahia",
    "cocoa",
    "review",
    "3",
    "5",
    "pct",
    "münchen",
  ]);
  assertEquals(tokenize("  ...  "), []);
});

Deno.test("hashTexts is deterministic and adds bigrams", () => {
  const opts = { buckets: 1 << 15, maxTokens: 100 };
  const a = hashTexts(["wheat exports rose", "", "Wheat"], opts);
  const b = hashTexts(["wheat exports rose", "", "Wheat"], opts);
  assertEquals([...a.ids], [...b.ids]);
  assertEquals([...a.offsets], [0, 5, 5, 6]); // 3 unigrams + 2 bigrams; empty text; one unigram
  assertEquals(a.ids[0], hashString("wheat") % opts.buckets);
  assertEquals(a.ids[2], hashString("wheat exports") % opts.buckets);
  assertEquals(a.ids[5], a.ids[0]); // same word, same bucket, whatever the case
  const uni = hashTexts(["wheat exports rose"], { ...opts, bigrams: false, maxTokens: 2 });
  assertEquals(uni.ids.length, 2);
  for (const id of a.ids) assert(id >= 0 && id < opts.buckets);
});

const CORPUS = [
  ["wheat grain harvest", 0],
  ["grain wheat prices", 0],
  ["harvest of wheat", 0],
  ["oil crude barrel", 1],
  ["crude oil output", 1],
  ["barrel of oil", 1],
] as const;

Deno.test("trainEncoder learns a separable tiny corpus (softmax and sigmoid) without leaking tensors", () => {
  const bags = hashTexts(CORPUS.map(([t]) => t), { buckets: 256, maxTokens: 20 });
  const rows = CORPUS.map((_, i) => i);
  const onehot = new Float32Array(CORPUS.flatMap(([, y]) => (y === 0 ? [1, 0] : [0, 1])));
  const before = tf.memory().numTensors;
  for (const output of ["softmax", "sigmoid"] as const) {
    const losses: number[] = [];
    const run = () =>
      trainEncoder(bags, rows, onehot, 2, {
        dim: 8,
        hidden: 8,
        epochs: 40,
        batchSize: 3,
        learningRate: 0.05,
        seed: 7,
        output,
        onEpoch: (_e, loss) => losses.push(loss),
      });
    const { encoder } = run();
    assert(losses.at(-1)! < 0.2 * losses[0]!, `${output}: loss ${losses[0]} -> ${losses.at(-1)}`);
    const feats = encodeFeatures(encoder, bags, rows);
    assertEquals(feats.length, rows.length * 8);
    const lp = pointLogProbs(encoder, feats, rows.length);
    CORPUS.forEach(([, y], i) => {
      const on = lp[i * 2 + y]!, off = lp[i * 2 + 1 - y]!;
      assert(on > off, `${output}: doc ${i} not separated`);
    });
    // Same seed, same weights.
    const again = run().encoder;
    assertEquals([...again.w2], [...encoder.w2]);
  }
  assertEquals(tf.memory().numTensors, before);
});
