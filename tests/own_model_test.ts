/**
 * examples/own-model.ts (a user's tf.sequential CNN through `layersModel`)
 * through the real CLI code path on tiny MNIST: it runs, MC dropout samples
 * differ (BALD scores vary), a rerun on the same cache executes nothing, a
 * fresh cache reproduces the acquired items and accuracies, and a wrong
 * model fails when the runs are built.
 */
import { assert, assertEquals, assertRejects } from "./asserts.ts";
import { withTinyMnist } from "./fixtures.ts";
import { openStore } from "../pipeline/run/cache/mod.ts";

/** The arrays of every cache entry of a stage. */
async function entriesOf(cacheDir: string, stage: string) {
  const store = await openStore(cacheDir);
  const out = [];
  for (const key of await store.list()) {
    const meta = JSON.parse(await Deno.readTextFile(`${cacheDir}/${key.slice(0, 2)}/${key}/meta.json`));
    if (meta.stage !== stage) continue;
    const entry = await store.get(key);
    if (entry) out.push(entry);
  }
  return out;
}

Deno.test("examples/own-model.ts: runs through the CLI, MC dropout samples differ, cached rerun, reproducible", async () => {
  await withTinyMnist(async (dir, run) => {
    const file = "examples/own-model.ts";
    const first = await run(file, "a", { rounds: 1 });
    assertEquals(first.records.map((r) => [r.acquisition, r.round, r.labelled]), [
      ["bald", 0, 20],
      ["bald", 1, 30],
      ["random", 0, 20],
      ["random", 1, 30],
    ]);
    for (const r of first.records) assert(r.accuracy > 0 && r.accuracy <= 1 && Number.isFinite(r.nll), `${r.accuracy}`);
    // Both strategies share round 0's model and posterior; round 1 trains one model each.
    assertEquals(first.executed["retrain"], 3);
    const acquired = first.records.flatMap((r) => r.acquired);
    assertEquals(acquired.length, 20);
    assert(JSON.stringify(first.records[0]?.acquired) !== JSON.stringify(first.records[2]?.acquired));
    // The same number of tensors at the start of every round: nothing leaks across rounds.
    assertEquals(new Set(first.records.map((r) => r.numTensors)).size, 1);
    // MC dropout: the 10 samples differ, so BALD (their mutual information) is positive and varies over the pool.
    const [scored] = await entriesOf(`${dir}/cache`, "score/bald");
    const scores = Array.from(scored?.arrays["scores"]?.data ?? []);
    assert(scores.length > 100, `${scores.length} scores`);
    assert(scores.every((s) => Number.isFinite(s) && s >= -1e-6), "a BALD score is negative or not finite");
    assert(new Set(scores.map((s) => s.toFixed(6))).size > scores.length / 2, "BALD scores barely vary");
    assert(Math.max(...scores) > 1e-3, `max BALD ${Math.max(...scores)}: the MC samples are all the same`);

    // Rerun on the same cache: nothing executes, the same records.
    const second = await run(file, "b", { rounds: 1 });
    assertEquals(second.executed, {});
    assertEquals(second.records.map((r) => r.acquired), first.records.map((r) => r.acquired));
    assertEquals(second.records.map((r) => r.accuracy), first.records.map((r) => r.accuracy));

    // A fresh cache: everything is computed again, from the same seeds, with the same results.
    const third = await run(file, "c", { rounds: 1, cacheDir: `${dir}/cache-2` });
    assertEquals(third.executed["retrain"], 3);
    assertEquals(third.records.map((r) => r.acquired), first.records.map((r) => r.acquired));
    assertEquals(third.records.map((r) => r.accuracy), first.records.map((r) => r.accuracy));
    assertEquals(third.records.map((r) => r.nll), first.records.map((r) => r.nll));
  });
});

/** A user's experiment file with a layers model of `units` outputs (and `extra` text at its end). */
function userFile(units: number, extra = ""): string {
  const root = new URL("../", import.meta.url).href;
  return `import * as tf from "@tensorflow/tfjs-layers";
import { builtinImages, composeExperiment, deterministic, imageRound, loop, margin, source, strategy, topK, warmStartState }
  from "${root}mod.ts";
import { imageShape, layersModel, type TrainedLayers } from "${root}pipeline/packs/layers_model.ts";
const model = layersModel(
  () => tf.sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: ${units} })] }),
  { epochs: 1, batchSize: 8, learningRate: 1e-3, weightDecay: 0, init: "scratch" },
);
const s = strategy({ posterior: deterministic(), score: margin, acquire: topK(5) });
export default composeExperiment({
  name: "wrong-model",
  load: source(builtinImages("mnist")),
  runs: ({ data, value }) => [loop({
    label: { curve: s.name, seed: 0 },
    start: warmStartState<TrainedLayers>(data, 1, value.classes, 0),
    round: imageRound({ data, model, strategy: s, seed: 0, classes: value.classes, inputShape: imageShape(value),
      poolSubset: 0, testSubset: 0 }),
    rounds: 1,
  })],
});
${extra}
`;
}

Deno.test("a user's layers model that does not fit the data fails when the runs are built, before any stage", async () => {
  await withTinyMnist(async (dir, run) => {
    const file = `${dir}/wrong-model.ts`;
    await Deno.writeTextFile(file, userFile(7));
    await assertRejects(() => run(file, "w"), /model output has 7 units but the data set has 10 classes/);
    // Nothing ran: no stage wrote to the cache.
    assertEquals(await (await openStore(`${dir}/cache`)).list(), []);
  });
});

Deno.test("editing the user's model file retrains; an unchanged one is restored", async () => {
  await withTinyMnist(async (dir, run) => {
    const file = `${dir}/user-model.ts`;
    await Deno.writeTextFile(file, userFile(10));
    const first = await run(file, "a");
    assertEquals(first.executed["retrain"], 2);
    assertEquals((await run(file, "b")).executed, {});
    // Any edit of the file that defines the model (here a comment) is in the retrain stage's key.
    await Deno.writeTextFile(file, userFile(10, "// edited"));
    const edited = await run(file, "c");
    assertEquals(edited.executed["retrain"], 2);
    // Same model, same seeds: the same results.
    assertEquals(edited.records.map((r) => r.acquired), first.records.map((r) => r.acquired));
    assertEquals(edited.records.map((r) => r.nll), first.records.map((r) => r.nll));
  });
});
