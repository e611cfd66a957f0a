/** Every example decodes; the YAML twin of mnist-bald is the same experiment as the TS one. */
import { assert, assertEquals } from "./asserts.ts";
import { loadExperimentFile } from "../pipeline/experiment_file.ts";
import { variantsOf } from "../pipeline/active_learning.ts";
import { planExperiment } from "../pipeline/plan.ts";

/** Every stage key of an experiment's plan, with its stage name. */
async function planKeys(file: string): Promise<string[]> {
  const config = await loadExperimentFile(file);
  const plans = await planExperiment(variantsOf(config), "0".repeat(64), 10);
  return plans.flatMap((p) => [
    `${p.strategy.name} ${p.seed}`,
    `${p.warmStart.stage.name} ${p.warmStart.key}`,
    ...p.rounds.flatMap((r) =>
      [r.retrain, ...r.members, r.posterior, r.evaluate, r.score, r.acquire].flatMap((s) =>
        s ? [`${s.stage.name} ${s.key}`] : []
      )
    ),
  ]);
}

Deno.test("examples/mnist-bald.yaml plans exactly the stages of examples/mnist-bald.ts", async () => {
  const ts = await loadExperimentFile("examples/mnist-bald.ts");
  const yaml = await loadExperimentFile("examples/mnist-bald.yaml");
  const { strategies: tsStrategies, ...tsRest } = ts;
  const { strategies: yamlStrategies, ...yamlRest } = yaml;
  assertEquals(yamlRest, tsRest);
  assertEquals(yamlStrategies?.map((s) => s.name), tsStrategies?.map((s) => s.name));
  // Same stages with the same cache keys: the same experiment, down to the code of each score.
  const keys = await planKeys("examples/mnist-bald.ts");
  assertEquals(keys.length, 5 * (1 + 1 + 4 * 5 + 3));
  assertEquals(await planKeys("examples/mnist-bald.yaml"), keys);
  assert(keys.some((k) => k.startsWith("score/variation-ratios ")));
});

Deno.test("every example file decodes", async () => {
  for await (const e of Deno.readDir("examples")) {
    if (/\.(ts|ya?ml)$/.test(e.name)) await loadExperimentFile(`examples/${e.name}`);
  }
});
