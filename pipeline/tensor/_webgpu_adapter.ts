/**
 * For tests: whether Deno finds a WebGPU adapter here (in CI, Mesa's software
 * Vulkan device, lavapipe, which `.ci/run` installs). Tests of the webgpu
 * path are ignored without one.
 *
 * @module
 */

/** True when `navigator.gpu` gives an adapter. */
export const hasWebgpuAdapter: boolean = await (async () => {
  try {
    const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
    return gpu ? (await gpu.requestAdapter()) !== null : false;
  } catch {
    return false;
  }
})();
