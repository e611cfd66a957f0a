/**
 * Which tfjs backends keep tensors in a GPU's memory, where every transfer
 * to or from JS costs a copy over the bus and a sync: there the runner keeps
 * a run's images resident (see `imagesToTensor`) and computes the built-in
 * scores as tensor ops (see `device_scores.ts`).
 *
 * @module
 */

/**
 * Whether a backend's tensors live in GPU memory.
 *
 * @param backend the tfjs backend's name
 * @returns true for webgpu (tfjs-node-gpu registers as "tensorflow", whose
 *   tensors tfjs reads as host memory)
 */
export function isGpuBackend(backend: string): boolean {
  return backend === "webgpu";
}
