/**
 * Strategies end to end: user-defined parts through the real CLI code path,
 * the stop conditions, a parameter grid, and tensor lifetimes over 50 rounds.
 */
import * as tf from "@tensorflow/tfjs-core";
import { assert, assertEquals } from "./asserts.ts";
import tiny from "./tiny_mnist.ts";
import { fits } from "./tiny_strategies.ts";
import { tinyVariant, withTinyMnist } from "./fixtures.ts";
import { selectBackend } from "../pipeline/tensor/backend.ts";

Deno.test("user-defined score and posterior plug in; a label budget cuts the last batch", async () => {
  await withTinyMnist(async (_dir, run) => {
    const before = fits.count;
    const first = await run("tests/tiny_strategies.ts", "a");
    for (const name of ["margin", "det-entropy"]) {
      const rs = first.records.filter((r) => r.acquisition === name);
      // Budget 35: 20 -> 30 -> 35, then the run stops although 3 rounds were allowed.
      assertEquals(rs.map((r) => r.labelled), [20, 30, 35], name);
      assertEquals(rs.map((r) => r.acquired.length), [10, 5, 0], name);
      const all = rs.flatMap((r) => r.acquired);
      assertEquals(new Set(all).size, all.length);
    }
    // The deterministic posterior brings no save/load: fitted once per round. A rerun needs no posterior at all
    // (the evaluations and acquisitions it feeds are cached), so it fits none and executes nothing.
    assertEquals(fits.count - before, 3);
    const second = await run("tests/tiny_strategies.ts", "b");
    assertEquals(fits.count - before, 3);
    assertEquals(second.executed, {});
    assertEquals(second.records.map((r) => r.acquired), first.records.map((r) => r.acquired));
    assertEquals(second.records.map((r) => r.accuracy), first.records.map((r) => r.accuracy));
  });
});

Deno.test("a target accuracy stops a run after the round that reaches it", async () => {
  await withTinyMnist(async (dir, run) => {
    // 1% is below chance (10%): reached at once, so no item is ever acquired.
    const file = await tinyVariant(dir, "acc", { acquisitions: ["random"], stop: { accuracy: 0.01 } });
    const result = await run(file, "acc");
    assertEquals(result.records.map((r) => [r.round, r.labelled, r.acquired.length]), [[0, 20, 0]]);
    assertEquals(result.executed["score"], undefined);
  });
});

Deno.test("a grid runs every variant, sharing the stages its values do not touch", async () => {
  await withTinyMnist(async (dir, run) => {
    const file = await tinyVariant(dir, "grid", {
      acquisitions: ["bald"],
      rounds: 1,
      grid: { "train.epochs": [2, 4], "mcSamples": [3] },
    });
    const result = await run(file, "grid");
    assertEquals(
      result.records.map((r) => [r.variant, r.round]),
      [["train.epochs=2,mcSamples=3", 0], ["train.epochs=2,mcSamples=3", 1], [
        "train.epochs=4,mcSamples=3",
        0,
      ], ["train.epochs=4,mcSamples=3", 1]],
    );
    // The warm start does not depend on training: the second variant reuses it.
    assertEquals(result.executed["warm-start"], 1);
    assertEquals(result.hits["warm-start"], 1);
    assertEquals(result.executed["retrain"], 4);
    const summary = await Deno.readTextFile(`${dir}/grid/summary.md`);
    assert(summary.includes("| bald [train.epochs=4,mcSamples=3] |"), summary);
  });
});

Deno.test("no tensor leaks across 50 rounds, retraining from scratch or from the previous round", async () => {
  await withTinyMnist(async (dir, run) => {
    const file = await tinyVariant(dir, "long", {
      acquisitions: ["bald"],
      acquireSize: 1,
      rounds: 50,
      poolSubset: 10,
      testSubset: 10,
      mcSamples: 2,
      train: { ...tiny.train, epochs: 1 },
      grid: { "train.init": ["scratch", "previous"] },
    });
    await selectBackend("wasm");
    const before = tf.memory().numTensors;
    const result = await run(file, "long", { noCache: true });
    for (const init of ["scratch", "previous"]) {
      const rs = result.records.filter((r) => r.variant === `train.init="${init}"`);
      assertEquals(rs.length, 51);
      assertEquals(rs[50]!.labelled, 70);
      assertEquals(
        rs[50]!.numTensors,
        rs[0]!.numTensors,
        `${init}: tensors at round 50 vs round 0: ${rs.map((r) => r.numTensors)}`,
      );
      assertEquals(new Set(rs.map((r) => r.numTensors)).size, 1, init);
    }
    assertEquals(tf.memory().numTensors, before);
  });
});

Deno.test("ensemble members are cached one by one: growing 2 members to 3 trains only the new one", async () => {
  await withTinyMnist(async (dir, run) => {
    const ensemble = (members: number) => ({
      acquisitions: [],
      strategies: [{ posterior: { name: "ensemble", members }, score: "bald", acquire: { name: "top-k", k: 10 } }],
      rounds: 1,
    });
    const two = await run(await tinyVariant(dir, "two", ensemble(2)), "two");
    assertEquals(two.executed["retrain"], 4); // 2 rounds x 2 members
    // Members differ (own initial weights and data order), so the ensemble disagrees somewhere: BALD picks.
    assertEquals(two.records.map((r) => r.acquired.length), [10, 0]);
    const three = await run(await tinyVariant(dir, "three", ensemble(3)), "three");
    // Round 0: members 1-2 restored, member 3 trained. Round 1 trains on a new labelled set (3 new nets).
    assertEquals(three.hits["retrain"], 2);
    assertEquals(three.executed["retrain"], 1 + 3);
    // A single-net strategy on the same seed reuses member 1 of round 0.
    const single = await run(await tinyVariant(dir, "single", { acquisitions: ["random"], rounds: 1 }), "single");
    assertEquals(single.hits["retrain"], 1);
  });
});
