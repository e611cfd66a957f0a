import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as E from "fp-ts/Either.js";
import { runExperimentCommand } from "../cli.ts";
import { assert, assertEquals } from "../../tests/asserts.ts";
import { openStore } from "../cache/mod.ts";
import { makeProgress } from "../progress.ts";
import { makeRng } from "../rng.ts";
import { withTempDir, writeTree } from "../data/testutil.ts";
import {
  decodeTextExperiment,
  isTextExperiment,
  runTextExperiment,
  textExperiment,
  type TextExperimentConfig,
  type TextRoundRecord,
} from "./experiment.ts";

tf.enableProdMode();
await tf.setBackend("cpu");

// ---- Tiny data sets in the real file formats ----

const VOCAB: Record<string, string[]> = {
  grain: ["grain", "harvest", "tonnes", "maize", "crop"],
  wheat: ["wheat", "flour", "bushels", "durum", "mill"],
  crude: ["crude", "oil", "barrel", "opec", "refinery"],
  ship: ["ship", "port", "vessel", "cargo", "tanker"],
};
const FILLER = ["the", "said", "in", "reuter", "market", "a", "of", "year"];

function words(rng: ReturnType<typeof makeRng>, topics: readonly string[], n: number): string {
  const out: string[] = [];
  for (let k = 0; k < n; k++) {
    const pickTopic = rng.next() < 0.5;
    const list = pickTopic ? VOCAB[topics[rng.int(topics.length)]!]! : FILLER;
    out.push(list[rng.int(list.length)]!);
  }
  return out.join(" ");
}

/** 22 Reuters SGML files: 60 TRAIN and 30 TEST stories with 1-2 topics each, in reut2-000. */
function reutersFiles(): Record<string, string> {
  const rng = makeRng(5);
  const names = Object.keys(VOCAB);
  let sgml = '<!DOCTYPE lewis SYSTEM "lewis.dtd">\n';
  for (let id = 1; id <= 90; id++) {
    const first = names[rng.int(names.length)]!;
    const topics = rng.next() < 0.3 ? [...new Set([first, names[rng.int(names.length)]!])] : [first];
    const split = id <= 60 ? "TRAIN" : "TEST";
    sgml += `<REUTERS TOPICS="YES" LEWISSPLIT="${split}" CGISPLIT="TRAINING-SET" OLDID="${id}" NEWID="${id}">\n` +
      `<TOPICS>${topics.map((t) => `<D>${t}</D>`).join("")}</TOPICS>\n` +
      `<TEXT>&#2;\n<TITLE>${words(rng, topics, 4).toUpperCase()}</TITLE>\n` +
      `<BODY>${words(rng, topics, 20)}\n Reuter\n&#3;</BODY></TEXT>\n</REUTERS>\n`;
  }
  const files: Record<string, string> = {};
  for (let i = 0; i < 22; i++) {
    files[`reuters21578/reut2-${String(i).padStart(3, "0")}.sgm`] = i === 0
      ? sgml
      : '<!DOCTYPE lewis SYSTEM "lewis.dtd">\n';
  }
  return files;
}

/** TREC label files: 60 train and 30 test questions of three coarse classes. */
function trecFiles(): Record<string, string> {
  const rng = makeRng(6);
  const kinds = [
    ["LOC:city", "What city is the capital of", ["france", "peru", "kenya", "chile"]],
    ["NUM:count", "How many people live in", ["rome", "oslo", "lima", "cairo"]],
    ["HUM:ind", "Who wrote the novel", ["dune", "emma", "ulysses", "beloved"]],
  ] as const;
  const lines = (n: number) =>
    Array.from({ length: n }, () => {
      const [label, stem, objects] = kinds[rng.int(kinds.length)]!;
      return `${label} ${stem} ${objects[rng.int(objects.length)]} ?`;
    }).join("\n") + "\n";
  return { "trec/train_5500.label": lines(60), "trec/TREC_10.label": lines(30) };
}

function tinyConfig(dataset: "reuters" | "trec"): TextExperimentConfig {
  const decoded = decodeTextExperiment(textExperiment({
    name: `tiny-${dataset}`,
    dataset,
    initialLabelled: 10,
    acquireSize: 5,
    rounds: 2,
    seeds: [0, 1],
    encoder: { buckets: 512, maxTokens: 50, dim: 8, hidden: 8, epochs: 3, batchSize: 8, learningRate: 0.05 },
    head: { samples: 4, priorPrecision: 1, epochs: 5 },
    strategies: [
      { name: "random", bayesian: false, score: "random" },
      { name: "entropy", bayesian: false, score: "entropy" },
      { name: "margin", bayesian: false, score: "margin" },
      { name: "bald-vogn", bayesian: true, score: "bald" },
      { name: "top-u-vogn", bayesian: true, score: "top-u", u: 2 },
    ],
    poolSubset: 30,
    testSubset: 20,
  }));
  if (E.isLeft(decoded)) throw new Error(decoded.left.join("\n"));
  return decoded.right;
}

Deno.test("decodeTextExperiment reports bad fields with their paths", () => {
  const bad = decodeTextExperiment({ ...textExperiment({ ...tinyConfig("trec"), rounds: -1 as number }) });
  assert(E.isLeft(bad) && bad.left.some((m) => m.startsWith("rounds")), JSON.stringify(bad));
  const noPosterior = decodeTextExperiment({
    ...tinyConfig("trec"),
    strategies: [{ name: "b", bayesian: false, score: "bald" }],
  });
  assert(E.isLeft(noPosterior) && /needs posterior samples/.test(noPosterior.left.join()));
  assert(isTextExperiment(tinyConfig("reuters")));
  assert(!isTextExperiment({ name: "mnist" }));
});

function checkRecords(records: readonly TextRoundRecord[], config: TextExperimentConfig): void {
  assertEquals(records.length, config.strategies.length * config.seeds.length * (config.rounds + 1));
  const runs = new Map<string, TextRoundRecord[]>();
  for (const r of records) runs.set(`${r.strategy}/${r.seed}`, [...(runs.get(`${r.strategy}/${r.seed}`) ?? []), r]);
  for (const [run, rs] of runs) {
    const acquired = rs.flatMap((r) => r.acquired);
    assertEquals(new Set(acquired).size, acquired.length, `${run}: an item was acquired twice`);
    assertEquals(acquired.length, config.rounds * config.acquireSize);
    rs.forEach((r, k) => assertEquals(r.labelled, config.initialLabelled + k * config.acquireSize));
    assertEquals(rs.at(-1)?.acquired.length, 0);
  }
  for (const r of records) {
    for (const m of [r.top1, r.top5, r.recall, r.microF1, r.macroF1]) assert(m >= 0 && m <= 1, `${m} out of [0, 1]`);
    assert(r.top5 >= r.top1);
    assertEquals(r.numTensors, records[0]!.numTensors, "tensors leaked between rounds");
  }
}

const strip = (r: TextRoundRecord) => ({ ...r, seconds: {}, cacheHits: [] });

for (const dataset of ["reuters", "trec"] as const) {
  Deno.test(`runTextExperiment runs ${dataset} end to end, then fully from the cache`, async () => {
    await withTempDir(async (root) => {
      await writeTree(root, dataset === "reuters" ? reutersFiles() : trecFiles());
      const store = await openStore(`${root}/cache`);
      const config = tinyConfig(dataset);
      const opts = {
        dataDir: root,
        download: false,
        checksums: "skip" as const,
        store,
        progress: makeProgress("test", () => {}),
        backend: tf.getBackend(),
      };
      const before = tf.memory().numTensors;
      const first = await runTextExperiment(config, { ...opts, out: `${root}/out1` });
      checkRecords(first.records, config);
      // Round 0 of every strategy with the same seed shares the warm start and the encoder.
      assertEquals(first.stats.executed["warm-start"], config.seeds.length);
      assert((first.stats.hits["retrain"] ?? 0) >= (config.strategies.length - 1) * config.seeds.length);
      for (const f of ["rounds.jsonl", "summary.md", "learning-curve.svg", "meta.json"]) {
        assert((await Deno.stat(`${root}/out1/${f}`)).size > 0, f);
      }
      const lines = (await Deno.readTextFile(`${root}/out1/rounds.jsonl`)).trim().split("\n");
      assertEquals(lines.length, first.records.length);
      const summary = await Deno.readTextFile(`${root}/out1/summary.md`);
      assert(summary.includes("| bald-vogn | 20 |"), summary);

      const second = await runTextExperiment(config, { ...opts, out: `${root}/out2` });
      assertEquals(Object.values(second.stats.executed).reduce((a, b) => a + b, 0), 0, "a stage ran again");
      assertEquals(second.records.map(strip), first.records.map(strip));
      assertEquals(tf.memory().numTensors, before);
    });
  });
}

/** The example at a tiny size: 10 labels, one round of 5, one seed, small encoder and head. */
function tinyExample(config: TextExperimentConfig): TextExperimentConfig {
  const tiny = tinyConfig(config.dataset as "reuters" | "trec");
  return {
    ...config,
    ...tiny,
    name: config.name,
    strategies: config.strategies,
    seeds: tiny.seeds.slice(0, 1),
    rounds: 1 as TextExperimentConfig["rounds"],
  };
}

for (const exportName of ["default", "trec"]) {
  Deno.test(`examples/text-multilabel.ts (${exportName} export) runs end to end at a tiny size through the CLI`, async () => {
    await withTempDir(async (root) => {
      await writeTree(root, { ...reutersFiles(), ...trecFiles() });
      const result = await runExperimentCommand({
        file: "examples/text-multilabel.ts",
        backend: "wasm",
        dataDir: root,
        full: false,
        download: false,
        checksums: "skip",
        out: `${root}/out`,
        cacheDir: `${root}/cache`,
        noCache: false,
        refresh: [],
        dryRun: false,
        ...(exportName === "default" ? {} : { exportName }),
        adjustText: tinyExample,
      });
      const lines = (await Deno.readTextFile(`${result.outDir}/rounds.jsonl`)).trim().split("\n");
      const records = lines.map((l) => JSON.parse(l) as TextRoundRecord);
      // Every strategy of the example ran rounds 0 and 1.
      const strategies = new Set(records.map((r) => r.strategy));
      assertEquals(records.length, 2 * strategies.size);
      assert(strategies.size >= 5, [...strategies].join());
      assert((result.executed["retrain"] ?? 0) >= 1);
    });
  });
}
