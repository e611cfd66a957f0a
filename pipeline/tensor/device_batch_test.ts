/**
 * The batch rules with their tensor parts on a backend (cpu everywhere, webgpu
 * where Deno finds an adapter: lavapipe in CI) against the JS forms, with the
 * items cut into chunks: BatchBALD picks the same items with gains within
 * float32 noise, in the exact regime and the sampled one; core-set's distances
 * to the labelled rows match float64 ones and give the same picks.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { batchBald, kCenterGreedy } from "../algorithms/batch.ts";
import type { LogProbs } from "../algorithms/scores.ts";
import { selectBackend } from "./backend.ts";
import { jointEntropyDevice, nearestCentresDevice } from "./device_batch.ts";
import { makeRng } from "./rng.ts";
import { hasWebgpuAdapter } from "./_webgpu_adapter.ts";

/** Log-softmax rows [n, t, c] of random logits, each item with its own spread (well separated gains). */
function logProbs(n: number, t: number, c: number, seed: number): LogProbs {
  const rng = makeRng(seed);
  const data = new Float32Array(n * t * c);
  for (let i = 0; i < n; i++) {
    const spread = 0.2 + 4 * rng.next();
    const centre = Array.from({ length: c }, () => 3 * (rng.next() - 0.5));
    for (let s = 0; s < t; s++) {
      const logits = centre.map((v) => v + spread * (rng.next() - 0.5));
      const top = Math.max(...logits);
      const z = Math.log(logits.reduce((a, v) => a + Math.exp(v - top), 0)) + top;
      for (let k = 0; k < c; k++) data[(i * t + s) * c + k] = (logits[k] as number) - z;
    }
  }
  return { data, n, t, c };
}

const cases = [
  { label: "exact regime", n: 60, t: 16, c: 3, b: 5, opts: {} },
  { label: "sampled regime", n: 40, t: 20, c: 4, b: 5, opts: { maxExactConfigs: 20, sampledConfigs: 300 } },
];

for (const backend of ["cpu", "webgpu"] as const) {
  for (const k of cases) {
    Deno.test({
      name: `BatchBALD's tensor part on ${backend} (${k.label}, items in chunks) picks what the JS form picks`,
      ignore: backend === "webgpu" && !hasWebgpuAdapter,
      fn: async () => {
        if (backend === "webgpu") await selectBackend("webgpu", () => {});
        else assert.ok(await tf.setBackend("cpu"));
        const lp = logProbs(k.n, k.t, k.c, k.n + k.b);
        const run = (device?: ReturnType<typeof jointEntropyDevice>) => {
          const rng = makeRng(3);
          return batchBald(lp, k.b, {
            ...k.opts,
            rand: () => rng.next(),
            warn: () => {},
            ...(device ? { device } : {}),
          });
        };
        const js = await run();
        const before = tf.memory().numTensors;
        // A product limit of 500 values cuts the items into chunks of a few.
        const dev = await run(jointEntropyDevice(500));
        assert.equal(tf.memory().numTensors, before, "no tensor left behind");
        assert.deepEqual(dev.picked, js.picked);
        for (const [i, g] of dev.gains.entries()) {
          assert.ok(Math.abs(g - (js.gains[i] as number)) <= 1e-4, `gain ${i}: ${g} vs ${js.gains[i]}`);
        }
        assert.ok(js.gains[0]! > 0 && js.gains.every((g, i) => i === 0 || g <= js.gains[0]! + 1e-9));
      },
    });
  }
}

for (const backend of ["cpu", "webgpu"] as const) {
  Deno.test({
    name: `core-set's distances to the labelled rows on ${backend} (rows in chunks) give the JS picks`,
    ignore: backend === "webgpu" && !hasWebgpuAdapter,
    fn: async () => {
      if (backend === "webgpu") await selectBackend("webgpu", () => {});
      else assert.ok(await tf.setBackend("cpu"));
      const [n, d] = [300, 7];
      const rng = makeRng(5);
      const x = Float32Array.from({ length: n * d }, () => 4 * (rng.next() - 0.5));
      const labelled = Array.from({ length: 40 }, (_, i) => 7 * i);
      const before = tf.memory().numTensors;
      const d2 = await nearestCentresDevice(2000).minSquaredDistances(x, n, d, labelled);
      assert.equal(tf.memory().numTensors, before, "no tensor left behind");
      for (let i = 0; i < n; i++) {
        let best = Infinity;
        for (const l of labelled) {
          let s = 0;
          for (let k = 0; k < d; k++) s += (x[i * d + k]! - x[l * d + k]!) ** 2;
          best = Math.min(best, s);
        }
        assert.ok(Math.abs(d2[i]! - best) <= 1e-5 * Math.max(1, best), `row ${i}: ${d2[i]} vs ${best}`);
      }
      assert.deepEqual(
        kCenterGreedy(x, n, d, labelled, 8, () => {}, d2),
        kCenterGreedy(x, n, d, labelled, 8, () => {}),
      );
      assert.deepEqual(
        Array.from(await nearestCentresDevice().minSquaredDistances(x, n, d, [])),
        new Array(n).fill(Infinity),
      );
    },
  });
}
