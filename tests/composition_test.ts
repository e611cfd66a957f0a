/**
 * Composition through the real command-line path: a user's stage placed
 * between score and acquire, cached on its own key; a round of another
 * shape written in a user's file; and a wrong composition rejected by
 * `deno check`.
 */
import * as E from "fp-ts/Either.js";
import { assert, assertEquals } from "./asserts.ts";
import { withTinyMnist } from "./fixtures.ts";
import { dropNearLabelled } from "../examples/near-duplicates.ts";
import type { Scored } from "../mod.ts";

const root = new URL("../", import.meta.url);
const url = (path: string) => new URL(path, root).href;

Deno.test("the near-duplicate filter drops exactly the candidates within eps of a labelled embedding", async () => {
  const scored: Scored = {
    candidates: [5, 6, 7, 8],
    scores: Float64Array.from([0.1, 0.2, 0.3, 0.4]),
    // Distances to the one labelled item (0, 0.2): 0.2, 3.01, 0.58, 1.0 (on the boundary, kept: "within" is strict).
    embeddings: { data: Float32Array.from([0, 0, 3, 0, 0.5, 0.5, 0, 1.2]), d: 2 },
    labelledEmbeddings: { data: Float32Array.from([0, 0.2]), d: 2 },
  };
  const out = await dropNearLabelled(1).run({ scored }, { progress: () => {}, warn: () => {} })();
  assert(E.isRight(out), JSON.stringify(out));
  assertEquals(out.right.candidates, [6, 8]);
  assertEquals([...out.right.scores], [0.2, 0.4]);
  assertEquals([...(out.right.embeddings?.data ?? [])], [3, 0, 0, 1.2000000476837158]);
  // Without the embeddings it fails with a message, as a value.
  const bare = await dropNearLabelled(1).run({ scored: { candidates: [1], scores: Float64Array.from([1]) } }, {
    progress: () => {},
    warn: () => {},
  })();
  assert(E.isLeft(bare) && bare.left.message.includes("embeddings"));
});

/** A user's experiment file: the tiny net, BALD with the filter of examples/near-duplicates.ts between score and acquire. */
const filteredExperiment = `
import { bald, builtinImages, composeExperiment, imageRound, loop, mcDropout, netSpecModel, source, step, strategy,
  topK, warmStartState } from "${url("mod.ts")}";
import { dropNearLabelled } from "${url("examples/near-duplicates.ts")}";
import tiny from "${url("tests/tiny_mnist.ts")}";

export default composeExperiment({
  name: "filtered",
  load: source(builtinImages("mnist")),
  runs: ({ data, value }) => [loop({
    label: { curve: "bald-filtered", seed: 0 },
    start: warmStartState(data, 2, value.classes, 0),
    round: imageRound({
      data, model: netSpecModel(tiny.model, tiny.train), seed: 0, classes: value.classes,
      strategy: strategy({ posterior: mcDropout({ samples: 5 }), score: bald, acquire: topK(10) }),
      poolSubset: 100, testSubset: 100,
      keep: ["embeddings", "labelledEmbeddings"],
      between: (scored) => step(dropNearLabelled(1e-3), { scored }),
    }),
    rounds: 2,
  })],
});
`;

Deno.test("a user's stage between score and acquire runs through the CLI, cached on its own key", async () => {
  await withTinyMnist(async (dir, run) => {
    await Deno.writeTextFile(`${dir}/filtered.ts`, filteredExperiment);
    const first = await run(`${dir}/filtered.ts`, "a");
    assertEquals(first.records.map((r) => [r.round, r.labelled, r.acquired.length]), [[0, 20, 10], [1, 30, 10], [
      2,
      40,
      0,
    ]]);
    assertEquals(first.executed["filter"], 2);
    // A rerun executes nothing.
    const second = await run(`${dir}/filtered.ts`, "b");
    assertEquals(second.executed, {});
    assertEquals(second.records.map((r) => r.acquired), first.records.map((r) => r.acquired));
    // Recomputing the acquisitions (and what follows them) restores round 0's filter output from its own cache
    // entry, so round 0's score is not needed; round 1 is downstream of round 0's acquisition and runs again.
    const third = await run(`${dir}/filtered.ts`, "c", { refresh: ["acquire"] });
    assertEquals(third.hits["filter"], 1);
    assertEquals(third.executed["filter"], 1);
    assertEquals(third.executed["score"], 1);
    assertEquals(third.executed["acquire"], 2);
    assertEquals(third.records.map((r) => r.acquired), first.records.map((r) => r.acquired));
    // The dry run lists the filter between score and acquire, every step a hit.
    const lines: string[] = [];
    const log = console.log;
    console.log = (text: string) => lines.push(text);
    try {
      await run(`${dir}/filtered.ts`, "d", { dryRun: true });
    } finally {
      console.log = log;
    }
    const plan = lines.join("\n");
    assert(/score\/bald[\s\S]*filter\/near-labelled[\s\S]*acquire\/top-k/.test(plan), plan);
    assert(/\d+ hit\(s\), 0 to run/.test(plan), plan);
    // The dry run checks entries, not only their presence: a truncated file shows as damaged.
    const bins: string[] = [];
    for await (const shard of Deno.readDir(`${dir}/cache`)) {
      if (!/^[0-9a-f]{2}$/.test(shard.name)) continue;
      for await (const entry of Deno.readDir(`${dir}/cache/${shard.name}`)) {
        for await (const f of Deno.readDir(`${dir}/cache/${shard.name}/${entry.name}`)) {
          if (f.name.endsWith(".bin")) bins.push(`${dir}/cache/${shard.name}/${entry.name}/${f.name}`);
        }
      }
    }
    assert(bins.length > 0);
    for (const bin of bins) await Deno.truncate(bin, 1);
    lines.length = 0;
    console.log = (text: string) => lines.push(text);
    try {
      await run(`${dir}/filtered.ts`, "e", { dryRun: true });
    } finally {
      console.log = log;
    }
    assert(/damaged entry/.test(lines.join("\n")) && !/ 0 to run/.test(lines.join("\n")), lines.join("\n"));
  });
});

/** The talk's procedure (examples/select-once.ts) at a tiny size. */
const selectOnceTiny = `
import { selectOnce } from "${url("examples/select-once.ts")}";
import tiny from "${url("tests/tiny_mnist.ts")}";
export default selectOnce({
  model: tiny.model, perClass: 2, second: 30, epochs: [5, 3], poolSubset: 200, testSubset: 100, seeds: [0],
});
`;

Deno.test("a round of another shape in a user's file: train, select once, continue training on the selection", async () => {
  await withTinyMnist(async (dir, run) => {
    await Deno.writeTextFile(`${dir}/select.ts`, selectOnceTiny);
    const first = await run(`${dir}/select.ts`, "a");
    for (const curve of ["bald", "random"]) {
      const rs = first.records.filter((r) => r.acquisition === curve);
      // Round 0 on 20 labels acquires 30 at once; round 1 continues on those 30 (50 labels in all) and ends.
      assertEquals(rs.map((r) => [r.round, r.labelled, r.acquired.length]), [[0, 20, 30], [1, 50, 0]]);
      assert(rs.every((r) => r.accuracy > 0.1), `${curve}: ${rs.map((r) => r.accuracy)}`);
    }
    // Two retrains and two posteriors per curve, the first round's net shared by both curves.
    assertEquals(first.executed["retrain"], 3);
    const again = await run(`${dir}/select.ts`, "b");
    assertEquals(again.executed, {});
  });
});

Deno.test("a wrong composition (scores fed where a labelled set is expected) fails deno check", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dbal-wrong-" });
  try {
    const file = `${dir}/wrong.ts`;
    await Deno.writeTextFile(
      file,
      `import { acquireStage, builtinImages, labelledSetStage, source, step, topK, warmStartStage } from "${
        url("mod.ts")
      }";
const data = source(builtinImages("mnist"));
const labelled = step(warmStartStage(2, 0), { data });
// Right: a labelled set and acquired items make the next labelled set.
const picked = step(acquireStage(topK(10), 0), { scored: labelled });
export const next = step(labelledSetStage(), { labelled, acquired: picked });
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--config", new URL("deno.json", root).pathname, file],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert(!out.success, "deno check accepted a wrong composition");
    // The error points at the wrong input, and says what was expected.
    assert(/wrong\.ts:5/.test(err) && /Scored|candidates/.test(err), err);
    // The same file with the right input type-checks.
    await Deno.writeTextFile(
      file,
      (await Deno.readTextFile(file)).replace(
        "{ scored: labelled }",
        "{ scored: step(scoreStageOf(), { data, labelled, posterior: undefined as never }) }",
      ).replace("import {", "import { scoreStage, bald,").replace(
        "const data",
        "const scoreStageOf = () => scoreStage(bald, 0, 10);\nconst data",
      ),
    );
    const fixed = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--config", new URL("deno.json", root).pathname, file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(fixed.success, new TextDecoder().decode(fixed.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a preset record and the composition it stands for plan the same cache keys", async () => {
  const { interpret } = await import("../pipeline/run/interpreter.ts");
  const { presetExperiment } = await import("../pipeline/packs/images.ts");
  const { makeProgress } = await import("../pipeline/run/progress.ts");
  const { decodeExperiment, experiment, galCnn, mcDropout, strategy, bald, random, topK } = await import("../mod.ts");
  const composed = (await import("../examples/compose-mnist.ts")).default;
  const posterior = mcDropout({ samples: 20 });
  const record = experiment({
    name: "compose-mnist",
    dataset: "mnist",
    model: galCnn(10),
    initialPerClass: 2,
    strategies: [bald, random].map((score) => strategy({ posterior, score, acquire: topK(10) })),
    rounds: 4,
    poolSubset: 2000,
    testSubset: 1000,
    seeds: [0],
    train: { epochs: 50, batchSize: 32, learningRate: 1e-3, weightDecay: 1e-4, init: "scratch" },
  });
  const decoded = decodeExperiment(record);
  assert(E.isRight(decoded), E.isLeft(decoded) ? decoded.left.join("\n") : "");
  await withTinyMnist(async (dir) => {
    const { writeTinyMnist } = await import("./fixtures.ts");
    const checksums = await writeTinyMnist(`${dir}/data`, 300, 100);
    const plan = async (exp: typeof composed) => {
      const result = await interpret(exp, {
        progress: makeProgress("twin", () => {}),
        env: { backend: "wasm", kernels: "test" },
        refresh: new Set(),
        execute: false,
        scale: { full: false },
        data: { dataDir: `${dir}/data`, download: false, checksums },
      })();
      assert(E.isRight(result), E.isLeft(result) ? result.left.message : "");
      return result.right.plan.map((p) => `${p.run} ${p.name} ${p.key}`);
    };
    const fromPreset = await plan(presetExperiment(decoded.right));
    const fromComposition = await plan(composed);
    // Warm start, then 5 rounds of retrain, fit-posterior, evaluate (+ score, acquire in the first 4), per curve.
    assertEquals(fromPreset.length, 2 * (1 + 5 * 3 + 4 * 2));
    assertEquals(fromComposition, fromPreset);
  });
});

/** A suite of a preset record and the composition it stands for: the second restores everything from the first. */
const mixedSuite = `
import { bald, builtinImages, composeExperiment, experiment, imageRound, loop, mcDropout, netSpecModel, source,
  strategy, suite, topK, warmStartState } from "${url("mod.ts")}";
import tiny from "${url("tests/tiny_mnist.ts")}";

const parts = strategy({ posterior: mcDropout({ samples: 5 }), score: bald, acquire: topK(10) });
const { acquisitions: _a, acquireSize: _s, mcSamples: _m, ...base } = tiny;
export default suite({
  name: "mixed",
  experiments: [
    experiment({ ...base, name: "as-record", strategies: [parts] }),
    composeExperiment({
      name: "as-composition",
      load: source(builtinImages("mnist")),
      runs: ({ data, value }) => [loop({
        label: { curve: parts.name, seed: 0 },
        start: warmStartState(data, 2, value.classes, 0),
        round: imageRound({ data, model: netSpecModel(tiny.model, tiny.train), strategy: parts, seed: 0,
          classes: value.classes, poolSubset: tiny.poolSubset, testSubset: tiny.testSubset }),
        rounds: tiny.rounds,
      })],
    }),
  ],
});
`;

Deno.test("a suite holds preset records and composed experiments; the composition reuses the record's stages", async () => {
  await withTinyMnist(async (dir, run) => {
    await Deno.writeTextFile(`${dir}/mixed.ts`, mixedSuite);
    const result = await run(`${dir}/mixed.ts`, "mixed");
    const records = result.records;
    const asRecord = records.filter((r) => r.experiment === "as-record");
    const asComposition = records.filter((r) => r.experiment === "as-composition");
    assertEquals(asRecord.length, 3);
    assertEquals(asComposition.map((r) => [r.accuracy, r.acquired]), asRecord.map((r) => [r.accuracy, r.acquired]));
    const reuse = JSON.parse(await Deno.readTextFile(`${dir}/mixed/reuse.json`));
    assertEquals(reuse[1].experiment, "as-composition");
    assertEquals(reuse[1].executed, {});
  });
});
