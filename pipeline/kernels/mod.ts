/**
 * Backend kernels: fast gradient kernels for the tfjs wasm backend.
 *
 * @module
 */
export {
  registerWasmGradKernels,
  restoreWasmKernels,
  stockWasmKernel,
  wasmGradKernelStatus,
  type WasmGradOptions,
  type WasmGradStatus,
} from "./wasm_grad.ts";
