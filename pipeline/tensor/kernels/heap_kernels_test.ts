/**
 * The SIMD heap kernels against plain JS written here, bit for bit, in both
 * builds (shared memory: tfjs's threaded build; unshared: its single-thread
 * build), on memories of our own; the committed module against its source;
 * and the dropout masks drawn on the wasm backend's heap against the JS draws
 * of the cpu backend.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { generate } from "./build_heap_kernels.ts";
import { heapKernels } from "./heap_kernels.ts";
import { heapKernelsWasm } from "./heap_kernels_wasm.ts";
import { dropoutMask } from "../net.ts";

interface Exports {
  fill_mask(out: number, count: number, seed: number, threshold: number, bits: number): void;
  max_pool_grad_2x2(x: number, y: number, dy: number, dx: number, n: number, h: number, w: number, c: number): void;
  sum_rows(x: number, out: number, rows: number, c: number): void;
  batch_to_third(x: number, out: number, n: number, pixels: number, c: number): void;
  swap_batch_and_channels(x: number, out: number, n: number, pixels: number, c: number): void;
}

function instantiate(shared: boolean): { exports: Exports; f32: () => Float32Array } {
  const memory = new WebAssembly.Memory(shared ? { initial: 64, maximum: 65536, shared: true } : { initial: 64 });
  const bytes = Buffer.from(shared ? heapKernelsWasm.shared : heapKernelsWasm.unshared, "base64");
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  return { exports: instance.exports as unknown as Exports, f32: () => new Float32Array(memory.buffer) };
}

/** The mask draws as net.ts's fillMask makes them (mulberry32, keep when below the threshold). */
function jsMask(count: number, rate: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  const threshold = Math.floor((1 - rate) * 4294967296);
  let state = seed | 0;
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) | 0;
    let z = Math.imul(state ^ (state >>> 15), state | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    out[i] = ((z ^ (z >>> 14)) >>> 0) < threshold ? 1 / (1 - rate) : 0;
  }
  return out;
}

function bits(a: Float32Array): number[] {
  return Array.from(new Int32Array(a.buffer, a.byteOffset, a.length));
}

Deno.test("heap_kernels_wasm.ts is what build_heap_kernels.ts makes of heap_kernels.wat", async () => {
  const source = await Deno.readTextFile(new URL("heap_kernels.wat", import.meta.url));
  const committed = await Deno.readTextFile(new URL("heap_kernels_wasm.ts", import.meta.url));
  assert.equal(committed, await generate(source), "run: deno run -A pipeline/tensor/kernels/build_heap_kernels.ts");
});

for (const shared of [true, false]) {
  const build = shared ? "shared memory" : "unshared memory";

  Deno.test(`fill_mask (${build}) == the JS draws, any count and rate`, () => {
    const { exports, f32 } = instantiate(shared);
    const cases: [number, number, number][] = [[1001, 0.25, 7], [4, 0.5, -3], [3, 0.9, 2 ** 31 - 1], [
      64,
      0.01,
      123456,
    ]];
    for (const [count, rate, seed] of cases) {
      const rateBits = new Int32Array(new Float32Array([1 / (1 - rate)]).buffer)[0]!;
      const threshold = Math.floor((1 - rate) * 4294967296);
      f32().fill(-1, 16, 16 + count + 4);
      exports.fill_mask(64, count, seed | 0, threshold | 0, rateBits);
      const got = f32().slice(16, 16 + count);
      assert.deepEqual(bits(got), bits(jsMask(count, rate, seed)), `count ${count} rate ${rate}`);
      assert.equal(f32()[16 + count], -1, "nothing written past the end");
    }
  });

  Deno.test(`max_pool_grad_2x2 (${build}): each window's dy to its last maximum, ties and NaN included`, () => {
    const { exports, f32 } = instantiate(shared);
    const [n, h, w, c] = [2, 6, 4, 8];
    const ho = h / 2, wo = w / 2;
    const size = n * h * w * c, out = n * ho * wo * c;
    // Values in {0, 1, 2} (many ties, as after a ReLU), a NaN window, -0 in dy.
    const x = Float32Array.from({ length: size }, (_, i) => (i * 7919) % 3);
    x[5] = NaN;
    const y = new Float32Array(out), dy = Float32Array.from({ length: out }, (_, i) => (i % 5 === 0 ? -0 : i / 7 - 3));
    const expected = new Float32Array(size);
    for (let b = 0, yi = 0; b < n; b++) {
      for (let oh = 0; oh < ho; oh++) {
        for (let ow = 0; ow < wo; ow++) {
          for (let ch = 0; ch < c; ch++, yi++) {
            const at = (i: number, j: number) => ((b * h + 2 * oh + i) * w + 2 * ow + j) * c + ch;
            const cells = [at(0, 0), at(0, 1), at(1, 0), at(1, 1)];
            const vals = cells.map((k) => x[k]!);
            const m = vals.some(Number.isNaN) ? NaN : Math.max(...vals);
            y[yi] = m;
            let last = -1;
            cells.forEach((k, q) => {
              if (vals[q] === m) last = k;
            });
            if (last >= 0) expected[last] = dy[yi]! + 0;
          }
        }
      }
    }
    const mem = f32();
    const [px, py, pdy, pdx] = [0, size, size + out, size + 2 * out].map((o) => 64 + 4 * o) as [
      number,
      number,
      number,
      number,
    ];
    mem.set(x, px / 4);
    mem.set(y, py / 4);
    mem.set(dy, pdy / 4);
    mem.fill(99, pdx / 4, pdx / 4 + size);
    exports.max_pool_grad_2x2(px, py, pdy, pdx, n, h, w, c);
    assert.deepEqual(bits(f32().slice(pdx / 4, pdx / 4 + size)), bits(expected));
  });

  Deno.test(`sum_rows (${build}) == a float32 accumulator in row order`, () => {
    const { exports, f32 } = instantiate(shared);
    const [rows, c] = [1000, 12];
    const x = Float32Array.from({ length: rows * c }, (_, i) => Math.sin(i) * 10 ** ((i % 7) - 3));
    x[3] = -0;
    const acc = new Float32Array(c);
    for (let r = 0; r < rows; r++) for (let k = 0; k < c; k++) acc[k] = acc[k]! + x[r * c + k]!;
    f32().set(x, 16);
    f32().fill(7, 16 + rows * c, 16 + rows * c + c);
    exports.sum_rows(64, 64 + 4 * rows * c, rows, c);
    assert.deepEqual(bits(f32().slice(16 + rows * c, 16 + rows * c + c)), bits(acc));
  });
}

for (const shared of [true, false]) {
  const build = shared ? "shared memory" : "unshared memory";
  Deno.test(`batch_to_third and swap_batch_and_channels (${build}) == index arithmetic`, () => {
    const { exports, f32 } = instantiate(shared);
    const [n, pixels, c] = [8, 5, 12];
    const size = n * pixels * c;
    const x = Float32Array.from({ length: size }, (_, i) => i * 1.5 - 7);
    const third = new Float32Array(size), swapped = new Float32Array(size);
    for (let b = 0; b < n; b++) {
      for (let p = 0; p < pixels; p++) {
        for (let ch = 0; ch < c; ch++) {
          const v = x[(b * pixels + p) * c + ch]!;
          third[(p * n + b) * c + ch] = v;
          swapped[(ch * pixels + p) * n + b] = v;
        }
      }
    }
    f32().set(x, 16);
    exports.batch_to_third(64, 64 + 4 * size, n, pixels, c);
    exports.swap_batch_and_channels(64, 64 + 8 * size, n, pixels, c);
    assert.deepEqual(bits(f32().slice(16 + size, 16 + 2 * size)), bits(third));
    assert.deepEqual(bits(f32().slice(16 + 2 * size, 16 + 3 * size)), bits(swapped));
  });
}

Deno.test("dropout masks drawn on the wasm heap == the cpu backend's JS draws", async () => {
  const masks = async (backend: "cpu" | "wasm") => {
    assert.ok(await tf.setBackend(backend));
    if (backend === "wasm") assert.ok(heapKernels(tf.backend()), "the heap kernels bind to the wasm backend");
    return [[3, 5, 7], [100, 33]].map((shape, i) => {
      const t = dropoutMask(shape, [0.25, 0.5][i]!, 40 + i);
      const data = Float32Array.from(t.dataSync());
      t.dispose();
      return data;
    });
  };
  const wasm = await masks("wasm");
  const cpu = await masks("cpu");
  for (const [i, m] of wasm.entries()) assert.deepEqual(bits(m), bits(cpu[i]!));
});
