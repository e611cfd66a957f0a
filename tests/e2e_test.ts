/**
 * End-to-end: a tiny AL experiment through the real CLI code path, on MNIST
 * files generated in the IDX format (and on the real MNIST when available).
 */
import { assert, assertEquals } from "./asserts.ts";
import { runExperimentCommand } from "../pipeline/cli/cli.ts";
import { readRounds } from "../pipeline/run/results.ts";
import { realDataDir } from "../pipeline/data/testutil.ts";
import { writeTinyMnist } from "./fixtures.ts";

const deno = Deno.execPath();

Deno.test("a tiny experiment runs end to end, reproducibly, without leaking tensors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dbal-e2e-" });
  try {
    const checksums = await writeTinyMnist(`${dir}/data`, 300, 100);
    const run = (out: string, cache = "cache") =>
      runExperimentCommand({
        file: "tests/tiny_mnist.ts",
        backend: "wasm",
        dataDir: `${dir}/data`,
        full: false,
        download: false,
        checksums,
        out: `${dir}/${out}`,
        cacheDir: `${dir}/${cache}`,
        noCache: false,
        refresh: [],
        dryRun: false,
      });
    const first = await run("a");
    const records = first.records;
    // 2 acquisition functions x 1 seed x (2 rounds + the initial one).
    assertEquals(records.length, 6);
    for (const acq of ["bald", "random"]) {
      const rs = records.filter((r) => r.acquisition === acq);
      assertEquals(rs.map((r) => r.labelled), [20, 30, 40]);
      assertEquals(rs.map((r) => r.acquired.length), [10, 10, 0]);
      const acquired = rs.flatMap((r) => r.acquired);
      assertEquals(new Set(acquired).size, acquired.length, "an item was acquired twice");
      assert(acquired.every((i) => Number.isInteger(i) && i >= 0 && i < 300));
      // Tensor count at the start of every round is the same: nothing leaks across rounds.
      assertEquals(new Set(rs.map((r) => r.numTensors)).size, 1);
      for (const r of rs) assert(r.accuracy >= 0 && r.accuracy <= 1 && Number.isFinite(r.nll));
    }
    // The synthetic classes are easy: 40 labels must beat chance (10%) by far.
    const last = records.filter((r) => r.labelled === 40);
    assert(last.every((r) => r.accuracy > 0.5), `accuracy too low: ${last.map((r) => r.accuracy)}`);
    // Bayesian and random acquisition choose different items.
    assert(
      JSON.stringify(records[0]!.acquired) !== JSON.stringify(records[3]!.acquired),
      "BALD and random picked the same items",
    );
    // Files a person and a program can read.
    assertEquals(await readRounds(`${dir}/a/rounds.jsonl`), JSON.parse(JSON.stringify(records)));
    const summary = await Deno.readTextFile(`${dir}/a/summary.md`);
    assert(summary.includes("| bald |") && summary.includes("| random |"), summary);
    assert((await Deno.readTextFile(`${dir}/a/learning-curve.svg`)).startsWith("<svg"));
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/a/meta.json`));
    assertEquals(meta.backend, "wasm");
    // `deno task report` regenerates the same summary and plot from the JSONL.
    const svg = await Deno.readTextFile(`${dir}/a/learning-curve.svg`);
    await Deno.remove(`${dir}/a/summary.md`);
    await Deno.remove(`${dir}/a/learning-curve.svg`);
    const report = await new Deno.Command(deno, {
      args: ["run", "-A", "pipeline/cli/report.ts", `${dir}/a`],
      stderr: "piped",
    })
      .output();
    assertEquals(report.code, 0, new TextDecoder().decode(report.stderr));
    assertEquals(await Deno.readTextFile(`${dir}/a/summary.md`), summary);
    assertEquals(await Deno.readTextFile(`${dir}/a/learning-curve.svg`), svg);
    // Rerun on the same cache: no stage executes, every result is identical.
    const second = await run("b");
    assertEquals(second.executed, {});
    // Only what the records need is restored: the acquisitions, not the scores or posteriors behind them.
    assertEquals(second.hits, { "warm-start": 2, "retrain": 6, "evaluate": 6, "acquire": 4 });
    assertEquals(second.records.map((r) => r.acquired), records.map((r) => r.acquired));
    assertEquals(second.records.map((r) => r.accuracy), records.map((r) => r.accuracy));
    // Same seed, same backend, fresh cache: the same acquired items and accuracies.
    const third = await run("c", "cache2");
    assertEquals(third.records.map((r) => r.acquired), records.map((r) => r.acquired));
    assertEquals(third.records.map((r) => r.accuracy), records.map((r) => r.accuracy));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad YAML experiment is rejected before any work, naming every field", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dbal-bad-" });
  try {
    await Deno.writeTextFile(
      `${dir}/bad.yaml`,
      [
        "name: bad",
        "dataset: mnits",
        "initialPerClass: 2",
        "acquireSize: 10",
        "acquisitions: [bald, entropyy]",
        "rounds: -3",
        "poolSubset: 100",
        "testSubset: 100",
        "mcSamples: 5",
        "seeds: [0]",
        "train: { epochs: 1, batchSize: 8, learningRate: 0.001, weightDecay: 0, init: scratch }",
        "acquisiton: random",
        "strategies: [{ posterior: { name: mc-dropout, samples: 2 }, score: baldd, acquire: { name: top-k, k: 1 } }]",
        "",
      ].join("\n"),
    );
    const out = await new Deno.Command(deno, {
      args: ["run", "-A", "pipeline/cli/cli.ts", `${dir}/bad.yaml`, "--out", `${dir}/out`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 2, err);
    const expected = [
      "line 2: dataset",
      "line 5: acquisitions.1",
      "line 6: rounds",
      "line 1: model: required field is missing",
      "line 12: acquisiton: unknown field",
      'line 13: strategies.0.score: unknown score "baldd"',
    ];
    for (const text of expected) {
      assert(err.includes(`bad.yaml: ${text}`), `stderr does not name "${text}":\n${err}`);
    }
    let wrote = true;
    await Deno.stat(`${dir}/out`).catch(() => (wrote = false));
    assert(!wrote, "a rejected config must not start work");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad TypeScript experiment is rejected with every field path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dbal-bad-ts-" });
  try {
    const { default: tiny } = await import("./tiny_mnist.ts");
    const bad = { ...tiny, mcSamples: 0, seeds: "0", train: { ...tiny.train, epochs: 2.5 }, posterior: "mc" };
    await Deno.writeTextFile(`${dir}/bad.ts`, `export default ${JSON.stringify(bad)};\n`);
    const out = await new Deno.Command(deno, {
      args: ["run", "-A", "pipeline/cli/cli.ts", `${dir}/bad.ts`, "--out", `${dir}/out`],
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 2, err);
    for (
      const text of [
        "mcSamples: expected an integer >= 1",
        "seeds: expected",
        "train.epochs: expected an integer >= 1",
        "posterior: unknown field",
      ]
    ) {
      assert(err.includes(`bad.ts: ${text}`), `stderr does not name "${text}":\n${err}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const real = realDataDir("mnist/t10k-labels-idx1-ubyte.gz");
Deno.test({
  name: "the tiny experiment runs on the real MNIST through the command line",
  ignore: real === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "dbal-real-" });
    try {
      const out = await new Deno.Command(deno, {
        args: [
          "run",
          "-A",
          "pipeline/cli/cli.ts",
          "tests/tiny_mnist.ts",
          "--data-dir",
          real!,
          "--out",
          dir,
          "--cache-dir",
          `${dir}/cache`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(out.stderr);
      assertEquals(out.code, 0, err);
      assert(/backend wasm/.test(err) && /round 2\/2/.test(err), err);
      const records = await readRounds(`${dir}/rounds.jsonl`);
      assertEquals(records.length, 6);
      assert(records.every((r) => r.accuracy > 0.1), "real MNIST accuracy at chance level");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
