/**
 * Images allowed to stay resident on a GPU: on webgpu (lavapipe in CI) every
 * batch cut from the resident copy equals the batch uploaded on its own, the
 * copy is made once and freed by its release; elsewhere nothing is kept.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { selectBackend } from "./backend.ts";
import {
  allowResidentImages,
  type ImageArray,
  imagesToTensor,
  releaseResidentImages,
  residentImageTensors,
} from "./train.ts";
import { hasWebgpuAdapter } from "./_webgpu_adapter.ts";

function images(n: number): ImageArray {
  return { x: Uint8Array.from({ length: n * 4 * 3 * 2 }, (_, i) => (i * 37) % 256), shape: [n, 4, 3, 2] };
}

async function batches(data: ImageArray, picks: number[][]): Promise<number[][]> {
  const out: number[][] = [];
  for (const p of picks) {
    const t = imagesToTensor(data, p);
    out.push(Array.from(await t.data()));
    t.dispose();
  }
  return out;
}

const picks = [[4, 0, 2], [1], [3, 3, 0, 4]];

Deno.test({
  name: "resident images on webgpu: batches equal the per-batch uploads; one copy, freed by its release",
  ignore: !hasWebgpuAdapter,
  fn: async () => {
    await selectBackend("webgpu", () => {});
    const plain = images(5), resident = images(5);
    allowResidentImages(resident);
    const before = tf.memory().numTensors;
    const expected = await batches(plain, picks);
    assert.equal(residentImageTensors(plain), 0, "an array nobody allowed is never kept");
    assert.deepEqual(await batches(resident, picks), expected);
    assert.equal(residentImageTensors(resident), 1);
    assert.equal(tf.memory().numTensors, before + 1, "one resident copy, no other tensor left behind");
    releaseResidentImages(resident);
    assert.equal(residentImageTensors(resident), 0);
    assert.equal(tf.memory().numTensors, before);
    // Used again after its release: a new copy, the same values.
    assert.deepEqual(await batches(resident, picks), expected);
    releaseResidentImages(resident);
  },
});

Deno.test("resident images on a CPU backend: nothing is kept", async () => {
  assert.ok(await tf.setBackend("cpu"));
  const resident = images(5);
  allowResidentImages(resident);
  const before = tf.memory().numTensors;
  const got = await batches(resident, picks);
  assert.equal(residentImageTensors(resident), 0);
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(got[1], Array.from(resident.x.subarray(24, 48), (v) => v / 255).map(Math.fround));
});
