/**
 * Checks the wasm gradient kernels against the pure-JS `cpu` backend on the
 * same inputs. Closeness: rel(a, b) = max|a - b| / max(1e-6, max|b|) with b
 * the cpu result, required <= 1e-4 for every output.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-layers";
import { registerWasmGradKernels, restoreWasmKernels, stockWasmKernel, wasmGradKernelStatus } from "./wasm_grad.ts";

tf.enableProdMode();

const TOL = 1e-4;

type Shape4 = [number, number, number, number];
type ExplicitPad = [
  [number, number],
  [number, number],
  [number, number],
  [number, number],
];
type Pad = "same" | "valid" | number | ExplicitPad;

// tf-core's npm entry (tf-core.node.js) registers no gradients and its ESM
// dist/register_all_gradients.js does not load under Deno (extensionless
// imports); tfjs-layers' node bundle registers tfjs's real gradients.
for (const kernel of ["Conv2D", "BatchMatMul"]) {
  assert.ok(tf.getGradient(kernel), `gradient of ${kernel} registered`);
}

/** Deterministic values in [-1, 1). */
function rand(size: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

interface Result {
  shape: number[];
  data: Float32Array;
}

/** Runs `f` on the given backend and reads (then disposes) its outputs. */
async function runOn(
  backend: "cpu" | "wasm",
  f: () => tf.Tensor[],
): Promise<Result[]> {
  assert.ok(await tf.setBackend(backend), `backend ${backend} initialises`);
  const outs = tf.tidy(f);
  try {
    return outs.map((t) => ({
      shape: t.shape.slice(),
      data: Float32Array.from(t.dataSync()),
    }));
  } finally {
    tf.dispose(outs);
  }
}

/** max|a - b| / max(1e-6, max|b|). */
function relDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    maxDiff = Math.max(maxDiff, Math.abs(x - y));
    maxRef = Math.max(maxRef, Math.abs(y));
  }
  return maxDiff / Math.max(1e-6, maxRef);
}

/** Computes `f` under cpu and wasm and compares every output. */
async function compareBackends(
  label: string,
  names: readonly string[],
  f: () => tf.Tensor[],
): Promise<void> {
  const cpu = await runOn("cpu", f);
  const wasm = await runOn("wasm", f);
  assert.equal(wasm.length, cpu.length);
  for (let i = 0; i < cpu.length; i++) {
    const c = cpu[i]!;
    const w = wasm[i]!;
    const what = `${label}: ${names[i] ?? `output ${i}`}`;
    assert.deepEqual(w.shape, c.shape, `${what}: shape`);
    assert.ok(
      c.data.some((v) => v !== 0),
      `${what}: reference is not all zeros`,
    );
    const r = relDiff(w.data, c.data);
    assert.ok(r <= TOL, `${what}: relative difference ${r} > ${TOL}`);
  }
}

// ---------------------------------------------------------------------------
// conv2d gradients

interface ConvCase {
  x: Shape4;
  f: Shape4;
  strides: number | [number, number];
  pad: Pad;
  dimRoundingMode?: "floor" | "round" | "ceil";
}

function convOutShape(c: ConvCase): Shape4 {
  const info = tf.backend_util.computeConv2DInfo(
    c.x,
    c.f,
    c.strides,
    1,
    c.pad,
    c.dimRoundingMode,
  );
  return info.outShape as Shape4;
}

/** conv2d forward, tf.grads of it (both kernels), and both kernels called
 * directly (conv2dTranspose = Conv2DBackpropInput; runKernel for the filter
 * gradient, which tf-core does not expose as an op). */
function convOutputs(c: ConvCase): () => tf.Tensor[] {
  const xv = rand(sizeOf(c.x), 1);
  const fv = rand(sizeOf(c.f), 2);
  const outShape = convOutShape(c);
  const dyv = rand(sizeOf(outShape), 3);
  const attrs = {
    strides: c.strides,
    pad: c.pad,
    dataFormat: "NHWC" as const,
    ...(c.dimRoundingMode === undefined ? {} : { dimRoundingMode: c.dimRoundingMode }),
  };
  return () => {
    const x = tf.tensor4d(xv, c.x);
    const f = tf.tensor4d(fv, c.f);
    const dy = tf.tensor4d(dyv, outShape);
    const outs: tf.Tensor[] = [];
    if (c.dimRoundingMode === undefined) {
      const conv = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad);
      outs.push(conv(x, f));
      outs.push(...tf.grads(conv)([x, f], dy));
    }
    outs.push(
      tf.engine().runKernel("Conv2DBackpropInput", { dy, filter: f }, {
        ...attrs,
        inputShape: c.x,
      }) as tf.Tensor,
    );
    if (typeof c.pad !== "object") {
      outs.push(
        tf.conv2dTranspose(dy, f, c.x, c.strides, c.pad, c.dimRoundingMode),
      );
    }
    outs.push(
      tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
        ...attrs,
        filterShape: c.f,
      }) as tf.Tensor,
    );
    return outs;
  };
}

function convNames(c: ConvCase): string[] {
  const names = c.dimRoundingMode === undefined ? ["conv2d", "grad x", "grad filter"] : [];
  names.push("Conv2DBackpropInput");
  if (typeof c.pad !== "object") names.push("conv2dTranspose");
  names.push("Conv2DBackpropFilter");
  return names;
}

function convLabel(c: ConvCase): string {
  return `x[${c.x}] f[${c.f}] s${JSON.stringify(c.strides)} pad ${JSON.stringify(c.pad)}${
    c.dimRoundingMode ? ` ${c.dimRoundingMode}` : ""
  }`;
}

// Every kernel size x stride x pad, cycling batch 1/3, channels 1/3/8 (in and
// out) and odd/even spatial sizes.
const kernels: [number, number][] = [[1, 1], [3, 3], [4, 4], [5, 3]];
const batches = [1, 3];
const channels = [1, 3, 8];
const sizes: [number, number][] = [[7, 7], [8, 8], [9, 6], [6, 10]];
const convCases: ConvCase[] = [];
let k = 0;
for (const [kh, kw] of kernels) {
  for (const s of [1, 2]) {
    for (const pad of ["same", "valid"] as const) {
      const [h, w] = sizes[k % sizes.length]!;
      const n = batches[k % batches.length]!;
      const ci = channels[k % channels.length]!;
      const co = channels[(k + 1) % channels.length]!;
      convCases.push({
        x: [n, h, w, ci],
        f: [kh, kw, ci, co],
        strides: s,
        pad,
      });
      k++;
    }
  }
}
convCases.push(
  // unequal strides
  { x: [1, 8, 10, 3], f: [5, 3, 3, 4], strides: [2, 1], pad: "same" },
  { x: [3, 9, 7, 2], f: [3, 4, 2, 3], strides: [1, 2], pad: "valid" },
  // stride larger than the kernel (rows the forward conv never reads)
  { x: [2, 9, 9, 2], f: [1, 1, 2, 3], strides: 2, pad: "valid" },
  { x: [2, 9, 9, 2], f: [3, 3, 2, 3], strides: 3, pad: "same" },
  // numeric and explicit padding, including pads larger than the kernel
  { x: [2, 7, 8, 2], f: [3, 3, 2, 3], strides: 2, pad: 1 },
  { x: [2, 6, 6, 2], f: [3, 3, 2, 3], strides: 1, pad: 4 },
  {
    x: [2, 7, 8, 2],
    f: [3, 3, 2, 3],
    strides: 1,
    pad: [[0, 0], [2, 1], [0, 3], [0, 0]],
  },
  {
    x: [1, 7, 8, 3],
    f: [4, 3, 3, 2],
    strides: 2,
    pad: [[0, 0], [0, 4], [3, 1], [0, 0]],
  },
  // dimRoundingMode (kernels called directly; the op only passes it through
  // conv2dTranspose)
  {
    x: [2, 8, 8, 2],
    f: [3, 3, 2, 3],
    strides: 2,
    pad: 1,
    dimRoundingMode: "ceil",
  },
  {
    x: [2, 9, 9, 2],
    f: [4, 4, 2, 3],
    strides: 2,
    pad: 0,
    dimRoundingMode: "round",
  },
  // the Gal MNIST CNN's convolutions (batch 2 and 1: the cpu reference is slow)
  { x: [2, 28, 28, 1], f: [4, 4, 1, 32], strides: 1, pad: "valid" },
  { x: [1, 25, 25, 32], f: [4, 4, 32, 32], strides: 1, pad: "valid" },
);

for (const c of convCases) {
  Deno.test(`conv2d grads wasm == cpu: ${convLabel(c)}`, async () => {
    registerWasmGradKernels();
    await compareBackends(convLabel(c), convNames(c), convOutputs(c));
  });
}

// The filter gradient's two forms (stride 1): the input as the filter gives
// the output-gradient form's numbers bit for bit (same products, same order;
// only an exactly zero sum may differ in its sign) and the cpu backend's.
for (const c of convCases.filter((c) => c.strides === 1 && c.dimRoundingMode === undefined)) {
  Deno.test(`Conv2DBackpropFilter: input-as-filter == output-gradient-as-filter: ${convLabel(c)}`, async () => {
    const outShape = convOutShape(c);
    const xv = rand(sizeOf(c.x), 4), dyv = rand(sizeOf(outShape), 5);
    const filterGrad = () => [
      tf.engine().runKernel("Conv2DBackpropFilter", { x: tf.tensor4d(xv, c.x), dy: tf.tensor4d(dyv, outShape) }, {
        strides: 1,
        pad: c.pad,
        dataFormat: "NHWC",
        filterShape: c.f,
      }) as tf.Tensor,
    ];
    try {
      registerWasmGradKernels({ filterGradRoute: "input" });
      const viaInput = (await runOn("wasm", filterGrad))[0]!;
      registerWasmGradKernels({ filterGradRoute: "outputGradient" });
      const viaOutputGradient = (await runOn("wasm", filterGrad))[0]!;
      const cpu = (await runOn("cpu", filterGrad))[0]!;
      assert.deepEqual(viaInput.shape, c.f);
      assert.deepEqual(Array.from(viaInput.data, (v) => v + 0), Array.from(viaOutputGradient.data, (v) => v + 0));
      assert.ok(relDiff(viaInput.data, cpu.data) <= TOL, "input as filter vs cpu");
    } finally {
      registerWasmGradKernels();
    }
  });
}

Deno.test("conv2d grads with the stock Conv2DBackpropInput (fastInputGrad: false)", async () => {
  try {
    registerWasmGradKernels({ fastInputGrad: false });
    assert.equal(
      tf.getKernel("Conv2DBackpropInput", "wasm"),
      stockWasmKernel("Conv2DBackpropInput"),
    );
    const c: ConvCase = {
      x: [3, 9, 8, 3],
      f: [4, 3, 3, 8],
      strides: 2,
      pad: "same",
    };
    await compareBackends(convLabel(c), convNames(c), convOutputs(c));
  } finally {
    registerWasmGradKernels();
  }
});

// ---------------------------------------------------------------------------
// matMul with transposes

const mmShapes: { a: number[]; b: number[] }[] = [
  { a: [5, 7], b: [7, 4] },
  { a: [1, 7], b: [7, 1] },
  { a: [3, 5, 7], b: [3, 7, 4] },
  { a: [1, 5, 7], b: [3, 7, 4] },
  { a: [2, 3, 6, 9], b: [2, 3, 9, 5] },
];

function transposedShape(s: readonly number[]): number[] {
  const r = s.slice();
  const n = r.length;
  [r[n - 2], r[n - 1]] = [r[n - 1]!, r[n - 2]!];
  return r;
}

for (const { a: as, b: bs } of mmShapes) {
  for (
    const [ta, tb] of [[false, false], [true, false], [false, true], [
      true,
      true,
    ]] as const
  ) {
    const label = `matMul a[${as}] b[${bs}] transposeA=${ta} transposeB=${tb}`;
    Deno.test(`${label}: wasm == cpu (value and grads)`, async () => {
      registerWasmGradKernels();
      const aShape = ta ? transposedShape(as) : as;
      const bShape = tb ? transposedShape(bs) : bs;
      const av = rand(sizeOf(aShape), 4);
      const bv = rand(sizeOf(bShape), 5);
      // (all cases have operands of equal rank)
      const batchDims = as.slice(0, -2).map((d, i) => Math.max(d, bs[i]!));
      const outShape = [...batchDims, as[as.length - 2]!, bs[bs.length - 1]!];
      const broadcast = sizeOf(as.slice(0, -2)) !== sizeOf(bs.slice(0, -2));
      const dyv = rand(sizeOf(outShape), 6);
      const names = ["matMul", "grad a", "grad b"];
      await compareBackends(label, names, () => {
        const a = tf.tensor(av, aShape);
        const b = tf.tensor(bv, bShape);
        const mm = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, ta, tb);
        const outs = [mm(a, b)];
        // tfjs's BatchMatMul gradient does not reduce broadcast batch dims.
        if (!broadcast) {
          outs.push(...tf.grads(mm)([a, b], tf.tensor(dyv, outShape)));
        }
        return outs;
      });
    });
  }
}

Deno.test("dense-layer gradients (x[16,96] W[96,12]) wasm == cpu", async () => {
  registerWasmGradKernels();
  const xv = rand(16 * 96, 7);
  const wv = rand(96 * 12, 8);
  const dyv = rand(16 * 12, 9);
  await compareBackends("dense", ["y", "dx", "dW"], () => {
    const x = tf.tensor2d(xv, [16, 96]);
    const w = tf.tensor2d(wv, [96, 12]);
    const f = (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b);
    return [f(x, w), ...tf.grads(f)([x, w], tf.tensor2d(dyv, [16, 12]))];
  });
});

// ---------------------------------------------------------------------------
// leaks, registration, errors

Deno.test("no tensor or backend-data leak", async () => {
  await tf.setBackend("wasm");
  registerWasmGradKernels();
  const cases: ConvCase[] = [
    { x: [3, 9, 8, 3], f: [4, 3, 3, 8], strides: 2, pad: "same" },
    { x: [2, 9, 9, 2], f: [1, 1, 2, 3], strides: 2, pad: "valid" },
    { x: [2, 6, 6, 2], f: [3, 3, 2, 3], strides: 1, pad: 4 },
  ];
  const work = () => {
    for (const c of cases) tf.dispose(tf.tidy(convOutputs(c)));
    const a = tf.tensor(rand(3 * 7 * 5, 1), [3, 7, 5]);
    const b = tf.tensor(rand(3 * 4 * 7, 2), [3, 4, 7]);
    const dy = tf.tensor(rand(3 * 5 * 4, 3), [3, 5, 4]);
    const mm = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, true, true);
    tf.dispose([mm(a, b), ...tf.grads(mm)([a, b], dy), a, b, dy]);
  };
  work(); // warm up (lazy setup, caches)
  const backend = tf.backend();
  const tensorsBefore = tf.memory().numTensors;
  const dataBefore = backend.numDataIds();
  work();
  assert.equal(tf.memory().numTensors, tensorsBefore, "engine tensors");
  assert.equal(backend.numDataIds(), dataBefore, "wasm backend data ids");
  // An error thrown inside a kernel, after intermediates were made, leaks
  // nothing either (here: the stock BatchMatMul rejects the transposed copy).
  const a = tf.ones([3, 7, 5]);
  const b = tf.ones([3, 7, 4]);
  assert.throws(() => tf.matMul(a, b, false, true), /inner shapes/);
  tf.dispose([a, b]);
  assert.equal(tf.memory().numTensors, tensorsBefore, "engine tensors");
  assert.equal(backend.numDataIds(), dataBefore, "wasm backend data ids");
});

Deno.test("registration: idempotent, switchable, restorable", async () => {
  await tf.setBackend("wasm");
  const stockInput = stockWasmKernel("Conv2DBackpropInput");
  const stockMatMul = stockWasmKernel("BatchMatMul");
  assert.ok(stockInput !== undefined && stockMatMul !== undefined);
  try {
    registerWasmGradKernels();
    registerWasmGradKernels();
    assert.deepEqual(wasmGradKernelStatus(), {
      conv2DBackpropFilter: true,
      fastInputGrad: true,
      fastTransposedMatMul: true,
      fastMaxPoolGrad: true,
      fastBiasSum: true,
      shareCopies: true,
      fastGather: true,
    });
    assert.notEqual(tf.getKernel("BatchMatMul", "wasm"), stockMatMul);

    registerWasmGradKernels({ fastTransposedMatMul: false });
    assert.deepEqual(wasmGradKernelStatus(), {
      conv2DBackpropFilter: true,
      fastInputGrad: true,
      fastTransposedMatMul: false,
      fastMaxPoolGrad: true,
      fastBiasSum: true,
      shareCopies: true,
      fastGather: true,
    });
    assert.equal(tf.getKernel("BatchMatMul", "wasm"), stockMatMul);

    restoreWasmKernels();
    restoreWasmKernels();
    assert.deepEqual(wasmGradKernelStatus(), {
      conv2DBackpropFilter: true, // documented: restore keeps it
      fastInputGrad: false,
      fastTransposedMatMul: false,
      fastMaxPoolGrad: false,
      fastBiasSum: false,
      shareCopies: false,
      fastGather: false,
    });
    assert.equal(tf.getKernel("Conv2DBackpropInput", "wasm"), stockInput);
    assert.equal(tf.getKernel("BatchMatMul", "wasm"), stockMatMul);
    // The stock kernels still run after being put back.
    const y = tf.matMul(tf.ones([2, 3]), tf.ones([2, 3]), false, true);
    assert.deepEqual(Array.from(y.dataSync()), [3, 3, 3, 3]);
  } finally {
    registerWasmGradKernels();
  }
  assert.deepEqual(wasmGradKernelStatus(), {
    conv2DBackpropFilter: true,
    fastInputGrad: true,
    fastTransposedMatMul: true,
    fastMaxPoolGrad: true,
    fastBiasSum: true,
    shareCopies: true,
    fastGather: true,
  });
});

Deno.test("unsupported configurations throw errors naming kernel and attribute", async () => {
  await tf.setBackend("wasm");
  registerWasmGradKernels();
  const x = tf.zeros([1, 6, 6, 2]);
  const dy = tf.zeros([1, 4, 4, 3]);
  const f = tf.zeros([3, 3, 2, 3]);
  const base = { strides: 1, pad: "valid", dataFormat: "NHWC" };
  const before = tf.memory().numTensors;
  try {
    assert.throws(
      () =>
        tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
          ...base,
          dataFormat: "NCHW",
          filterShape: [3, 3, 2, 3],
        }),
      /Conv2DBackpropFilter.*dataFormat 'NCHW'/,
    );
    assert.throws(
      () =>
        tf.engine().runKernel("Conv2DBackpropInput", { dy, filter: f }, {
          ...base,
          dataFormat: "NCHW",
          inputShape: [1, 6, 6, 2],
        }),
      /Conv2DBackpropInput.*dataFormat 'NCHW'/,
    );
    assert.throws(
      () =>
        tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
          ...base,
          strides: 2,
          dilations: 2,
          filterShape: [3, 3, 2, 3],
        }),
      /Conv2DBackpropFilter.*dilations 2/,
    );
    assert.throws(
      () =>
        tf.engine().runKernel("Conv2DBackpropInput", { dy, filter: f }, {
          ...base,
          dilations: [1, 2],
          inputShape: [1, 6, 6, 2],
        }),
      /Conv2DBackpropInput.*dilations \[1,2\]/,
    );
    assert.throws(
      () =>
        tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
          ...base,
          strides: 2,
          filterShape: [3, 3, 2, 3],
        }),
      /Conv2DBackpropFilter.*dy shape/,
    );
    assert.equal(tf.memory().numTensors, before);
  } finally {
    tf.dispose([x, dy, f]);
  }
});

// MaxPoolGrad. With many ties (integers in 0..2, as after a ReLU many
// windows hold equal values), each window's gradient must go to its last
// maximum in row-major order (the stock kernel's choice), checked against a
// plain loop written here. On tie-free values ours agrees with the cpu
// backend, negative maxima included; on non-negative values (as after a
// ReLU) so does the stock kernel, which drops the gradient of windows with a
// negative maximum. Overlapping windows and padding fall back to the stock kernel.
const poolCases: { x: Shape4; filter: number; stride: number; pad: "valid" | "same" }[] = [
  { x: [3, 22, 22, 5], filter: 2, stride: 2, pad: "valid" },
  { x: [2, 13, 13, 4], filter: 2, stride: 2, pad: "valid" }, // a row and a column beyond the last window
  { x: [2, 9, 11, 3], filter: 3, stride: 3, pad: "valid" },
  { x: [2, 8, 8, 3], filter: 3, stride: 2, pad: "valid" }, // overlapping: stock kernel
  { x: [2, 7, 7, 3], filter: 2, stride: 2, pad: "same" }, // padded: stock kernel
];

/** dx of sum(maxPool(x) * dy) for non-overlapping k x k windows: dy to each window's last maximum. */
function lastMaxPoolGrad(x: Float32Array, shape: Shape4, k: number, dy: Float32Array): Float32Array {
  const [n, h, w, c] = shape;
  const ho = Math.floor(h / k), wo = Math.floor(w / k);
  const dx = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let oh = 0; oh < ho; oh++) {
      for (let ow = 0; ow < wo; ow++) {
        for (let ch = 0; ch < c; ch++) {
          let best = -1;
          for (let i = 0; i < k; i++) {
            for (let j = 0; j < k; j++) {
              const idx = ((b * h + oh * k + i) * w + ow * k + j) * c + ch;
              if (best < 0 || x[idx]! >= x[best]!) best = idx;
            }
          }
          dx[best] = dy[((b * ho + oh) * wo + ow) * c + ch]!;
        }
      }
    }
  }
  return dx;
}

for (const c of poolCases) {
  const label = `x[${c.x}] filter ${c.filter} stride ${c.stride} ${c.pad}`;
  Deno.test(`MaxPoolGrad wasm: ${label}`, async () => {
    const size = c.x.reduce((a, b) => a * b, 1);
    const overlapping = c.stride !== c.filter || c.pad !== "valid";
    const gradOf = (backend: "cpu" | "wasm", values: Float32Array) =>
      runOn(backend, () => {
        const x = tf.tensor4d(values, c.x);
        const [gx] = tf.grads((t: tf.Tensor) => {
          const y = tf.maxPool(t as tf.Tensor4D, c.filter, c.stride, c.pad);
          return tf.sum(tf.mul(y, tf.tensor(rand(y.size, 12), y.shape)));
        })([x]);
        return [gx as tf.Tensor];
      });
    registerWasmGradKernels();
    if (!overlapping) {
      const ties = Float32Array.from(rand(size, 11), (v) => Math.floor((v + 1) * 1.5));
      const ho = Math.floor(c.x[1] / c.filter), wo = Math.floor(c.x[2] / c.filter);
      const expected = lastMaxPoolGrad(ties, c.x, c.filter, rand(c.x[0] * ho * wo * c.x[3], 12));
      const got = await gradOf("wasm", ties);
      assert.deepEqual(got[0]!.shape, c.x);
      assert.deepEqual(Array.from(got[0]!.data), Array.from(expected), "ties: ours vs the last-maximum loop");
    }
    const distinct = rand(size, 13);
    const positive = distinct.map(Math.abs);
    if (!overlapping) {
      assert.deepEqual(
        Array.from((await gradOf("wasm", distinct))[0]!.data),
        Array.from((await gradOf("cpu", distinct))[0]!.data),
        "negative values: ours vs cpu",
      );
    }
    const mine = await gradOf("wasm", positive);
    restoreWasmKernels();
    try {
      const stock = await gradOf("wasm", positive);
      const ref = await gradOf("cpu", positive);
      assert.deepEqual(Array.from(mine[0]!.data), Array.from(ref[0]!.data), "no ties: ours vs cpu");
      assert.deepEqual(Array.from(stock[0]!.data), Array.from(ref[0]!.data), "no ties: stock vs cpu");
    } finally {
      registerWasmGradKernels();
    }
  });
}

// Sum over all axes but the last: bit for bit the stock kernel's result
// (same order, float32 accumulation); other reductions are the stock kernel's.
const sumCases: { shape: number[]; axis: number | number[]; keepDims: boolean }[] = [
  { shape: [16, 25, 25, 32], axis: [0, 1, 2], keepDims: false },
  { shape: [16, 25, 25, 32], axis: [-4, -3, -2], keepDims: true },
  { shape: [300, 7], axis: 0, keepDims: false },
  { shape: [4, 6, 5], axis: [1, 0], keepDims: false }, // other order: stock
  { shape: [4, 6, 5], axis: 1, keepDims: false }, // not leading: stock
  { shape: [4, 6, 5], axis: [0, 1, 2], keepDims: false }, // all axes: stock
];
for (const c of sumCases) {
  Deno.test(`Sum wasm == stock bit for bit: [${c.shape}] axis ${JSON.stringify(c.axis)} keepDims ${c.keepDims}`, async () => {
    const size = c.shape.reduce((a, b) => a * b, 1);
    const values = Float32Array.from(rand(size, 21), (v, i) => v * (1 + (i % 97)));
    const run = () => runOn("wasm", () => [tf.sum(tf.tensor(values, c.shape), c.axis, c.keepDims)]);
    registerWasmGradKernels();
    const ours = await run();
    restoreWasmKernels();
    try {
      const stock = await run();
      assert.deepEqual(ours[0]!.shape, stock[0]!.shape);
      assert.deepEqual(Array.from(ours[0]!.data), Array.from(stock[0]!.data));
    } finally {
      registerWasmGradKernels();
    }
  });
}

Deno.test("Identity and Cast to the same dtype share data and free it once; other casts convert", async () => {
  await tf.setBackend("wasm");
  registerWasmGradKernels();
  const before = tf.memory().numTensors;
  const x = tf.tensor([1.5, -2.5, 3.25]);
  const same = tf.cast(x, "float32");
  assert.deepEqual(Array.from(same.dataSync()), [1.5, -2.5, 3.25]);
  x.dispose();
  // The shared data outlives the first tensor, and goes with the second.
  assert.deepEqual(Array.from(same.dataSync()), [1.5, -2.5, 3.25]);
  const copy = tf.clone(same);
  same.dispose();
  assert.deepEqual(Array.from(copy.dataSync()), [1.5, -2.5, 3.25]);
  const toInt = tf.cast(copy, "int32");
  assert.equal(toInt.dtype, "int32");
  assert.deepEqual(Array.from(toInt.dataSync()), [1, -2, 3]);
  copy.dispose();
  toInt.dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.equal((tf.backend() as unknown as { numDataIds(): number }).numDataIds(), before);
});

// GatherV2: slices copied; the stock kernel's output bit for bit on every
// axis and dtype, and its error for an index out of range.
const gatherCases: {
  shape: number[];
  dtype: "float32" | "int32" | "bool";
  indices: number[][] | number[];
  axis: number;
}[] = [
  { shape: [10, 4, 4, 3], dtype: "float32", indices: [9, 0, 3, 3, 7], axis: 0 }, // training batches
  { shape: [6, 5], dtype: "int32", indices: [4, 1], axis: 1 }, // slices of one value
  { shape: [3, 4, 70], dtype: "float32", indices: [[2, 0], [1, 1]], axis: 1 }, // 2-D indices, long slices
  { shape: [7, 2], dtype: "bool", indices: [6, 6, 0], axis: -2 },
  { shape: [0, 3], dtype: "float32", indices: [], axis: 0 },
];
for (const c of gatherCases) {
  Deno.test(`GatherV2 wasm == stock bit for bit: [${c.shape}] ${c.dtype} axis ${c.axis}`, async () => {
    const gather = () => {
      const size = sizeOf(c.shape);
      const values = c.dtype === "float32"
        ? rand(size, 21)
        : Int32Array.from(rand(size, 21), (v) => c.dtype === "bool" ? (v > 0 ? 1 : 0) : Math.round(v * 1000));
      const x = tf.tensor(values, c.shape, c.dtype);
      return [tf.gather(x, tf.tensor(c.indices, undefined, "int32"), c.axis)];
    };
    registerWasmGradKernels();
    const ours = (await runOn("wasm", gather))[0]!;
    // On an empty x the stock kernel returns its flattened shape ([1, 1, 0, 3]): compared with cpu's there.
    const empty = sizeOf(c.shape) === 0;
    if (!empty) restoreWasmKernels();
    try {
      const stock = (await runOn(empty ? "cpu" : "wasm", gather))[0]!;
      assert.deepEqual(ours.shape, stock.shape);
      assert.deepEqual(Array.from(ours.data), Array.from(stock.data));
    } finally {
      registerWasmGradKernels();
    }
  });
}

Deno.test("GatherV2 wasm: an index out of range throws the stock kernel's error", async () => {
  registerWasmGradKernels();
  await tf.setBackend("wasm");
  const x = tf.ones([4, 2]);
  const bad = tf.tensor1d([1, 4], "int32");
  try {
    assert.throws(() => tf.gather(x, bad), /GatherV2: the index value 4 is not in \[0, 3\]/);
  } finally {
    tf.dispose([x, bad]);
  }
});
