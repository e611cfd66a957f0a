/**
 * Backend kernels: fast gradient kernels for the tfjs wasm backend.
 *
 * @module
 */

/**
 * Version of our wasm kernel set: bump it when a kernel change moves
 * numbers (it joins the cache keys of every numeric stage run on wasm).
 */
export const WASM_KERNEL_SET_VERSION = 1;
export {
  type FilterGradRoute,
  registerWasmGradKernels,
  restoreWasmKernels,
  stockWasmKernel,
  wasmGradKernelStatus,
  type WasmGradOptions,
  type WasmGradStatus,
} from "./wasm_grad.ts";
