/**
 * SIMD kernels run in place on the tfjs wasm backend's heap (see
 * `heap_kernels.wat`): our module imports the backend's own
 * `WebAssembly.Memory`, so tensors are read and written where they are, with
 * no copy in or out. Each kernel gives the numbers of the JS code it replaces
 * bit for bit; where the module cannot be set up (a backend whose memory is
 * not reachable), callers keep that JS code.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { DataId, TensorInfo } from "@tensorflow/tfjs-core";
import { heapKernelsWasm } from "./heap_kernels_wasm.ts";

/** The module's exports (pointers are byte offsets into the backend's heap). */
interface HeapExports {
  fill_mask(out: number, count: number, seed: number, threshold: number, bits: number): void;
  max_pool_grad_2x2(x: number, y: number, dy: number, dx: number, n: number, h: number, w: number, c: number): void;
  sum_rows(x: number, out: number, rows: number, c: number): void;
  batch_to_third(x: number, out: number, n: number, pixels: number, c: number): void;
  swap_batch_and_channels(x: number, out: number, n: number, pixels: number, c: number): void;
}

/** What we need of the tfjs wasm backend: its emscripten module and where each tensor lives. */
interface WasmBackendLike {
  wasm?: {
    wasmMemory?: unknown;
    asm?: { memory?: unknown };
    wasmExports?: { memory?: unknown };
  };
  dataIdMap?: { get(dataId: DataId): { memoryOffset: number } | undefined };
}

/** The kernels, bound to one backend's heap. */
export interface HeapKernels {
  /**
   * Writes an inverted-dropout mask into a float32 tensor's memory: entry i
   * is 1 / (1 - rate) when draw i of the mulberry32 stream seeded by `seed`
   * is below (1 - rate) * 2^32, else 0 (as `fillMask` in `net.ts`).
   */
  fillMask(out: TensorInfo, offset: number, count: number, rate: number, seed: number): void;
  /** Max-pool gradient, 2 x 2 windows, stride 2, NHWC with channels a multiple of 4 (see the WAT source). */
  maxPoolGrad2x2(x: TensorInfo, y: TensorInfo, dy: TensorInfo, dx: TensorInfo): void;
  /** out[ch] = the float32 sum over x's rows [rows, c] of x[r, ch], in row order; c a multiple of 4. */
  sumRows(x: TensorInfo, out: TensorInfo): void;
  /** [N,H,W,C] -> [H,W,N,C] into `out`; C a multiple of 4. */
  batchToThird(x: TensorInfo, out: TensorInfo): void;
  /** [N,H,W,C] -> [C,H,W,N] into `out`; N and C multiples of 4. */
  swapBatchAndChannels(x: TensorInfo, out: TensorInfo): void;
}

const bound = new WeakMap<object, HeapKernels | null>();

/** The float32 bits of a number, as an int32. */
function float32Bits(v: number): number {
  return new Int32Array(new Float32Array([v]).buffer)[0] as number;
}

/**
 * The heap kernels of a tfjs wasm backend, or undefined when its memory is
 * not reachable or our module does not instantiate against it.
 *
 * @param backend the wasm backend (`tf.backend()` while "wasm" is active)
 * @returns the kernels bound to its heap
 */
export function heapKernels(backend: object): HeapKernels | undefined {
  const known = bound.get(backend);
  if (known !== undefined) return known ?? undefined;
  const made = bind(backend as WasmBackendLike);
  bound.set(backend, made ?? null);
  return made;
}

function bind(backend: WasmBackendLike): HeapKernels | undefined {
  const mod = backend.wasm;
  const memory = mod?.wasmMemory ?? mod?.asm?.memory ?? mod?.wasmExports?.memory;
  const map = backend.dataIdMap;
  if (!(memory instanceof WebAssembly.Memory) || map === undefined) return undefined;
  const shared = typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;
  let exports: HeapExports;
  try {
    const bytes = Buffer.from(shared ? heapKernelsWasm.shared : heapKernelsWasm.unshared, "base64");
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    exports = instance.exports as unknown as HeapExports;
  } catch {
    return undefined;
  }
  const at = (info: TensorInfo): number => {
    const data = map.get(info.dataId);
    if (data === undefined) throw new Error("heap kernels: a tensor is not on this wasm backend");
    return data.memoryOffset;
  };
  return {
    fillMask(out, offset, count, rate, seed) {
      if (!(rate > 0 && rate < 1)) throw new RangeError(`heap kernels: dropout rate ${rate} is not in (0, 1)`);
      const threshold = Math.floor((1 - rate) * 4294967296);
      exports.fill_mask(at(out) + 4 * offset, count, seed | 0, threshold | 0, float32Bits(1 / (1 - rate)));
    },
    maxPoolGrad2x2(x, y, dy, dx) {
      const [n, h, w, c] = x.shape as [number, number, number, number];
      exports.max_pool_grad_2x2(at(x), at(y), at(dy), at(dx), n, h, w, c);
    },
    sumRows(x, out) {
      const c = x.shape[x.shape.length - 1] as number;
      const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
      exports.sum_rows(at(x), at(out), rows, c);
    },
    batchToThird(x, out) {
      const [n, h, w, c] = x.shape as [number, number, number, number];
      exports.batch_to_third(at(x), at(out), n, h * w, c);
    },
    swapBatchAndChannels(x, out) {
      const [n, h, w, c] = x.shape as [number, number, number, number];
      exports.swap_batch_and_channels(at(x), at(out), n, h * w, c);
    },
  };
}
