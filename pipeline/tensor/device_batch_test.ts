/**
 * BatchBALD with its tensor part on a backend (cpu everywhere, webgpu where
 * Deno finds an adapter: lavapipe in CI) against the JS form: the same picks,
 * gains within float32 noise, in the exact regime and the sampled one, with
 * items cut into chunks.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { batchBald } from "../algorithms/batch.ts";
import type { LogProbs } from "../algorithms/scores.ts";
import { selectBackend } from "./backend.ts";
import { jointEntropyDevice } from "./device_batch.ts";
import { makeRng } from "./rng.ts";

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

const adapter = await (async () => {
  try {
    const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
    return gpu ? await gpu.requestAdapter() : null;
  } catch {
    return null;
  }
})();

const cases = [
  { label: "exact regime", n: 60, t: 16, c: 3, b: 5, opts: {} },
  { label: "sampled regime", n: 40, t: 20, c: 4, b: 5, opts: { maxExactConfigs: 20, sampledConfigs: 300 } },
];

for (const backend of ["cpu", "webgpu"] as const) {
  for (const k of cases) {
    Deno.test({
      name: `BatchBALD's tensor part on ${backend} (${k.label}, items in chunks) picks what the JS form picks`,
      ignore: backend === "webgpu" && !adapter,
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
