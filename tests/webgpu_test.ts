/**
 * `--backend webgpu` end to end, through the real command line, on whatever
 * WebGPU adapter Deno finds: in CI, Mesa's software Vulkan device (lavapipe,
 * Debian's `mesa-vulkan-drivers`, installed by `.ci/run`). A tiny MNIST
 * experiment (training, MC dropout, BALD, acquisition) runs on webgpu and on
 * wasm; the two must agree within float tolerance, and pick the same items.
 */
import { assert, assertEquals } from "./asserts.ts";
import { exp, real, results, succeeds } from "./sweep_helpers.ts";

const adapter = await (async () => {
  try {
    const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
    return gpu ? await gpu.requestAdapter() : null;
  } catch {
    return null;
  }
})();
if (!adapter) console.error("webgpu_test: no WebGPU adapter (install mesa-vulkan-drivers); skipped");

Deno.test({
  name: "webgpu: a tiny experiment gives wasm's accuracies and NLL within tolerance and acquires the same items",
  ignore: real === undefined || !adapter,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "dbal-webgpu-" });
    try {
      const run = async (backend: string) => {
        const out = `${dir}/${backend}`;
        await succeeds(
          exp(["--backend", backend, "--workers", "1", "--out", out, "--cache-dir", `${dir}/${backend}-c`]),
        );
        return await results(out);
      };
      const gpu = await run("webgpu");
      const cpu = await run("wasm");
      assertEquals(gpu.meta.backend, "webgpu");
      assertEquals(cpu.meta.backend, "wasm");
      assertEquals(gpu.rounds.length, cpu.rounds.length);
      assertEquals(gpu.rounds.length, 6);
      for (const [i, g] of gpu.rounds.entries()) {
        const c = cpu.rounds[i] as typeof g;
        const [strategy, seed, round, accG, nllG, acquiredG] = g;
        const [, , , accC, nllC, acquiredC] = c;
        const where = `${strategy} seed ${seed} round ${round}`;
        // 100 test items: at most one may flip; NLL to float32 reduction-order noise.
        assert(Math.abs((accG as number) - (accC as number)) <= 0.01 + 1e-9, `${where}: accuracy ${accG} vs ${accC}`);
        assert(Math.abs((nllG as number) - (nllC as number)) <= 1e-3 * Math.abs(nllC as number), `${where}: NLL`);
        assertEquals(acquiredG, acquiredC, `${where}: acquired items`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
