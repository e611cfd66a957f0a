/**
 * The text pack through the real CLI code path, on tiny data in the real
 * formats: the preset record with text data sets, strict codecs and rules,
 * grids, stop rules, suites, `--dry-run`, `deno task report`, cached
 * reruns, the strategy parts of the library on text, users' CSV and JSONL
 * tables, and the text example.
 */
import * as E from "fp-ts/Either.js";
import { assert, assertEquals, assertRejects } from "./asserts.ts";
import { decodeExperiment, type ExperimentConfig } from "../dsl/experiment.ts";
import { textEncoder } from "../dsl/text.ts";
import type { CliResult } from "../pipeline/cli/cli.ts";
import type { RoundRecord } from "../pipeline/run/results.ts";
import { makeRng } from "../pipeline/tensor/rng.ts";
import { textMetrics } from "../pipeline/packs/text.ts";
import { tinyEncoder, tinyText, tinyVogn, TOPICS, topicWords, withTinyText } from "./text_fixtures.ts";

function problems(value: unknown): string[] {
  const d = decodeExperiment(value);
  return E.isLeft(d) ? d.left : [];
}

const topK = (k: number) => ({ name: "top-k", k });

Deno.test("a text preset is the image record with a text data set and a text encoder, strict at every depth", () => {
  assertEquals(problems(tinyText()), []);
  assertEquals(problems(tinyText({ dataset: "reuters" })), []);
  assertEquals(problems(tinyText({ dataset: { table: "reviews.csv", multiLabel: true } })), []);
  // The TypeScript constructor is the YAML form.
  const { kind: _kind, ...sizes } = tinyEncoder;
  const ts = decodeExperiment(tinyText({ model: textEncoder(sizes) }));
  const yaml = decodeExperiment(tinyText());
  assert(E.isRight(ts) && E.isRight(yaml));
  assertEquals(ts.right.model, yaml.right.model);
  // Unknown fields are errors, with their paths and the known fields.
  assertEquals(
    problems(tinyText({ model: { ...tinyEncoder, dimm: 8 }, dataset: { table: "a.csv", multilabel: true } })),
    [
      "dataset.multilabel: unknown field (known fields: table, testPath, multiLabel, textColumn, labelColumn, " +
      "labelSeparator, testFraction)",
      "model.dimm: unknown field (known fields: kind, buckets, maxTokens, dim, hidden, epochs, batchSize, learningRate)",
    ],
  );
  assertEquals(problems(tinyText({ model: { ...tinyEncoder, dim: 0 } })), [
    "model.dim: expected an integer >= 1, got 0",
  ]);
  assertEquals(problems(tinyText({ dataset: "trek" })), [
    "dataset: expected mnist, fashion-mnist, cifar10, trec, trec-fine, reuters, { folder: path }, { npz: path } or " +
    '{ table: path }, got "trek"',
  ]);
});

Deno.test("the rules of a text experiment: encoder, warm start, posteriors, multi-label parts", () => {
  const train = { epochs: 1, batchSize: 8, learningRate: 0.001, weightDecay: 0, init: "scratch" };
  const mc = { posterior: { name: "mc-dropout", samples: 3 }, score: "bald", acquire: topK(5) };
  const found = problems(tinyText({ train, initialPerClass: 2, strategies: [mc] }));
  assertEquals(found, [
    "train: a text encoder has its own epochs, batchSize and learningRate (in model); remove train",
    "initialLabelled: give either initialLabelled (random documents) or initialPerClass (per class), not both",
    "strategies.0.posterior: the text pack fits deterministic or vogn-head over the encoder, not mc-dropout",
  ]);
  const multi = problems(tinyText({
    dataset: "reuters",
    initialLabelled: undefined,
    initialPerClass: 2,
    strategies: [
      { name: "bb", posterior: tinyVogn, score: "bald", acquire: { name: "batch-bald", k: 5 } },
      { name: "ceal", posterior: "deterministic", score: "max-entropy", acquire: topK(5), pseudoLabel: "ceal" },
    ],
  }));
  assertEquals(multi, [
    "initialPerClass: reuters is multi-label, so its warm start is random documents (initialLabelled)",
    "strategies.0.acquire: batch-bald reads logProbs as one categorical distribution, but reuters is multi-label " +
    "(one sigmoid per label)",
    "strategies.1.pseudoLabel: ceal gives each item one class, but reuters is multi-label",
  ]);
  assertEquals(
    problems(tinyText({ strategies: [{ posterior: "deterministic", score: "multilabel-bald", acquire: topK(5) }] })),
    ["strategies.0.score: multilabel-bald scores sigmoid outputs, but trec is single-label"],
  );
  assertEquals(problems(tinyText({ acquisitions: ["bald"], mcSamples: 3, acquireSize: 5 })), [
    "acquisitions: the shorthand samples MC dropout, which the text encoder has not; write strategies " +
    "(posterior deterministic or { name: vogn-head, samples: T })",
  ]);
  // A net on text, an encoder on images.
  const net = {
    inputShape: [28, 28, 1],
    layers: [{ kind: "flatten" }, { kind: "dense", units: 3, activation: "linear" }],
  };
  assert(problems(tinyText({ model: net }))[0]!.startsWith("model: a text data set (trec) needs a text encoder"));
  assertEquals(problems(tinyText({ dataset: "mnist", initialLabelled: undefined, initialPerClass: 2, train })), [
    "model: a text encoder reads text, but mnist is an image data set",
  ]);
  // BatchBALD needs joint samples: the text pack's VOGN head draws the same weights for every document.
  const bb = { posterior: tinyVogn, score: "bald", acquire: { name: "batch-bald", k: 5 } };
  assertEquals(problems(tinyText({ strategies: [bb] })), []);
});

/** Checks what every text run must satisfy. */
function checkRecords(records: readonly RoundRecord[], sizes: readonly number[], runs: number): void {
  assertEquals(records.length, sizes.length * runs);
  const byRun = new Map<string, RoundRecord[]>();
  for (const r of records) {
    const key = `${r.acquisition} ${r.variant ?? ""} ${r.seed}`;
    byRun.set(key, [...(byRun.get(key) ?? []), r]);
  }
  assertEquals(byRun.size, runs);
  for (const [run, rs] of byRun) {
    assertEquals(rs.map((r) => r.labelled), [...sizes], run);
    const acquired = rs.flatMap((r) => r.acquired);
    assertEquals(new Set(acquired).size, acquired.length, `${run}: a document was acquired twice`);
    assertEquals(acquired.length, sizes.at(-1)! - sizes[0]!, run);
    assertEquals(rs.at(-1)?.acquired.length, 0);
  }
  for (const r of records) {
    const m = r.metrics ?? {};
    for (const k of ["top1", "top5", "recall", "microF1", "macroF1"]) {
      assert(m[k]! >= 0 && m[k]! <= 1, `${k} = ${m[k]}`);
    }
    assertEquals(r.accuracy, m["top1"]);
    assert(m["top5"]! >= m["top1"]!);
    assert(Number.isFinite(r.nll) && r.nll > 0, `nll ${r.nll}`);
    assert((r as unknown as Record<string, number>)["encoderDocsPerSecond"]! > 0);
    assertEquals(r.numTensors, records[0]!.numTensors, "tensors leaked between rounds");
  }
}

const strip = (r: RoundRecord) => ({ ...r, seconds: {}, cacheHits: [] });
const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** Runs `f` with console.log captured; returns what it printed and its result. */
async function captured<T>(f: () => Promise<T>): Promise<{ out: string; result: T }> {
  const log = console.log;
  const lines: string[] = [];
  console.log = (...args: unknown[]) => void lines.push(args.join(" "));
  try {
    return { result: await f(), out: lines.join("\n") };
  } finally {
    console.log = log;
  }
}

Deno.test("TREC end to end through the CLI; a rerun executes nothing; deno task report regenerates the summary", async () => {
  await withTinyText(async (dir, run, write) => {
    const file = await write("trec.yaml", tinyText());
    const first = await run(file, "out");
    checkRecords(first.records, [10, 15, 20], 2);
    // Round 0 of both strategies shares the warm start and the encoder.
    assertEquals(first.executed["warm-start"], 1);
    assertEquals(first.hits["retrain"], 1);
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/out/meta.json`));
    assertEquals(meta.modality, "text");
    assertEquals(meta.dataset, "trec");
    const summary = await Deno.readTextFile(`${dir}/out/summary.md`);
    assert(summary.includes("by number of labelled documents"), summary);
    assert(summary.includes("| strategy | labelled | top1 | top5 | recall | microF1 | macroF1 | documents | nll |"));
    assert(/\| bald-vogn \| 20 \| [\d.]+ \| /.test(summary), summary);

    const second = await run(file, "out");
    assertEquals(total(second.executed), 0, JSON.stringify(second.executed));
    assertEquals(second.records.map(strip), first.records.map(strip));
    const rerunSummary = await Deno.readTextFile(`${dir}/out/summary.md`);

    // `deno task report` (pipeline/cli/report.ts) rebuilds the same summary and plot from rounds.jsonl and meta.json.
    const svg = await Deno.readTextFile(`${dir}/out/learning-curve.svg`);
    await Deno.remove(`${dir}/out/summary.md`);
    await Deno.remove(`${dir}/out/learning-curve.svg`);
    const report = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "pipeline/cli/report.ts", `${dir}/out`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(report.success, new TextDecoder().decode(report.stderr));
    assertEquals(await Deno.readTextFile(`${dir}/out/summary.md`), rerunSummary);
    assertEquals(await Deno.readTextFile(`${dir}/out/learning-curve.svg`), svg);
  });
});

Deno.test("a text grid with a label budget, --dry-run first (it runs nothing), then for real", async () => {
  await withTinyText(async (dir, run, write) => {
    const file = await write("grid.yaml", tinyText({ grid: { "model.hidden": [8, 12] }, stop: { labels: 18 } }));
    const dry = await captured(() => run(file, "grid", { dryRun: true }));
    assertEquals(dry.result.records, []);
    assert(dry.out.includes("run random [model.hidden=8] seed 0"), dry.out);
    assert(dry.out.includes("run bald-vogn [model.hidden=12] seed 0"), dry.out);
    for (const stage of ["warm-start/random", "retrain/text-encoder", "fit-posterior/vogn-head", "score/bald"]) {
      assert(dry.out.includes(stage), `${stage} not in the plan:\n${dry.out}`);
    }
    assert(/(^|\n)0 hit\(s\), \d+ to run$/.test(dry.out), dry.out);
    let wrote = true;
    await Deno.stat(`${dir}/grid`).catch(() => (wrote = false));
    assert(!wrote, "a dry run wrote results");

    const real = await run(file, "grid");
    // 10 labels, +5, then the last batch cut to the budget of 18.
    checkRecords(real.records, [10, 15, 18], 4);
    assertEquals(new Set(real.records.map((r) => r.variant)), new Set(["model.hidden=8", "model.hidden=12"]));
    const again = await captured(() => run(file, "grid", { dryRun: true }));
    assert(/\n\d+ hit\(s\), 0 to run$/.test(again.out), again.out);
  });
});

Deno.test("a suite of text experiments reuses what the second does not change", async () => {
  await withTinyText(async (dir, run, write) => {
    const base = tinyText({ name: "base" });
    const more = tinyText({
      name: "more",
      strategies: [
        ...(base["strategies"] as unknown[]),
        { name: "margin", posterior: "deterministic", score: "margin", acquire: topK(5) },
      ],
    });
    const file = await write("suite.yaml", { _tag: "suite", name: "text-suite", experiments: [base, more] });
    const result = await run(file, "suite");
    const reuse = JSON.parse(await Deno.readTextFile(`${dir}/suite/reuse.json`)) as {
      experiment: string;
      executed: Record<string, number>;
      restored: Record<string, number>;
    }[];
    assertEquals(reuse.map((r) => r.experiment), ["base", "more"]);
    // The second experiment runs only the new strategy's stages past round 0.
    const [, second] = reuse;
    assertEquals(second?.restored["warm-start"], 3);
    assert((second?.restored["retrain"] ?? 0) >= 7, JSON.stringify(second));
    assertEquals(second?.executed["retrain"], 2, JSON.stringify(second));
    assertEquals(result.records.length, 2 * 3 + 3 * 3);
  });
});

Deno.test("BatchBALD, BADGE, core-set, CEAL and a user's score run on text", async () => {
  await withTinyText(async (dir, run, write) => {
    const lib = (p: string) => new URL(`../${p}`, import.meta.url).href;
    const file = await write(
      "parts.ts",
      `import { experiment } from "${lib("dsl/experiment.ts")}";
import { badge, batchBald, ceal, coreSet, defineScore, deterministic, maxEntropy, random, strategy, topK, vognHead }
  from "${lib("dsl/strategy.ts")}";
import { textEncoder } from "${lib("dsl/text.ts")}";

/** The documents whose top class is least sure (1 - max p), by hand. */
const unsure = defineScore({
  name: "unsure",
  fn: (lp) => {
    const out = new Float64Array(lp.n);
    for (let i = 0; i < lp.n; i++) {
      let best = 0;
      for (let k = 0; k < lp.c; k++) best = Math.max(best, Math.exp(lp.data[i * lp.t * lp.c + k]));
      out[i] = 1 - best;
    }
    return out;
  },
});
const vogn = vognHead({ samples: 4, epochs: 5 });
const det = deterministic();
export default experiment({
  name: "parts",
  dataset: "trec",
  model: textEncoder(${JSON.stringify((({ kind: _k, ...r }) => r)(tinyEncoder))}),
  initialPerClass: 3,
  rounds: 2,
  seeds: [0],
  poolSubset: 40,
  testSubset: 30,
  strategies: [
    strategy({ name: "batch-bald", posterior: vogn, score: maxEntropy, acquire: batchBald(5) }),
    strategy({ name: "badge", posterior: det, score: random, acquire: badge(5) }),
    strategy({ name: "core-set", posterior: det, score: random, acquire: coreSet(5) }),
    strategy({ name: "ceal", posterior: det, score: maxEntropy, acquire: topK(5), pseudoLabel: ceal({ delta: 1.2 }) }),
    strategy({ name: "unsure", posterior: det, score: unsure, acquire: topK(5) }),
  ],
});
`,
    );
    const result = await run(file, "parts");
    // A balanced warm start of 3 per class (3 classes).
    checkRecords(result.records, [9, 14, 19], 5);
    const ceal = result.records.filter((r) => r.acquisition === "ceal");
    // δ0 = 1.2 nats is above ln 3: every scored candidate not acquired is pseudo-labelled.
    assertEquals(ceal.slice(0, 2).map((r) => r.pseudoLabelled), [35, 35]);
    assert(ceal.every((r, i) => i === 2 || (r.pseudoCorrect ?? -1) >= 0));
    // The pseudo-labels trained round 1's encoder: it differs from the plain entropy run's (none here), and ran.
    assert((result.executed["pseudo-label"] ?? 0) === 2);
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/parts/meta.json`));
    assert(meta.strategies.some((s: string) => s.startsWith("unsure: deterministic -> unsure -> top-k")));
  });
});

Deno.test("Reuters (multi-label): bald and max-entropy run per label; core-set and margin run as they are", async () => {
  await withTinyText(async (dir, run, write) => {
    const file = await write(
      "reuters.yaml",
      tinyText({
        name: "tiny-reuters",
        dataset: "reuters",
        strategies: [
          { name: "bald-vogn", posterior: tinyVogn, score: "bald", acquire: topK(5) },
          { name: "entropy", posterior: "deterministic", score: "max-entropy", acquire: topK(5) },
          {
            name: "entropy-max",
            posterior: "deterministic",
            score: { name: "multilabel-entropy", aggregate: "max" },
            acquire: topK(5),
          },
          { name: "difference", posterior: "deterministic", score: "margin", acquire: topK(5) },
          { name: "top-u", posterior: tinyVogn, score: { name: "top-u", u: 1 }, acquire: topK(5) },
          { name: "core-set", posterior: "deterministic", score: "random", acquire: { name: "core-set", k: 5 } },
        ],
      }),
    );
    const result = await run(file, "reuters");
    checkRecords(result.records, [10, 15, 20], 6);
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/reuters/meta.json`));
    assertEquals(meta.strategies.slice(0, 3), [
      "bald-vogn: vogn-head(samples=4, priorPrecision=1, temperature=1, epochs=5, learningRate=0.05, batchSize=32, " +
      'mcSamples=1) -> multilabel-bald(aggregate="sum-per-tag") -> top-k(size=5)',
      'entropy: deterministic -> multilabel-entropy(aggregate="sum-per-tag") -> top-k(size=5)',
      'entropy-max: deterministic -> multilabel-entropy(aggregate="max") -> top-k(size=5)',
    ]);
    const docs = result.records[0]!.metrics?.["documents"];
    assert(docs !== undefined && docs > 0 && docs <= 30);
  });
});

/** A CSV of reviews: 90 rows of three classes (or, multi-label, 1-2 topics joined by "|"). */
function csvTable(multiLabel: boolean): string {
  const rng = makeRng(11);
  const rows = ["text,label"];
  for (let i = 0; i < 90; i++) {
    const first = TOPICS[i % 3]!;
    const topics = multiLabel && rng.next() < 0.3 ? [first, TOPICS[3]!] : [first];
    rows.push(`"${topicWords(rng, topics, 12)}, no. ${i}",${topics.join("|")}`);
  }
  return rows.join("\n") + "\n";
}

/** JSONL rows `{ "body": ..., "tags": [...] }` (multi-label) or `{ "body": ..., "tags": "x" }`. */
function jsonlTable(n: number, seed: number, multiLabel: boolean): string {
  const rng = makeRng(seed);
  return Array.from({ length: n }, (_, i) => {
    const first = TOPICS[i % 3]!;
    const topics = multiLabel && rng.next() < 0.3 ? [first, TOPICS[3]!] : [first];
    return JSON.stringify({ body: topicWords(rng, topics, 12), tags: multiLabel ? topics : first });
  }).join("\n") + "\n";
}

Deno.test("a user's CSV and JSONL tables run end to end, single- and multi-label, relative to the experiment file", async () => {
  await withTinyText(async (dir, run, write) => {
    await Deno.mkdir(`${dir}/exp`);
    await write("exp/reviews.csv", csvTable(false));
    await write("exp/tagged.csv", csvTable(true));
    await write("exp/train.jsonl", jsonlTable(80, 12, true));
    await write("exp/test.jsonl", jsonlTable(30, 13, true));
    await write("exp/single.jsonl", jsonlTable(90, 14, false));
    const cases: [string, Record<string, unknown>, boolean][] = [
      ["csv", { table: "reviews.csv" }, false],
      ["csv-multi", { table: "tagged.csv", multiLabel: true }, true],
      ["jsonl-multi", {
        table: "train.jsonl",
        testPath: "test.jsonl",
        multiLabel: true,
        textColumn: "body",
        labelColumn: "tags",
      }, true],
      ["jsonl", { table: "single.jsonl", textColumn: "body", labelColumn: "tags", testFraction: 0.25 }, false],
    ];
    for (const [name, dataset, multi] of cases) {
      const file = await write(`exp/${name}.yaml`, tinyText({ name, dataset }));
      const result = await run(file, name);
      checkRecords(result.records, [10, 15, 20], 2);
      const meta = JSON.parse(await Deno.readTextFile(`${dir}/${name}/meta.json`));
      assertEquals(meta.dataset, "text-table");
      const scores = meta.strategies[1] as string;
      assert(scores.includes(multi ? "multilabel-bald" : "-> bald ->"), scores);
    }
  });
});

Deno.test("a corrupt table fails naming its file and line", async () => {
  await withTinyText(async (_dir, run, write) => {
    await write("nolabel.csv", csvTable(false).replace("text,label", "text,category"));
    const lines = jsonlTable(40, 15, false).split("\n");
    lines[2] = '{"text": "unfinished';
    await write("bad.jsonl", lines.join("\n"));
    const csv = await write("nolabel.yaml", tinyText({ name: "nolabel", dataset: { table: "nolabel.csv" } }));
    const e1 = await assertRejects(() => run(csv, "nolabel"), /nolabel\.csv/);
    assert(/line 1\) has no "label" column/.test(e1.message), e1.message);
    const jsonl = await write(
      "bad.yaml",
      tinyText({ name: "bad", dataset: { table: "bad.jsonl", textColumn: "body", labelColumn: "tags" } }),
    );
    const e2 = await assertRejects(() => run(jsonl, "bad"), /bad\.jsonl/);
    assert(e2.message.includes("line 3 is not valid JSON"), e2.message);
  });
});

/** The example at a tiny size: 10 labels, one round, one seed, a small encoder and sizes. */
function tinyExample(config: ExperimentConfig): ExperimentConfig {
  return {
    ...config,
    model: tinyEncoder as ExperimentConfig["model"],
    initialLabelled: 10 as ExperimentConfig["rounds"],
    rounds: 1 as ExperimentConfig["rounds"],
    seeds: [0] as ExperimentConfig["seeds"],
    poolSubset: 30 as ExperimentConfig["poolSubset"],
    testSubset: 20 as ExperimentConfig["testSubset"],
  };
}

for (const exportName of ["default", "trec"]) {
  Deno.test(`examples/text-multilabel.ts (${exportName} export) runs at a tiny size through the CLI`, async () => {
    await withTinyText(async (_dir, run) => {
      const result: CliResult = await run("examples/text-multilabel.ts", `out-${exportName}`, {
        ...(exportName === "default" ? {} : { exportName }),
        adjust: tinyExample,
      });
      const strategies = new Set(result.records.map((r) => r.acquisition));
      assertEquals([...strategies], ["random", "entropy", "difference", "bald-vogn", "top-u-vogn"]);
      assertEquals(result.records.length, 2 * strategies.size);
      assert((result.executed["retrain"] ?? 0) >= 1);
    });
  });
}

Deno.test("examples/text-trec.yaml plans exactly the stages of the trec export of examples/text-multilabel.ts", async () => {
  await withTinyText(async (_dir, run) => {
    const plan = async (file: string, exportName?: string) =>
      (await captured(() => run(file, "plan", { dryRun: true, ...(exportName ? { exportName } : {}) }))).out
        .split("\n").filter((l) => !l.startsWith("plan of "));
    const ts = await plan("examples/text-multilabel.ts", "trec");
    // 5 strategies x 2 seeds: the warm start, 4 rounds of retrain, evaluate, score, acquire (and the VOGN head).
    assertEquals(ts.filter((l) => l.startsWith("run ")).length, 10);
    assert(ts.some((l) => l.includes("fit-posterior/vogn-head")));
    assertEquals(await plan("examples/text-trec.yaml"), ts);
  });
});

Deno.test("text metrics: accuracy is top1, and the NLL stays finite when a sigmoid rounds to exactly 1", () => {
  // Two documents, one sample, two labels: log p(on).
  const lp = { data: new Float32Array([0, Math.log(0.25), Math.log(0.5), Math.log(0.5)]), n: 2, t: 1, c: 2 };
  const multi = textMetrics(lp, new Uint8Array([0, 1, 1, 0]), true);
  // Document 0: label 0 is off but p = 1 (floored at 1e-7); label 1 on at 0.25. Document 1: 0.5 and 0.5.
  const expected = (-Math.log(1e-7) - Math.log(0.25) - 2 * Math.log(0.5)) / 2;
  assert(Math.abs(multi["nll"]! - expected) < 1e-6, String(multi["nll"]));
  assertEquals(multi["accuracy"], multi["top1"]);
  // Single-label: log-softmax, the NLL of the class.
  const soft = {
    data: new Float32Array([Math.log(0.75), Math.log(0.25), Math.log(0.4), Math.log(0.6)]),
    n: 2,
    t: 1,
    c: 2,
  };
  const single = textMetrics(soft, new Uint8Array([1, 0, 1, 0]), false);
  assertEquals(single["top1"], 0.5);
  assert(Math.abs(single["nll"]! - (-Math.log(0.75) - Math.log(0.4)) / 2) < 1e-6);
  assertEquals(single["microF1"], single["top1"]);
});
