/**
 * Every built-in posterior through the real CLI code path on tiny MNIST
 * files: it runs, its stages are cached (a rerun executes nothing), and the
 * rerun reproduces the results.
 */
import * as E from "fp-ts/Either.js";
import { assert, assertEquals } from "./asserts.ts";
import tiny from "./tiny_mnist.ts";
import type { CliResult } from "../pipeline/cli/cli.ts";
import { tinyVariant, withTinyMnist } from "./fixtures.ts";
import { decodeExperiment } from "../dsl/experiment.ts";
import { hybridPreset } from "../dsl/model.ts";

/** Runs the tiny experiment with `changes` twice on one cache. */
async function runTwice(changes: Record<string, unknown>) {
  let results: [CliResult, CliResult] | undefined;
  await withTinyMnist(async (dir, run) => {
    const file = await tinyVariant(dir, "exp", changes);
    results = [await run(file, "a"), await run(file, "b")];
  });
  return results as [CliResult, CliResult];
}

const top10 = { name: "top-k", k: 10 };

Deno.test("VOGN head with top-u, deterministic, ensemble: run, cache and reproduce", async () => {
  const [first, second] = await runTwice({
    acquisitions: [],
    rounds: 1,
    strategies: [
      { posterior: { name: "vogn-head", samples: 10, epochs: 10 }, score: { name: "top-u", u: 2 }, acquire: top10 },
      { posterior: "deterministic", score: "max-entropy", acquire: top10 },
      { posterior: { name: "ensemble", members: 2 }, score: "variation-ratios", acquire: top10 },
    ],
  });
  assertEquals(first.records.map((r) => [r.acquisition, r.labelled, r.acquired.length]), [
    ["top-u", 20, 10],
    ["top-u", 30, 0],
    ["max-entropy", 20, 10],
    ["max-entropy", 30, 0],
    ["variation-ratios", 20, 10],
    ["variation-ratios", 30, 0],
  ]);
  for (const r of first.records) assert(r.accuracy > 0.3, `${r.acquisition}: accuracy ${r.accuracy}`);
  // The VOGN head is saved and loaded (mean and precision), so nothing runs again.
  assertEquals(second.executed, {});
  assertEquals(second.records.map((r) => [r.accuracy, r.acquired]), first.records.map((r) => [r.accuracy, r.acquired]));
});

Deno.test("whole-net VOGN with BALD and BatchBALD: runs, caches (means and precisions) and reproduces", async () => {
  const posterior = { name: "vogn", samples: 6, epochs: 3, learningRate: 0.01 };
  const [first, second] = await runTwice({
    acquisitions: [],
    rounds: 1,
    strategies: [
      { name: "vogn-bald", posterior, score: "bald", acquire: top10 },
      {
        name: "vogn-net-batch-bald",
        posterior: { ...posterior, init: "net" },
        score: "bald",
        acquire: { name: "batch-bald", k: 10 },
      },
    ],
  });
  assertEquals(first.records.map((r) => [r.acquisition, r.labelled, r.acquired.length]), [
    ["vogn-bald", 20, 10],
    ["vogn-bald", 30, 0],
    ["vogn-net-batch-bald", 20, 10],
    ["vogn-net-batch-bald", 30, 0],
  ]);
  // Scratch and warm-started fits differ, so (almost surely) they pick different items.
  assert(
    first.records[0]!.acquired.join() !== first.records[2]!.acquired.join(),
    "init scratch and init net acquired the same items",
  );
  assertEquals(first.executed["fit-posterior"], 4);
  // The posterior is saved and loaded (every layer's mean and precision), so nothing runs again, and the
  // restored posterior redraws the same T nets: the same scores, the same picks.
  assertEquals(second.executed, {});
  assertEquals(second.records.map((r) => [r.accuracy, r.acquired]), first.records.map((r) => [r.accuracy, r.acquired]));
});

Deno.test("Bayes-by-backprop on a net with a Gaussian last layer: runs, caches, reproduces", async () => {
  const layers = tiny.model.layers.map((l, i) =>
    i === tiny.model.layers.length - 1 ? { ...l, bayesian: { priorStd: 1, rhoInit: -3, rhoInitStd: 0.1 } } : l
  );
  const [first, second] = await runTwice({
    model: { ...tiny.model, layers },
    acquisitions: [],
    rounds: 1,
    strategies: [
      { posterior: { name: "bayes-by-backprop", samples: 8 }, score: "bald", acquire: top10 },
      {
        posterior: { name: "bayes-by-backprop", samples: 8, consistent: true },
        score: "bald",
        acquire: top10,
        name: "bald-consistent",
      },
    ],
  });
  assertEquals(first.records.map((r) => r.acquired.length), [10, 0, 10, 0]);
  for (const r of first.records) assert(r.accuracy > 0.3 && Number.isFinite(r.nll), `accuracy ${r.accuracy}`);
  assertEquals(second.executed, {});
  assertEquals(second.records.map((r) => r.acquired), first.records.map((r) => r.acquired));
});

Deno.test("a hybrid preset by name decodes to the preset's spec", () => {
  const { model: _m, ...rest } = tiny;
  const d = decodeExperiment({ ...rest, model: { preset: "BNN-1", classes: 10, rhoInit: -5 } });
  assert(E.isRight(d), E.isLeft(d) ? d.left.join("\n") : "");
  assertEquals(d.right.model, hybridPreset("BNN-1", 10, [28, 28, 1], { rhoInit: -5 }));
  const bad = decodeExperiment({ ...rest, model: { preset: "BNN-4", classes: 10 } });
  assert(
    E.isLeft(bad) && bad.left.some((p) => p.startsWith("model.preset: expected")),
    String(E.isLeft(bad) && bad.left),
  );
});

Deno.test("a posterior restored from the cache samples like the fitted one (consistent masks keep their seed)", async () => {
  await withTinyMnist(async (dir, run) => {
    const file = await tinyVariant(dir, "exp", {
      acquisitions: [],
      rounds: 1,
      strategies: [{ posterior: { name: "mc-dropout", samples: 6, consistent: true }, score: "bald", acquire: top10 }],
    });
    const first = await run(file, "a");
    // Second run: round 0's net and posterior come from the cache; its scoring, and everything downstream of it
    // (round 1's net and posterior), run again.
    const second = await run(file, "b", { refresh: ["score"] });
    assertEquals(second.hits["fit-posterior"], 1);
    assertEquals(second.executed["score"], 1);
    assertEquals(second.executed["fit-posterior"], 1);
    assertEquals(
      second.records.map((r) => [r.accuracy, r.acquired]),
      first.records.map((r) => [r.accuracy, r.acquired]),
    );
  });
});
