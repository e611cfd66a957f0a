/**
 * Times the wasm gradient kernels against what they replace, for the shapes
 * of the Gal MNIST CNN at batch 128, in one process:
 *
 * - Conv2DBackpropInput: stock wasm kernel vs ours;
 * - BatchMatMul with a transposed operand (dense 4608x128 gradients): stock
 *   wasm kernel vs ours (explicit transpose + stock non-transposed kernel);
 * - Conv2DBackpropFilter: ours vs the pure-JS cpu backend (the stock wasm
 *   backend has none). The cpu backend is far too slow to run at batch 128,
 *   so it runs at a small batch and its time is scaled linearly (its cost is
 *   linear in the batch); the row says so.
 *
 * Run: ./dbal run -A pipeline/tensor/kernels/wasm_grad_bench.ts
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { registerWasmGradKernels, restoreWasmKernels, wasmGradKernelStatus } from "./wasm_grad.ts";

/** One comparison. Times are the median ms per call. */
export interface Row {
  kernel: string;
  case: string;
  baseline: string;
  baselineMs: number;
  oursMs: number;
  /** baselineMs / oursMs */
  speedup: number;
}

export interface BenchOptions {
  /** Batch size of the compared shapes (default 128). */
  batch?: number;
  /** Timed calls per measurement (default 5; the slow baselines use fewer). */
  reps?: number;
  /** Batch at which the cpu backend runs, scaled up to `batch` (default 2). */
  cpuBatch?: number;
}

type Shape4 = [number, number, number, number];

interface ConvShape {
  name: string;
  x: Shape4;
  f: Shape4;
}

function convShapes(batch: number): ConvShape[] {
  return [
    { name: "conv1", x: [batch, 28, 28, 1], f: [4, 4, 1, 32] },
    { name: "conv2", x: [batch, 25, 25, 32], f: [4, 4, 32, 32] },
  ];
}

function dyShape(c: ConvShape): Shape4 {
  return tf.backend_util.computeConv2DInfo(c.x, c.f, 1, 1, "valid")
    .outShape as Shape4;
}

const convAttrs = { strides: 1, pad: "valid", dataFormat: "NHWC" } as const;

/** Median wall time of `reps` calls of `f` (after one warm-up call). The
 * wasm backend runs kernels synchronously, so the time is the kernel's. */
function timeMs(f: () => tf.Tensor, reps: number): number {
  tf.dispose(f());
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const out = f();
    times.push(performance.now() - t0);
    out.dispose();
  }
  times.sort((a, b) => a - b);
  return times[Math.floor((times.length - 1) / 2)]!;
}

function filterGrad(c: ConvShape, x: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
    ...convAttrs,
    filterShape: c.f,
  }) as tf.Tensor;
}

function inputGrad(c: ConvShape, dy: tf.Tensor, filter: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel("Conv2DBackpropInput", { dy, filter }, {
    ...convAttrs,
    inputShape: c.x,
  }) as tf.Tensor;
}

interface Tensors {
  conv: { c: ConvShape; x: tf.Tensor; f: tf.Tensor; dy: tf.Tensor }[];
  x: tf.Tensor; // dense input [batch, 4608]
  w: tf.Tensor; // dense kernel [4608, 128]
  dy: tf.Tensor; // dense output gradient [batch, 128]
}

function makeTensors(batch: number): Tensors {
  return {
    conv: convShapes(batch).map((c) => ({
      c,
      x: tf.randomNormal(c.x),
      f: tf.randomNormal(c.f),
      dy: tf.randomNormal(dyShape(c)),
    })),
    x: tf.randomNormal([batch, 4608]),
    w: tf.randomNormal([4608, 128]),
    dy: tf.randomNormal([batch, 128]),
  };
}

function disposeTensors(t: Tensors): void {
  tf.dispose([t.x, t.w, t.dy, ...t.conv.flatMap((c) => [c.x, c.f, c.dy])]);
}

/** Input-gradient and transposed-matMul timings with whatever is registered. */
function timeSwappable(t: Tensors, reps: number): Map<string, number> {
  const ms = new Map<string, number>();
  for (const { c, f, dy } of t.conv) {
    ms.set(`input ${c.name}`, timeMs(() => inputGrad(c, dy, f), reps));
  }
  ms.set("dW", timeMs(() => tf.matMul(t.x, t.dy, true, false), reps));
  ms.set("dx", timeMs(() => tf.matMul(t.dy, t.w, false, true), reps));
  return ms;
}

function convCase(c: ConvShape): string {
  return `${c.name} x[${c.x}] f[${c.f}] valid`;
}

/**
 * Runs the benchmark (about a minute on one wasm thread) and returns the
 * rows. Leaves the backend and the kernel registrations as it found them
 * (except that our Conv2DBackpropFilter stays registered).
 */
export async function benchWasmGradKernels(
  opts: BenchOptions = {},
): Promise<Row[]> {
  const batch = opts.batch ?? 128;
  const reps = opts.reps ?? 5;
  const cpuBatch = Math.min(opts.cpuBatch ?? 2, batch);
  const slowReps = Math.max(1, Math.min(reps, 2));
  const previousBackend = tf.getBackend();
  const previousStatus = wasmGradKernelStatus();
  const rows: Row[] = [];
  try {
    if (!(await tf.setBackend("wasm"))) throw new Error("wasm backend failed");
    const t = makeTensors(batch);
    let ours: Map<string, number>;
    let stock: Map<string, number>;
    const oursFilter = new Map<string, number>();
    try {
      registerWasmGradKernels();
      for (const { c, x, dy } of t.conv) {
        oursFilter.set(c.name, timeMs(() => filterGrad(c, x, dy), reps));
      }
      ours = timeSwappable(t, reps);
      restoreWasmKernels();
      stock = timeSwappable(t, slowReps);
    } finally {
      disposeTensors(t);
    }

    // Conv2DBackpropFilter on the cpu backend, at a small batch.
    if (!(await tf.setBackend("cpu"))) throw new Error("cpu backend failed");
    const cpuFilter = new Map<string, number>();
    for (const c of convShapes(cpuBatch)) {
      const x = tf.randomNormal(c.x);
      const dy = tf.randomNormal(dyShape(c));
      try {
        const ms = timeMs(() => filterGrad(c, x, dy), 1);
        cpuFilter.set(c.name, (ms * batch) / cpuBatch);
      } finally {
        tf.dispose([x, dy]);
      }
    }

    const row = (
      kernel: string,
      what: string,
      baseline: string,
      baselineMs: number,
      oursMs: number,
    ) =>
      rows.push({
        kernel,
        case: what,
        baseline,
        baselineMs,
        oursMs,
        speedup: baselineMs / oursMs,
      });
    const cpuLabel = cpuBatch === batch ? "cpu backend" : `cpu backend (batch ${cpuBatch}, x${batch / cpuBatch})`;
    for (const c of convShapes(batch)) {
      row(
        "Conv2DBackpropFilter",
        convCase(c),
        cpuLabel,
        cpuFilter.get(c.name)!,
        oursFilter.get(c.name)!,
      );
    }
    for (const c of convShapes(batch)) {
      const key = `input ${c.name}`;
      row(
        "Conv2DBackpropInput",
        convCase(c),
        "stock wasm",
        stock.get(key)!,
        ours.get(key)!,
      );
    }
    row(
      "BatchMatMul transposeA",
      `dense dW = x^T dy, x[${batch},4608] dy[${batch},128]`,
      "stock wasm",
      stock.get("dW")!,
      ours.get("dW")!,
    );
    row(
      "BatchMatMul transposeB",
      `dense dx = dy W^T, dy[${batch},128] W[4608,128]`,
      "stock wasm",
      stock.get("dx")!,
      ours.get("dx")!,
    );
  } finally {
    registerWasmGradKernels({
      fastInputGrad: previousStatus.fastInputGrad,
      fastTransposedMatMul: previousStatus.fastTransposedMatMul,
    });
    if (previousBackend && previousBackend !== tf.getBackend()) {
      await tf.setBackend(previousBackend);
    }
  }
  return rows;
}

/** The rows as a markdown table. */
export function formatBenchTable(rows: readonly Row[]): string {
  const lines = [
    "| kernel | case | baseline | baseline ms | ours ms | speed-up |",
    "| --- | --- | --- | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.kernel} | ${r.case} | ${r.baseline} | ${r.baselineMs.toFixed(1)} | ${r.oursMs.toFixed(1)} | ${
        r.speedup.toFixed(1)
      }x |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  tf.enableProdMode();
  const rows = await benchWasmGradKernels();
  console.log(formatBenchTable(rows));
}
