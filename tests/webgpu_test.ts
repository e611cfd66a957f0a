/**
 * `--backend webgpu` end to end, through the command line's code, on whatever
 * WebGPU adapter Deno finds: in CI, Mesa's software Vulkan device (lavapipe,
 * Debian's `mesa-vulkan-drivers`, installed by `.ci/run`). A tiny MNIST
 * experiment (training, MC dropout, BALD as tensor ops on the device,
 * acquisition) runs on tiny MNIST files in the real format (no data set
 * needed) on webgpu and on wasm; the two must agree within float tolerance,
 * and pick the same items.
 */
import { assert, assertEquals } from "./asserts.ts";
import { withTinyMnist } from "./fixtures.ts";
import { results } from "./sweep_helpers.ts";
import { hasWebgpuAdapter } from "../pipeline/tensor/_webgpu_adapter.ts";

if (!hasWebgpuAdapter) console.error("webgpu_test: no WebGPU adapter (install mesa-vulkan-drivers); skipped");

Deno.test({
  name: "webgpu: a tiny experiment gives wasm's accuracies and NLL within tolerance and acquires the same items",
  ignore: !hasWebgpuAdapter,
  fn: () =>
    withTinyMnist(async (dir, run) => {
      const experiment = new URL("./tiny_mnist.ts", import.meta.url).pathname;
      const go = async (backend: "webgpu" | "wasm") => {
        const result = await run(experiment, backend, { backend, cacheDir: `${dir}/${backend}-cache` });
        assertEquals(result.records.length, 6);
        return await results(result.outDir);
      };
      const gpu = await go("webgpu");
      const cpu = await go("wasm");
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
        // BALD ran as tensor ops on webgpu (float32) and in JS on wasm (float64): the same items.
        assertEquals(acquiredG, acquiredC, `${where}: acquired items`);
      }
    }),
});

Deno.test({
  name: "webgpu: a tiny BatchBALD experiment (its tensor part on the device) acquires what wasm's JS form acquires",
  ignore: !hasWebgpuAdapter,
  fn: () =>
    withTinyMnist(async (dir, run) => {
      const experiment = new URL("./tiny_batchbald.ts", import.meta.url).pathname;
      const go = async (backend: "webgpu" | "wasm") => {
        const result = await run(experiment, `bb-${backend}`, { backend, cacheDir: `${dir}/bb-${backend}-cache` });
        return await results(result.outDir);
      };
      const gpu = await go("webgpu");
      const cpu = await go("wasm");
      assertEquals(gpu.rounds.length, 3);
      assertEquals(gpu.rounds.map((r) => r[5]), cpu.rounds.map((r) => r[5]), "acquired items, round by round");
      assert((gpu.rounds[0]![5] as number[]).length === 5, "5 items acquired in round 0");
    }),
});
