/**
 * The built-in scores' tensor forms against their JS twins (float64 loops in
 * `pipeline/algorithms/scores.ts`) on the same log-probabilities: on the cpu
 * backend everywhere, and on webgpu where Deno finds an adapter (lavapipe in
 * CI). Inputs include certain predictions (log 0 = -Infinity entries), samples
 * that all agree, and C = 1 for margin.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import {
  bald,
  leastConfidence,
  type LogProbs,
  margin,
  maxEntropy,
  meanStd,
  randomScore,
  type ScoreFn,
  variationRatios,
} from "../algorithms/scores.ts";
import { selectBackend } from "./backend.ts";
import { scoresOnDevice, type TensorScore, tensorScoreOf } from "./device_scores.ts";
import { makeRng } from "./rng.ts";
import { hasWebgpuAdapter } from "./_webgpu_adapter.ts";

/** Random log-softmax rows [n, t, c]; item 0 is certain (one class has all the mass), item 1's samples all agree. */
function logProbs(n: number, t: number, c: number, seed: number): LogProbs {
  const rng = makeRng(seed);
  const data = new Float32Array(n * t * c);
  const shared = Array.from({ length: c }, () => 3 * (rng.next() - 0.5));
  for (let i = 0; i < n; i++) {
    for (let s = 0; s < t; s++) {
      const row = (i * t + s) * c;
      const logits = i === 1 ? shared : Array.from({ length: c }, () => 4 * (rng.next() - 0.5));
      const top = Math.max(...logits);
      const z = Math.log(logits.reduce((a, v) => a + Math.exp(v - top), 0)) + top;
      for (let k = 0; k < c; k++) data[row + k] = i === 0 ? (k === s % c ? 0 : -Infinity) : (logits[k] as number) - z;
    }
  }
  return { data, n, t, c };
}

const scores: [string, ScoreFn][] = [
  ["maxEntropy", maxEntropy],
  ["bald", bald],
  ["variationRatios", variationRatios],
  ["meanStd", meanStd],
  ["leastConfidence", leastConfidence],
  ["margin", margin],
];

for (const backend of ["cpu", "webgpu"] as const) {
  for (const [name, fn] of scores) {
    Deno.test({
      name: `${name} as tensor ops on ${backend} == its JS form`,
      ignore: backend === "webgpu" && !hasWebgpuAdapter,
      fn: async () => {
        if (backend === "webgpu") await selectBackend("webgpu", () => {});
        else assert.ok(await tf.setBackend("cpu"));
        const maybe = tensorScoreOf(fn);
        assert.ok(maybe, `${name} has a tensor form`);
        const form: TensorScore = maybe;
        for (const [n, t, c] of [[37, 20, 10], [5, 3, name === "margin" ? 1 : 2]] as const) {
          const lp = logProbs(n, t, c, n + t + c);
          const expected = fn(lp, () => 0);
          const got: tf.Tensor1D = tf.tidy(() => form(tf.tensor3d(lp.data, [n, t, c])));
          const values: Float32Array = Float32Array.from(await got.data());
          got.dispose();
          assert.equal(values.length, n);
          for (let i = 0; i < n; i++) {
            const want = expected[i] as number, have = values[i] as number;
            assert.ok(
              Math.abs(have - want) <= 2e-5 * Math.max(1, Math.abs(want)),
              `${name} [${n},${t},${c}] item ${i}: ${have} vs ${want}`,
            );
          }
        }
      },
    });
  }
}

Deno.test("tensor forms: only the built-in prediction scores have one, and only webgpu uses them", () => {
  assert.equal(tensorScoreOf(randomScore), undefined);
  assert.equal(tensorScoreOf((lp) => new Float64Array(lp.n)), undefined);
  assert.equal(scoresOnDevice("webgpu"), true);
  for (const b of ["wasm", "cpu", "tensorflow"]) assert.equal(scoresOnDevice(b), false);
});
