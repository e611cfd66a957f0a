/** Every example decodes; the YAML twin of mnist-bald is the same experiment as the TS one. */
import { assert, assertEquals } from "./asserts.ts";
import { loadExperimentFile, loadRunnable } from "../pipeline/cli/experiment_file.ts";
import { type ExperimentConfig, imagePartsOf } from "../dsl/experiment.ts";
import { isTextDataset } from "../dsl/text.ts";
import { withTinyMnist } from "./fixtures.ts";
import { interpret } from "../pipeline/run/interpreter.ts";
import { presetExperiment } from "../pipeline/packs/preset.ts";
import { makeProgress } from "../pipeline/run/progress.ts";

/**
 * Every step of an experiment's dry-run plan (the interpreter's walk with
 * execution off), as "run, stage name, key", on the data in `dataDir`.
 */
async function planKeys(file: string, dataDir: string): Promise<string[]> {
  const config = await loadExperimentFile(file);
  const planned = await interpret(presetExperiment(config), {
    progress: makeProgress("plan", () => {}),
    env: { backend: "plan", kernels: "stock" },
    refresh: new Set(),
    execute: false,
    scale: { full: false },
    data: { dataDir, download: false, checksums: "skip" },
  })();
  if (planned._tag === "Left") throw new Error(planned.left.message);
  return planned.right.plan.map((p) => `${p.run} | ${p.name} ${p.key}`);
}

Deno.test("examples/mnist-bald.yaml plans exactly the stages of examples/mnist-bald.ts", async () => {
  const ts = await loadExperimentFile("examples/mnist-bald.ts");
  const yaml = await loadExperimentFile("examples/mnist-bald.yaml");
  const { strategies: tsStrategies, ...tsRest } = ts;
  const { strategies: yamlStrategies, ...yamlRest } = yaml;
  assertEquals(yamlRest, tsRest);
  assertEquals(yamlStrategies?.map((s) => s.name), tsStrategies?.map((s) => s.name));
  // Same stages with the same cache keys: the same experiment, down to the code of each score.
  await withTinyMnist(async (dir) => {
    const keys = await planKeys("examples/mnist-bald.ts", `${dir}/data`);
    // 7 strategies x 3 seeds, each: the warm start, 4 rounds of 5 stages and a last round of 3.
    assertEquals(keys.length, 7 * 3 * (1 + 4 * 5 + 3));
    assertEquals(await planKeys("examples/mnist-bald.yaml", `${dir}/data`), keys);
    assert(keys.some((k) => k.includes("| score/variation-ratios ")));
  });
});

/** Example files, sorted. */
async function exampleFiles(): Promise<string[]> {
  const files: string[] = [];
  for await (const e of Deno.readDir("examples")) if (/\.(ts|ya?ml)$/.test(e.name)) files.push(`examples/${e.name}`);
  return files.sort();
}

Deno.test("every example file decodes", async () => {
  for (const file of await exampleFiles()) await loadRunnable(file);
});

/** An example at a tiny size: one round, a handful of pool and test items, one epoch, one seed. */
function tiny(config: ExperimentConfig): ExperimentConfig {
  const { stop: _stop, grid: _grid, ...rest } = config;
  return {
    ...rest,
    initialPerClass: 1 as ExperimentConfig["rounds"],
    rounds: 1 as ExperimentConfig["rounds"],
    poolSubset: 30 as ExperimentConfig["poolSubset"],
    testSubset: 20 as ExperimentConfig["testSubset"],
    seeds: [0] as ExperimentConfig["seeds"],
    train: { ...imagePartsOf(config).train, epochs: 1 as ExperimentConfig["rounds"] },
  };
}

Deno.test("every example runs end to end at a tiny size, on tiny data in the real formats", async () => {
  await withTinyMnist(async (_dir, run) => {
    for (const file of await exampleFiles()) {
      // Text examples need tiny Reuters and TREC files: tests/text_test.ts runs them through the CLI.
      const runnable = await loadRunnable(file);
      if (runnable.kind === "experiment" && isTextDataset(runnable.config.dataset)) continue;
      // `rounds`: a composed example (own-model.ts) builds its runs itself, honouring the command line's scale only.
      const result = await run(file, file.replace(/\W/g, "_"), { adjust: tiny, rounds: 1 });
      assert(result.records.length > 0, `${file}: no records`);
      for (const r of result.records) {
        assert(r.accuracy >= 0 && r.accuracy <= 1, `${file}: accuracy ${r.accuracy}`);
        assertEquals(new Set(r.acquired).size, r.acquired.length, `${file}: an item acquired twice`);
      }
      // Every strategy ran both rounds.
      const rounds = new Map<string, number>();
      for (const r of result.records) {
        const run = `${r.acquisition}${r.variant ? ` [${r.variant}]` : ""} seed ${r.seed}`;
        rounds.set(run, (rounds.get(run) ?? 0) + 1);
      }
      for (const [name, n] of rounds) assertEquals(n, 2, `${file}: ${name} ran ${n} rounds`);
    }
  });
});

Deno.test("examples/ablation.ts: each ablation reuses what it does not change, and reuse.md says so", async () => {
  await withTinyMnist(async (dir, run) => {
    await run("examples/ablation.ts", "ablation", { adjust: tiny });
    const reuse = JSON.parse(await Deno.readTextFile(`${dir}/ablation/reuse.json`)) as {
      experiment: string;
      executed: Record<string, number>;
      restored: Record<string, number>;
    }[];
    assertEquals(reuse.map((r) => r.experiment), ["base", "acquisition", "mc-samples", "ensemble-size"]);
    const [base, acquisition, samples, ensemble] = reuse;
    // Within the base, the ensemble's first member is the MC-dropout strategy's round-0 net, on the same warm start.
    assertEquals(base?.restored, { "warm-start": 1, "retrain": 1 });
    // Another score: the warm start and round 0's net, posterior and evaluation are reused; its scores are not.
    for (const kind of ["warm-start", "retrain", "fit-posterior", "evaluate"]) {
      assert((acquisition?.restored[kind] ?? 0) >= 1, `acquisition reused no ${kind}`);
    }
    assert((acquisition?.executed["score"] ?? 0) >= 1);
    // More samples: round 0's net is reused; the posterior and what follows are recomputed.
    assert((samples?.restored["retrain"] ?? 0) >= 1);
    assertEquals(samples?.restored["fit-posterior"], undefined);
    // A bigger ensemble: round 0's three members are reused and two more are trained.
    assert((ensemble?.restored["retrain"] ?? 0) >= 3, JSON.stringify(ensemble));
    assert((ensemble?.executed["retrain"] ?? 0) >= 2, JSON.stringify(ensemble));
    const md = await Deno.readTextFile(`${dir}/ablation/reuse.md`);
    assert(md.includes("| [ensemble-size](ensemble-size/summary.md) |"), md);
  });
});
