/**
 * Fast gradient kernels for the tfjs `wasm` backend (tfjs 4.22).
 *
 * The stock wasm backend cannot train a CNN: it has no `Conv2DBackpropFilter`
 * kernel, its `Conv2DBackpropInput` is a naive loop, and its `BatchMatMul`
 * with a transposed operand is ~20x slower than the plain one. This module
 * registers replacements that re-express each gradient as work the backend
 * already does fast (XNNPACK conv / matmul) plus cheap layout changes:
 *
 * - `Conv2DBackpropFilter`: dW[kh,kw,ci,co] is a forward Conv2D of the
 *   transposed input xT = x as [Ci, H, W, N] (batch and channels swapped)
 *   with the transposed output gradient dyT = dy as [Ho, Wo, N, Co] used as
 *   the filter; the forward stride becomes the dilation, the forward top/left
 *   padding becomes explicit padding, and the result [Ci, >=kh, >=kw, Co] is
 *   cropped to [Ci, kh, kw, Co] and transposed to [kh, kw, Ci, Co].
 * - `Conv2DBackpropInput`: dx is a forward Conv2D ("full" correlation) of the
 *   output gradient (zeros inserted between rows/cols when stride > 1) padded
 *   by kh-1-top / kw-1-left, with the filter rotated by 180 degrees and its
 *   in/out channels swapped.
 * - `BatchMatMul` with transposeA/transposeB: explicit Transpose of the last
 *   two axes followed by the ORIGINAL (stock) non-transposed wasm kernel.
 * - `MaxPoolGrad` for non-overlapping windows, and `Sum` over all axes but
 *   the last (bias gradients): one pass over the wasm heap, in our SIMD
 *   module (`heap_kernels.wat`) for 2 x 2 windows and channels in fours, in
 *   JS otherwise (see makeMaxPoolGrad, makeBiasSum).
 * - `GatherV2` without batch dimensions: slice copies (see makeFastGather).
 * - `Identity`, and `Cast` to the same dtype: share the input's data instead
 *   of copying it.
 *
 * All kernels are implemented by calling other registered wasm kernel
 * functions directly with the backend (not through tf ops), so nothing goes
 * through the engine: no tape entries, no engine-tracked tensors, and every
 * intermediate TensorInfo is released with `backend.disposeData` (see
 * `withScope`).
 *
 * Only NHWC and dilations 1 are supported (as tfjs's own conv2d gradient);
 * anything else throws an Error naming the kernel and the attribute.
 */
import * as tf from "@tensorflow/tfjs-core";
// Side effect: registers the wasm backend and its stock kernels, so that the
// stock configs can be captured before they are replaced.
import "@tensorflow/tfjs-backend-wasm";
import { heapKernels } from "./heap_kernels.ts";
import type {
  DataId,
  KernelConfig,
  KernelFunc,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
} from "@tensorflow/tfjs-core";

const BACKEND = "wasm";

const CONV2D_BACKPROP_FILTER = "Conv2DBackpropFilter";
const CONV2D_BACKPROP_INPUT = "Conv2DBackpropInput";
const BATCH_MAT_MUL = "BatchMatMul";
const MAX_POOL_GRAD = "MaxPoolGrad";
const SUM = "Sum";
const CAST = "Cast";
const IDENTITY = "Identity";
const GATHER_V2 = "GatherV2";

/** Options of {@link registerWasmGradKernels}. */
export interface WasmGradOptions {
  /** Replace the slow stock `Conv2DBackpropInput` (default true). */
  fastInputGrad?: boolean;
  /** Replace `BatchMatMul` by the transpose-then-multiply wrapper (default true). */
  fastTransposedMatMul?: boolean;
  /** Replace the stock `MaxPoolGrad` for non-overlapping windows (default true). */
  fastMaxPoolGrad?: boolean;
  /** Replace the stock `Sum` over every axis but the last (bias gradients; default true). */
  fastBiasSum?: boolean;
  /** Make `Identity` and a `Cast` to the same dtype share their input instead of copying it (default true). */
  shareCopies?: boolean;
  /** Replace the stock `GatherV2` (no batch dimensions) by slice copies (default true). */
  fastGather?: boolean;
  /**
   * How `Conv2DBackpropFilter` is computed for stride 1 (and pads narrower
   * than the filter): as a conv whose
   * filter is the output gradient, or one whose filter is the input; `auto`
   * (default) takes the one a cost estimate says is cheaper. Both give the
   * same numbers; the option exists to compare them.
   */
  filterGradRoute?: FilterGradRoute;
}

/** The forms of the filter gradient (see {@link WasmGradOptions.filterGradRoute}). */
export type FilterGradRoute = "auto" | "outputGradient" | "input";

/** Which of our kernels are currently registered for the wasm backend. */
export interface WasmGradStatus {
  conv2DBackpropFilter: boolean;
  fastInputGrad: boolean;
  fastTransposedMatMul: boolean;
  fastMaxPoolGrad: boolean;
  fastBiasSum: boolean;
  shareCopies: boolean;
  fastGather: boolean;
}

/** The part of the wasm backend the kernels need. */
interface DisposingBackend {
  disposeData(dataId: DataId, force?: boolean): boolean;
}

type ExplicitPad = [
  [number, number],
  [number, number],
  [number, number],
  [number, number],
];
type PadAttr = "valid" | "same" | number | ExplicitPad;
type RoundingMode = "floor" | "round" | "ceil";

// ---------------------------------------------------------------------------
// Calling other kernels and releasing intermediates.

/** Runs `f`, then disposes every TensorInfo made through the scope except the
 * one returned. On error, disposes all of them. */
function withScope(
  backend: DisposingBackend,
  f: (scope: Scope) => TensorInfo,
): TensorInfo {
  const scope = new Scope(backend);
  let result: TensorInfo | undefined;
  try {
    result = f(scope);
    return result;
  } finally {
    scope.disposeAllBut(result);
  }
}

class Scope {
  private readonly made: TensorInfo[] = [];
  constructor(readonly backend: DisposingBackend) {}

  /** Runs a registered wasm kernel (looked up now) on `inputs`. */
  run(
    kernelName: string,
    inputs: NamedTensorInfoMap,
    attrs: NamedAttrMap,
  ): TensorInfo {
    const config = tf.getKernel(kernelName, BACKEND);
    if (config === undefined) {
      throw new Error(
        `wasm_grad: kernel '${kernelName}' is not registered for backend 'wasm'`,
      );
    }
    return this.runConfig(config, inputs, attrs);
  }

  /** Runs a given kernel config (e.g. a captured stock one). */
  runConfig(
    config: KernelConfig,
    inputs: NamedTensorInfoMap,
    attrs: NamedAttrMap,
  ): TensorInfo {
    const out = config.kernelFunc({ inputs, backend: this.backend, attrs });
    if (Array.isArray(out)) {
      for (const o of out) this.made.push(o);
      throw new Error(
        `wasm_grad: kernel '${config.kernelName}' returned several outputs`,
      );
    }
    this.made.push(out);
    return out;
  }

  /** Makes a float32 output of `shape` whose disposal this scope takes over. */
  output(shape: number[]): TensorInfo {
    const out = (this.backend as unknown as HeapBackend).makeOutput(shape, "float32");
    this.made.push(out);
    return out;
  }

  disposeAllBut(keep: TensorInfo | undefined): void {
    for (const info of this.made) {
      // Each returned TensorInfo owns one reference (Reshape increments the
      // refCount of the shared dataId), so dispose each exactly once.
      if (info !== keep) this.backend.disposeData(info.dataId);
    }
    this.made.length = 0;
  }
}

// ---------------------------------------------------------------------------
// Attribute checks shared by the conv kernels.

function checkNHWC(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== "NHWC") {
    throw new Error(
      `${kernel} (wasm_grad): dataFormat '${String(dataFormat)}' is not supported; only 'NHWC' is`,
    );
  }
}

function checkDilationsOne(kernel: string, dilations: unknown): void {
  if (dilations === undefined || dilations === null) return;
  const ds = Array.isArray(dilations) ? dilations : [dilations];
  if (!ds.every((d) => d === 1)) {
    throw new Error(
      `${kernel} (wasm_grad): dilations ${JSON.stringify(dilations)} are not supported; only dilations 1 are ` +
        `(tfjs conv2d gradients require dilations 1, and dilations > 1 ` +
        `cannot be combined with strides > 1)`,
    );
  }
}

function check4D(kernel: string, name: string, shape: readonly number[]): void {
  if (shape.length !== 4) {
    throw new Error(
      `${kernel} (wasm_grad): input '${name}' must be rank 4, got shape [${shape}]`,
    );
  }
}

function checkFloat(kernel: string, infos: Record<string, TensorInfo>): void {
  for (const [name, info] of Object.entries(infos)) {
    if (info.dtype !== "float32") {
      throw new Error(
        `${kernel} (wasm_grad): input '${name}' must be float32, got ${info.dtype}`,
      );
    }
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function conv2dInfo(
  kernel: string,
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: NamedAttrMap,
): tf.backend_util.Conv2DInfo {
  checkNHWC(kernel, attrs["dataFormat"]);
  checkDilationsOne(kernel, attrs["dilations"]);
  const strides = attrs["strides"] as number | [number, number];
  const pad = attrs["pad"] as PadAttr;
  const rounding = attrs["dimRoundingMode"] as RoundingMode | undefined;
  return tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    strides,
    1,
    pad,
    rounding,
    false,
    "channelsLast",
  );
}

function asShape4(
  v: unknown,
  kernel: string,
  attr: string,
): [number, number, number, number] {
  if (
    !Array.isArray(v) || v.length !== 4 ||
    !v.every((d) => Number.isInteger(d) && d > 0)
  ) {
    throw new Error(
      `${kernel} (wasm_grad): attribute '${attr}' must be 4 positive integers, got ${JSON.stringify(v)}`,
    );
  }
  return [v[0], v[1], v[2], v[3]];
}

// ---------------------------------------------------------------------------
// Conv2DBackpropFilter.

const conv2DBackpropFilterFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const K = CONV2D_BACKPROP_FILTER;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs ?? {};
  check4D(K, "x", x.shape);
  check4D(K, "dy", dy.shape);
  checkFloat(K, { x, dy });
  const filterShape = asShape4(a["filterShape"], K, "filterShape");
  const info = conv2dInfo(
    K,
    x.shape as [number, number, number, number],
    filterShape,
    a,
  );
  const {
    batchSize: n,
    inHeight: h,
    inWidth: w,
    inChannels: ci,
    outHeight: ho,
    outWidth: wo,
    outChannels: co,
    filterHeight: kh,
    filterWidth: kw,
    strideHeight: sh,
    strideWidth: sw,
  } = info;
  if (filterShape[2] !== ci) {
    throw new Error(
      `${K} (wasm_grad): filterShape in-channels ${filterShape[2]} do not ` +
        `match x channels ${ci}`,
    );
  }
  if (!sameShape(dy.shape, [n, ho, wo, co])) {
    throw new Error(
      `${K} (wasm_grad): dy shape [${dy.shape}] does not match the forward ` +
        `output shape [${[n, ho, wo, co]}] of x [${x.shape}] with filter ` +
        `[${filterShape}]`,
    );
  }
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const pads = info.padInfo;
  const padsWithinFilter = Math.max(pads.top, pads.bottom) < kh && Math.max(pads.left, pads.right) < kw;
  if (sh === 1 && sw === 1 && padsWithinFilter && inputAsFilterIsCheaper(info, filterGradRoute)) {
    return filterGradInputAsFilter(backend as DisposingBackend, x, dy, info);
  }
  // Rows of the (padded) input that the forward conv actually reads:
  // (ho-1)*sh + kh starting at -top. Pad the bottom/right up to that; if the
  // input has more rows than read, the conv below yields extra rows: crop.
  const bottom = Math.max(0, (ho - 1) * sh + kh - h - top);
  const right = Math.max(0, (wo - 1) * sw + kw - w - left);
  return withScope(backend as DisposingBackend, (s) => {
    // [N,H,W,Ci] -> [Ci,H,W,N]
    const xT = swapBatchAndChannels(s, x);
    // [N,Ho,Wo,Co] -> [Ho,Wo,N,Co]
    const dyT = batchToThird(s, dy);
    const pad: ExplicitPad = [[0, 0], [top, bottom], [left, right], [0, 0]];
    // [Ci, H+top+bottom-(ho-1)*sh, W+left+right-(wo-1)*sw, Co]
    let r = s.run("Conv2D", { x: xT, filter: dyT }, {
      strides: [1, 1],
      pad,
      dataFormat: "NHWC",
      dilations: [sh, sw],
    });
    if (r.shape[1] !== kh || r.shape[2] !== kw) {
      r = s.run("Slice", { x: r }, {
        begin: [0, 0, 0, 0],
        size: [ci, kh, kw, co],
      });
    }
    // [Ci,kh,kw,Co] -> [kh,kw,Ci,Co]
    return s.run("Transpose", { x: r }, { perm: [1, 2, 0, 3] });
  });
};

/** Which form {@link conv2DBackpropFilterFunc} computes (see {@link WasmGradOptions.filterGradRoute}). */
let filterGradRoute: FilterGradRoute = "auto";

/**
 * Estimated cost (ns) of a forward conv as XNNPACK runs it in tfjs's wasm
 * backend: packing a fresh filter (a scalar loop, about 4 ns per value on
 * this project's 2-core machine) plus the GEMM (about 90 GFLOP/s, its output
 * channels taken in blocks of 8). Only the ratio of two estimates matters.
 */
function convCostNs(filterValues: number, outputPixels: number, reduction: number, outChannels: number): number {
  return filterValues * 4 + outputPixels * reduction * Math.ceil(outChannels / 8) * 8 * (2 / 90);
}

/**
 * Whether the input-as-filter form of the filter gradient (stride 1, no pad
 * wider than the filter less one) is
 * expected to be cheaper than the output-gradient-as-filter form. The first
 * form packs x (no larger than dy when the layer has few input channels, as a
 * net's first layer) and sums over x's pixels; the second packs dy and sums
 * over dy's pixels. Both sum the same products in the same order (pixels in
 * row-major order, the batch innermost), the first with zero products of
 * padding in between, so they agree bit for bit (but for the sign of an
 * exactly zero sum).
 */
function inputAsFilterIsCheaper(info: tf.backend_util.Conv2DInfo, route: FilterGradRoute): boolean {
  if (route !== "auto") return route === "input";
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: ho, outWidth: wo, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw } = info;
  const viaOutputGradient = convCostNs(ho * wo * n * co, ci * kh * kw, ho * wo * n, co);
  const viaInput = convCostNs(h * w * n * ci, co * kh * kw, h * w * n, ci);
  return viaInput < viaOutputGradient;
}

/**
 * dW for stride 1 as a forward Conv2D whose filter is x: the output gradient
 * as images [Co, Ho, Wo, N] (channels and batch swapped), padded so that every
 * filter offset fits, correlated with x as the filter [H, W, N, Ci] gives
 * [Co, kh, kw, Ci] rotated by 180 degrees; reversed and transposed it is
 * [kh, kw, Ci, Co]. Derivation: dW[a,b] = sum over x's pixels q of
 * x[q] * dy[q - (a,b) + (top,left)], and output row a' = kh - 1 - a reads the
 * padded dy at q + a' when dy is padded by kh - 1 - top above.
 */
function filterGradInputAsFilter(
  backend: DisposingBackend,
  x: TensorInfo,
  dy: TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): TensorInfo {
  const { inHeight: h, inWidth: w, outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw } = info;
  const { top, left } = info.padInfo;
  return withScope(backend, (s) => {
    const images = swapBatchAndChannels(s, dy);
    const filter = batchToThird(s, x);
    const pad: ExplicitPad = [[0, 0], [kh - 1 - top, h - ho + top], [kw - 1 - left, w - wo + left], [0, 0]];
    const rotated = s.run("Conv2D", { x: images, filter }, {
      strides: [1, 1],
      pad,
      dataFormat: "NHWC",
      dilations: [1, 1],
    });
    const upright = s.run("Reverse", { x: rotated }, { dims: [1, 2] });
    return s.run("Transpose", { x: upright }, { perm: [1, 2, 3, 0] });
  });
}

/**
 * [N,H,W,C] -> [C,H,W,N] over the wasm heap (our SIMD module when N and C
 * are multiples of 4, 4 x 4 blocks at a time; else JS): for each pixel
 * (h, w), an N x C block becomes a C x N block, so reads and writes stay
 * within a few kilobytes. The stock wasm Transpose takes about 3x as long on
 * conv2 of the Gal CNN.
 */
function swapBatchAndChannels(s: Scope, x: TensorInfo): TensorInfo {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const out = s.output([c, h, w, n]);
  const simd = n % 4 === 0 && c % 4 === 0 ? heapKernels(s.backend) : undefined;
  if (simd !== undefined) {
    simd.swapBatchAndChannels(x, out);
    return out;
  }
  const heap = s.backend as unknown as HeapBackend;
  const X = heap.typedArrayFromHeap(x);
  const O = heap.typedArrayFromHeap(out);
  const pixels = h * w;
  const inBatch = pixels * c, outChannel = pixels * n;
  for (let p = 0; p < pixels; p++) {
    for (let ch = 0; ch < c; ch++) {
      let src = p * c + ch;
      let dst = ch * outChannel + p * n;
      for (let b = 0; b < n; b++, src += inBatch) O[dst++] = X[src] as number;
    }
  }
  return out;
}

/**
 * [N,H,W,C] -> [H,W,N,C] over the wasm heap (our SIMD module when C is a
 * multiple of 4; else JS): runs of C
 * contiguous values, copied element by element (a `set` of a `subarray` per
 * run costs more than the run itself at C = 32).
 */
function batchToThird(s: Scope, x: TensorInfo): TensorInfo {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const out = s.output([h, w, n, c]);
  const simd = c % 4 === 0 ? heapKernels(s.backend) : undefined;
  if (simd !== undefined) {
    simd.batchToThird(x, out);
    return out;
  }
  const heap = s.backend as unknown as HeapBackend;
  const X = heap.typedArrayFromHeap(x);
  const O = heap.typedArrayFromHeap(out);
  const pixels = h * w;
  const jump = (n - 1) * c;
  for (let b = 0, src = 0; b < n; b++) {
    let dst = b * c;
    for (let p = 0; p < pixels; p++, dst += jump) {
      for (let k = 0; k < c; k++) O[dst++] = X[src++] as number;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Conv2DBackpropInput.

const conv2DBackpropInputFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const K = CONV2D_BACKPROP_INPUT;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs ?? {};
  check4D(K, "dy", dy.shape);
  check4D(K, "filter", filter.shape);
  checkFloat(K, { dy, filter });
  const inputShape = asShape4(a["inputShape"], K, "inputShape");
  const info = conv2dInfo(
    K,
    inputShape,
    filter.shape as [number, number, number, number],
    a,
  );
  const {
    batchSize: n,
    inHeight: h,
    inWidth: w,
    inChannels: ci,
    outHeight: ho,
    outWidth: wo,
    outChannels: co,
    filterHeight: kh,
    filterWidth: kw,
    strideHeight: sh,
    strideWidth: sw,
  } = info;
  if (filter.shape[2] !== ci) {
    throw new Error(
      `${K} (wasm_grad): filter in-channels ${filter.shape[2]} do not match ` +
        `inputShape channels ${ci}`,
    );
  }
  if (!sameShape(dy.shape, [n, ho, wo, co])) {
    throw new Error(
      `${K} (wasm_grad): dy shape [${dy.shape}] does not match the forward ` +
        `output shape [${[
          n,
          ho,
          wo,
          co,
        ]}] of inputShape [${inputShape}] with ` +
        `filter [${filter.shape}]`,
    );
  }
  return withScope(backend as DisposingBackend, (s) => {
    // Rotate the filter by 180 degrees and swap in/out channels:
    // wT[i,j,co,ci] = filter[kh-1-i, kw-1-j, ci, co].
    const wRev = s.run("Reverse", { x: filter }, { dims: [0, 1] });
    const wT = s.run("Transpose", { x: wRev }, { perm: [0, 1, 3, 2] });
    // Insert sh-1 zero rows after every row (sw-1 zero columns after every
    // column): [N,Ho,Wo,Co] -> [N,Ho*sh,Wo*sw,Co]. The trailing zeros count
    // as bottom/right padding below.
    let d = dy;
    if (sh > 1 || sw > 1) {
      const r5 = s.run("Reshape", { x: dy }, { shape: [n * ho, 1, wo, 1, co] });
      const p5 = s.run("PadV2", { x: r5 }, {
        paddings: [[0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]],
        constantValue: 0,
      });
      d = s.run("Reshape", { x: p5 }, { shape: [n, ho * sh, wo * sw, co] });
    }
    const dh = d.shape[1] as number;
    const dw = d.shape[2] as number;
    // Full correlation: dx needs h+kh-1 rows, the first kh-1-top of which are
    // padding. Negative paddings (explicit pads larger than the filter, or
    // more trailing zeros than needed) are realised by cropping the result.
    const top = kh - 1 - info.padInfo.top;
    const left = kw - 1 - info.padInfo.left;
    const bottom = h + kh - 1 - top - dh;
    const right = w + kw - 1 - left - dw;
    const pad: ExplicitPad = [
      [0, 0],
      [Math.max(0, top), Math.max(0, bottom)],
      [Math.max(0, left), Math.max(0, right)],
      [0, 0],
    ];
    const r = s.run("Conv2D", { x: d, filter: wT }, {
      strides: [1, 1],
      pad,
      dataFormat: "NHWC",
      dilations: [1, 1],
    });
    if (r.shape[1] === h && r.shape[2] === w) return r;
    return s.run("Slice", { x: r }, {
      begin: [0, Math.max(0, -top), Math.max(0, -left), 0],
      size: [n, h, w, ci],
    });
  });
};

// ---------------------------------------------------------------------------
// BatchMatMul with explicit transposes.

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

function makeFastBatchMatMul(stockConfig: KernelConfig): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const a0 = attrs ?? {};
    const transposeA = a0["transposeA"] === true;
    const transposeB = a0["transposeB"] === true;
    if (!transposeA && !transposeB) {
      return stockConfig.kernelFunc({ inputs, backend, attrs: a0 });
    }
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    return withScope(backend as DisposingBackend, (s) => {
      const aa = transposeA ? s.run("Transpose", { x: a }, { perm: swapLastTwo(a.shape.length) }) : a;
      const bb = transposeB ? s.run("Transpose", { x: b }, { perm: swapLastTwo(b.shape.length) }) : b;
      return s.runConfig(stockConfig, { a: aa, b: bb }, {
        ...a0,
        transposeA: false,
        transposeB: false,
      });
    });
  };
}

// ---------------------------------------------------------------------------
// MaxPoolGrad.

/** The part of the wasm backend the max-pool gradient writes through. */
interface HeapBackend {
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

/**
 * Max-pool gradient for non-overlapping windows (filter = stride, no
 * padding), the pooling of the Gal and CIFAR nets. The stock kernel takes
 * about as long as a convolution and drops the gradient of every window whose
 * maximum is negative. This one is a single pass in JS over views of the wasm
 * heap (no copies): each window's dy goes to its last maximum in row-major
 * order, as the stock kernel does for positive maxima; rows and columns beyond
 * the last full window get zeros. Other poolings go to the stock kernel.
 */
function makeMaxPoolGrad(stockConfig: KernelConfig): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, input: x, output: y } = inputs as { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
    const a = attrs ?? {};
    const pair = (v: unknown): [number, number] | undefined =>
      typeof v === "number"
        ? [v, v]
        : Array.isArray(v) && v.length === 2
        ? [v[0] as number, v[1] as number]
        : undefined;
    const f = pair(a["filterSize"]);
    const st = pair(a["strides"]);
    const pad = a["pad"];
    const fast = f !== undefined && st !== undefined && f[0] === st[0] && f[1] === st[1] &&
      (pad === "valid" || pad === 0) && x.shape.length === 4 && dy.dtype === "float32" && x.dtype === "float32" &&
      y.dtype === "float32";
    if (!fast) return stockConfig.kernelFunc(args);
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const [kh, kw] = f;
    const ho = Math.floor(h / kh), wo = Math.floor(w / kw);
    if (!sameShape(dy.shape, [n, ho, wo, c]) || !sameShape(y.shape, [n, ho, wo, c])) {
      throw new Error(
        `${MAX_POOL_GRAD} (wasm_grad): dy [${dy.shape}] and output [${y.shape}] must be [${[n, ho, wo, c]}] ` +
          `for input [${x.shape}] and filter [${f}]`,
      );
    }
    const heap = backend as unknown as HeapBackend;
    const out = heap.makeOutput([n, h, w, c], "float32");
    // Views taken after the allocation above: a heap growth would detach older ones.
    const X = heap.typedArrayFromHeap(x);
    const Y = heap.typedArrayFromHeap(y);
    const DY = heap.typedArrayFromHeap(dy);
    const DX = heap.typedArrayFromHeap(out);
    if (kh === 2 && kw === 2) {
      const simd = c % 4 === 0 ? heapKernels(backend) : undefined;
      if (simd === undefined) {
        maxPoolGrad2x2(X, Y, DY, DX, [n, h, w, c]);
      } else {
        if (ho * 2 !== h || wo * 2 !== w) DX.fill(0);
        simd.maxPoolGrad2x2(x, y, dy, out);
      }
      return out;
    }
    DX.fill(0);
    const rowStride = w * c;
    for (let b = 0; b < n; b++) {
      for (let oh = 0; oh < ho; oh++) {
        const yRow = ((b * ho + oh) * wo) * c;
        const xTop = (b * h + oh * kh) * rowStride;
        for (let ow = 0; ow < wo; ow++) {
          const yBase = yRow + ow * c;
          const xBase = xTop + ow * kw * c;
          for (let ch = 0; ch < c; ch++) {
            const m = Y[yBase + ch] as number;
            // The last maximum in row-major order: the stock kernel's choice
            // (tfjs' cpu backend takes the first; either is a subgradient), so
            // results trained before this kernel existed are reproduced bit for bit.
            search: for (let i = kh - 1; i >= 0; i--) {
              let idx = xBase + i * rowStride + (kw - 1) * c + ch;
              for (let j = kw - 1; j >= 0; j--, idx -= c) {
                if (X[idx] === m) {
                  // "+ 0" turns -0 into +0, as the stock kernel writes it.
                  DX[idx] = (DY[yBase + ch] as number) + 0;
                  break search;
                }
              }
            }
          }
        }
      }
    }
    return out;
  };
}

/**
 * The 2 x 2, stride 2 case of {@link makeMaxPoolGrad} (both nets' pooling),
 * the same choice (each window's dy to its last maximum in row-major order,
 * none when the maximum is NaN) in one streaming pass: each window's four
 * gradient entries are written directly, so only inputs with a row or column
 * beyond the last full window need zeroing first.
 */
function maxPoolGrad2x2(
  X: Float32Array,
  Y: Float32Array,
  DY: Float32Array,
  DX: Float32Array,
  [n, h, w, c]: readonly [number, number, number, number],
): void {
  const ho = h >> 1, wo = w >> 1;
  if (ho * 2 !== h || wo * 2 !== w) DX.fill(0);
  const rowStride = w * c;
  let yi = 0;
  for (let b = 0; b < n; b++) {
    for (let oh = 0; oh < ho; oh++) {
      const top = (b * h + 2 * oh) * rowStride;
      for (let ow = 0; ow < wo; ow++) {
        // The window's four entries of channel ch: top-left i, top-right i + c,
        // bottom-left i + rowStride, bottom-right i + rowStride + c.
        let i = top + 2 * ow * c;
        for (let ch = 0; ch < c; ch++, yi++, i++) {
          const m = Y[yi] as number;
          // "+ 0" turns -0 into +0, as the stock kernel writes it.
          const g = (DY[yi] as number) + 0;
          const j = i + rowStride;
          DX[i] = 0;
          DX[i + c] = 0;
          DX[j] = 0;
          DX[j + c] = 0;
          if (X[j + c] === m) DX[j + c] = g;
          else if (X[j] === m) DX[j] = g;
          else if (X[i + c] === m) DX[i + c] = g;
          else if (X[i] === m) DX[i] = g;
        }
      }
    }
  }
}

/**
 * Sum over every axis but the last, the gradient of a bias added to conv or
 * dense outputs. The stock kernel first transposes the whole tensor so that
 * the summed axes come last, then sums each row. This one sums in place over
 * views of the wasm heap, each channel in the same order and in float32 (a
 * Float32Array accumulator rounds every addition), so its results are the
 * stock kernel's bit for bit. Only axes given as 0, 1, ..., rank - 2 in that
 * order qualify (the stock kernel sums other orders in their given order).
 * Other reductions go to the stock kernel.
 */
function makeBiasSum(stockConfig: KernelConfig): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs as { x: TensorInfo };
    const rank = x.shape.length;
    const raw = (attrs ?? {})["axis"];
    const axes = (Array.isArray(raw) ? raw as number[] : [raw as number]).map((a) => (a < 0 ? a + rank : a));
    const leading = rank >= 2 && x.dtype === "float32" && axes.length === rank - 1 &&
      axes.every((a, i) => a === i);
    if (!leading) return stockConfig.kernelFunc(args);
    const c = x.shape[rank - 1] as number;
    const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const keepDims = (attrs ?? {})["keepDims"] === true;
    const heap = backend as unknown as HeapBackend;
    const out = heap.makeOutput(keepDims ? [...x.shape.slice(0, -1).map(() => 1), c] : [c], "float32");
    const simd = c % 4 === 0 ? heapKernels(backend) : undefined;
    if (simd !== undefined) {
      simd.sumRows(x, out);
      return out;
    }
    const X = heap.typedArrayFromHeap(x);
    const acc = new Float32Array(c);
    for (let r = 0, base = 0; r < rows; r++, base += c) {
      for (let ch = 0; ch < c; ch++) acc[ch] = (acc[ch] as number) + (X[base + ch] as number);
    }
    heap.typedArrayFromHeap(out).set(acc);
    return out;
  };
}

/**
 * `Identity` (which the engine runs to keep every tensor a gradient needs)
 * and a cast to the dtype the tensor already has (the ReLU gradient casts its
 * float32 mask to float32) share their input's data, one more reference as
 * `Reshape` takes and as the cpu backend's `Identity` does, instead of
 * copying it. Tensors are immutable, so sharing is safe.
 */
function makeSharingCopy(stockConfig: KernelConfig): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const dtype = (args.attrs ?? {})["dtype"];
    if ((dtype !== undefined && dtype !== x.dtype) || x.dtype === "string") return stockConfig.kernelFunc(args);
    (args.backend as unknown as { incRef(dataId: DataId): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/** The part of the wasm backend a gather reads and writes through, for any dtype. */
interface TypedHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/**
 * `GatherV2` without batch dimensions (how training batches and scoring
 * chunks are cut from the pool): whole slices copied over views of the wasm
 * heap. The stock kernel strides element by element, about 35 ns per value
 * (13.8 ms for a batch of 128 CIFAR images, as long as a convolution). A pure
 * copy, so its output is the stock kernel's bit for bit. Out-of-range indices
 * throw the stock kernel's error; batch dimensions go to the stock kernel.
 */
function makeFastGather(stockConfig: KernelConfig): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x, indices } = inputs as { x: TensorInfo; indices: TensorInfo };
    const a = attrs ?? {};
    const batchDims = (a["batchDims"] as number | undefined) ?? 0;
    if (batchDims !== 0 || indices.dtype !== "int32" || x.dtype === "string" || x.dtype === "complex64") {
      return stockConfig.kernelFunc(args);
    }
    const axis = tf.util.parseAxisParam(a["axis"] as number, x.shape)[0] as number;
    const heap = backend as unknown as TypedHeapBackend;
    const dimSize = x.shape[axis] as number;
    const outer = tf.util.sizeFromShape(x.shape.slice(0, axis));
    const slice = tf.util.sizeFromShape(x.shape.slice(axis + 1));
    const count = tf.util.sizeFromShape(indices.shape);
    const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
    const idx = heap.typedArrayFromHeap(indices) as Int32Array;
    for (let i = 0; i < count; i++) {
      const index = idx[i] as number;
      if (!(index >= 0 && index <= dimSize - 1)) {
        throw new Error(`GatherV2: the index value ${index} is not in [0, ${dimSize - 1}]`);
      }
    }
    const out = heap.makeOutput(outShape, x.dtype);
    if (count === 0 || slice === 0 || outer === 0) return out;
    // Views taken after the allocation above: a heap growth would detach older ones.
    const X = heap.typedArrayFromHeap(x);
    const O = heap.typedArrayFromHeap(out);
    const I = heap.typedArrayFromHeap(indices) as Int32Array;
    let dst = 0;
    for (let o = 0; o < outer; o++) {
      const base = o * dimSize * slice;
      for (let i = 0; i < count; i++, dst += slice) {
        const src = base + (I[i] as number) * slice;
        if (slice >= 64) {
          O.set(X.subarray(src, src + slice), dst);
        } else {
          for (let k = 0; k < slice; k++) O[dst + k] = X[src + k] as number;
        }
      }
    }
    return out;
  };
}

// ---------------------------------------------------------------------------
// Registration.

/** Stock configs as found before our first replacement (undefined: none). */
const stockConfigs = new Map<string, KernelConfig | undefined>();
/** Config objects created by this module. */
const ourConfigs = new WeakSet<KernelConfig>();
/** Our configs, created lazily (they need the stock setup functions). */
const cache = new Map<string, KernelConfig>();

function captureStock(kernelName: string): KernelConfig | undefined {
  if (!stockConfigs.has(kernelName)) {
    const current = tf.getKernel(kernelName, BACKEND);
    stockConfigs.set(
      kernelName,
      current !== undefined && !ourConfigs.has(current) ? current : undefined,
    );
  }
  return stockConfigs.get(kernelName);
}

/** Our config for `kernelName`; it carries the stock setup/dispose functions
 * so that a wasm backend initialised while ours is registered still sets up
 * the stock kernel (which our kernel or a later restore may call). */
function ourConfig(kernelName: string): KernelConfig {
  const cached = cache.get(kernelName);
  if (cached !== undefined) return cached;
  const stock = captureStock(kernelName);
  let kernelFunc: KernelFunc;
  if (kernelName === CONV2D_BACKPROP_FILTER) {
    kernelFunc = conv2DBackpropFilterFunc;
  } else if (kernelName === CONV2D_BACKPROP_INPUT) {
    kernelFunc = conv2DBackpropInputFunc;
  } else if (kernelName === BATCH_MAT_MUL) {
    if (stock === undefined) {
      throw new Error(
        "wasm_grad: the stock wasm BatchMatMul kernel is not registered " +
          "(import '@tensorflow/tfjs-backend-wasm' first)",
      );
    }
    kernelFunc = makeFastBatchMatMul(stock);
  } else if (kernelName === MAX_POOL_GRAD) {
    if (stock === undefined) {
      throw new Error("wasm_grad: the stock wasm MaxPoolGrad kernel is not registered");
    }
    kernelFunc = makeMaxPoolGrad(stock);
  } else if (kernelName === SUM) {
    if (stock === undefined) throw new Error("wasm_grad: the stock wasm Sum kernel is not registered");
    kernelFunc = makeBiasSum(stock);
  } else if (kernelName === GATHER_V2) {
    if (stock === undefined) throw new Error("wasm_grad: the stock wasm GatherV2 kernel is not registered");
    kernelFunc = makeFastGather(stock);
  } else if (kernelName === CAST || kernelName === IDENTITY) {
    if (stock === undefined) throw new Error(`wasm_grad: the stock wasm ${kernelName} kernel is not registered`);
    kernelFunc = makeSharingCopy(stock);
  } else {
    throw new Error(`wasm_grad: unknown kernel ${kernelName}`);
  }
  const config: KernelConfig = { kernelName, backendName: BACKEND, kernelFunc };
  if (stock?.setupFunc !== undefined) config.setupFunc = stock.setupFunc;
  if (stock?.disposeFunc !== undefined) config.disposeFunc = stock.disposeFunc;
  ourConfigs.add(config);
  cache.set(kernelName, config);
  return config;
}

function install(kernelName: string): void {
  const config = ourConfig(kernelName);
  const current = tf.getKernel(kernelName, BACKEND);
  if (current === config) return;
  if (current !== undefined) tf.unregisterKernel(kernelName, BACKEND);
  tf.registerKernel(config);
}

/** Puts back the stock config if (and only if) ours is the registered one. */
function uninstall(kernelName: string): void {
  const current = tf.getKernel(kernelName, BACKEND);
  if (current === undefined || !ourConfigs.has(current)) return;
  tf.unregisterKernel(kernelName, BACKEND);
  const stock = stockConfigs.get(kernelName);
  if (stock !== undefined) tf.registerKernel(stock);
}

/**
 * Registers the gradient kernels for the `wasm` backend. Idempotent; calling
 * it again with other options switches the optional kernels on or off.
 * `Conv2DBackpropFilter` (missing in the stock backend) is always registered.
 * May be called before or after `tf.setBackend("wasm")`.
 */
export function registerWasmGradKernels(opts: WasmGradOptions = {}): void {
  const fastInputGrad = opts.fastInputGrad ?? true;
  const fastTransposedMatMul = opts.fastTransposedMatMul ?? true;
  filterGradRoute = opts.filterGradRoute ?? "auto";
  install(CONV2D_BACKPROP_FILTER);
  if (fastInputGrad) install(CONV2D_BACKPROP_INPUT);
  else uninstall(CONV2D_BACKPROP_INPUT);
  if (fastTransposedMatMul) install(BATCH_MAT_MUL);
  else uninstall(BATCH_MAT_MUL);
  if (opts.fastMaxPoolGrad ?? true) install(MAX_POOL_GRAD);
  else uninstall(MAX_POOL_GRAD);
  if (opts.fastBiasSum ?? true) install(SUM);
  else uninstall(SUM);
  for (const k of [CAST, IDENTITY]) {
    if (opts.shareCopies ?? true) install(k);
    else uninstall(k);
  }
  if (opts.fastGather ?? true) install(GATHER_V2);
  else uninstall(GATHER_V2);
}

/**
 * Puts back the stock wasm `Conv2DBackpropInput`, `BatchMatMul`, `MaxPoolGrad`, `Sum`, `Cast`,
 * `Identity` and `GatherV2` kernels.
 * `Conv2DBackpropFilter` is LEFT REGISTERED (ours): the stock backend has
 * none, and without it no conv net can be trained on wasm. So after this call
 * the backend is "stock + our Conv2DBackpropFilter" (the benchmark baseline).
 */
export function restoreWasmKernels(): void {
  uninstall(CONV2D_BACKPROP_INPUT);
  uninstall(BATCH_MAT_MUL);
  uninstall(MAX_POOL_GRAD);
  uninstall(SUM);
  uninstall(CAST);
  uninstall(IDENTITY);
  uninstall(GATHER_V2);
}

/** Which of this module's kernels are currently registered for wasm. */
export function wasmGradKernelStatus(): WasmGradStatus {
  const ours = (name: string): boolean => {
    const k = tf.getKernel(name, BACKEND);
    return k !== undefined && ourConfigs.has(k);
  };
  return {
    conv2DBackpropFilter: ours(CONV2D_BACKPROP_FILTER),
    fastInputGrad: ours(CONV2D_BACKPROP_INPUT),
    fastTransposedMatMul: ours(BATCH_MAT_MUL),
    fastMaxPoolGrad: ours(MAX_POOL_GRAD),
    fastBiasSum: ours(SUM),
    shareCopies: ours(CAST) && ours(IDENTITY),
    fastGather: ours(GATHER_V2),
  };
}

/** The stock wasm kernel config for a kernel this module may replace, as it
 * was before the first replacement (undefined if there was none). */
export function stockWasmKernel(kernelName: string): KernelConfig | undefined {
  return captureStock(kernelName);
}
