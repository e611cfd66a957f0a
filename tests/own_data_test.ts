/**
 * A user's own image data through the real command-line path: a folder of
 * PNGs and a NumPy `.npz` archive, each as a YAML preset (`dataset: {
 * folder }` / `{ npz }`, relative to the experiment file) and the folder as
 * a composed experiment (`source(imageFolder(...))`); corrupt data and a
 * model that does not fit the data fail with messages naming the problem.
 */
import { pathExists } from "./fixtures.ts";
import * as E from "fp-ts/Either.js";
import { encode as encodePng } from "fast-png";
import { zipSync } from "fflate";
import { assert, assertEquals, assertRejects } from "./asserts.ts";
import { type CliFlags, type CliResult, runExperimentCommand } from "../pipeline/cli/cli.ts";
import { decodeExperiment, expandGrid } from "../dsl/experiment.ts";
import { imageFolder, npyImages, npzImages, presetImages } from "../pipeline/packs/image_sources.ts";
import { ConfigError, loadRunnable } from "../pipeline/cli/experiment_file.ts";
import { readRounds } from "../pipeline/run/results.ts";
import { listTree } from "../pipeline/data/testutil.ts";
import { makeRng } from "../pipeline/tensor/rng.ts";
import type { ImageData } from "../pipeline/packs/images.ts";
import tiny from "./tiny_mnist.ts";

const root = new URL("../", import.meta.url);

/** Three classes of 8x8 grayscale images: a bright diagonal, left columns or top rows, over faint noise. */
const CLASSES = ["diag", "left", "top"] as const;
const PER_CLASS = 30;

function pattern(k: number, r: number, c: number): boolean {
  return k === 0 ? Math.abs(r - c) <= 1 : k === 1 ? c <= 2 : r <= 2;
}

/** Pixels of image `i` of class `k` (64 bytes). */
function pixels(k: number, i: number): Uint8Array {
  const rng = makeRng(1000 * k + i);
  const out = new Uint8Array(64);
  for (let r = 0; r < 8; r++) {
    for (let c = 0; c < 8; c++) out[r * 8 + c] = pattern(k, r, c) ? 180 + rng.int(76) : rng.int(60);
  }
  return out;
}

const png = (data: Uint8Array) => encodePng({ width: 8, height: 8, data, channels: 1, depth: 8 });

/** Writes the image folder under `dir`: `<class>/<nnn>.png`. */
async function writeImageFolder(dir: string): Promise<void> {
  for (const [k, name] of CLASSES.entries()) {
    await Deno.mkdir(`${dir}/${name}`, { recursive: true });
    for (let i = 0; i < PER_CLASS; i++) {
      await Deno.writeFile(`${dir}/${name}/${String(i).padStart(3, "0")}.png`, png(pixels(k, i)));
    }
  }
}

/** An `.npy` file (format version 1.0), as `pipeline/data/npz_test.ts` writes them. */
function npy(descr: string, shape: readonly number[], data: ArrayBufferView): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  header += " ".repeat((64 - ((10 + header.length + 1) % 64)) % 64) + "\n";
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(10 + header.length + bytes.length);
  out.set([0x93, ..."NUMPY"].map((c) => (typeof c === "number" ? c : c.charCodeAt(0))));
  out[6] = 1;
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  out.set(new TextEncoder().encode(header), 10);
  out.set(bytes, 10 + header.length);
  return out;
}

/** The same images as arrays `images` [N, 8, 8] (uint8) and `labels` [N] (int64), in a deflated `.npz`. */
function npzBytes(labelOf: (i: number, k: number) => number = (_i, k) => k): Uint8Array {
  const n = CLASSES.length * PER_CLASS;
  const x = new Uint8Array(n * 64);
  const y = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % CLASSES.length;
    x.set(pixels(k, Math.floor(i / CLASSES.length)), i * 64);
    y[i] = BigInt(labelOf(i, k));
  }
  return zipSync({ "images.npy": npy("|u1", [n, 8, 8], x), "labels.npy": npy("<i8", [n], y) }, { level: 6 });
}

/** A small dense net for 8x8x1 images with `units` outputs. */
const denseNet = (units = 3) => ({
  inputShape: [8, 8, 1],
  layers: [
    { kind: "flatten" },
    { kind: "dense", units: 32, activation: "relu" },
    { kind: "dropout", rate: 0.25 },
    { kind: "dense", units, activation: "linear" },
  ],
});

/** A small conv net for 8x8x1 images with 3 outputs. */
const convNet = {
  inputShape: [8, 8, 1],
  layers: [
    { kind: "conv2d", filters: 8, kernel: 3, activation: "relu", padding: "valid" },
    { kind: "maxPool", size: 2 },
    { kind: "dropout", rate: 0.25 },
    { kind: "flatten" },
    { kind: "dense", units: 16, activation: "relu" },
    { kind: "dropout", rate: 0.25 },
    { kind: "dense", units: 3, activation: "linear" },
  ],
};

const train = { epochs: 30, batchSize: 8, learningRate: 0.01, weightDecay: 0, init: "scratch" };

/** A tiny preset on a user's data set: 2 per class labelled, 6 acquired per round, 2 rounds. */
function preset(name: string, dataset: unknown, model: unknown): Record<string, unknown> {
  return {
    name,
    dataset,
    model,
    initialPerClass: 2,
    acquisitions: ["bald", "random"],
    acquireSize: 6,
    mcSamples: 5,
    rounds: 2,
    poolSubset: 0,
    testSubset: 0,
    seeds: [0],
    train,
  };
}

/** Writes `value` as a YAML file (JSON is YAML). */
async function writeYaml(file: string, value: unknown): Promise<string> {
  await Deno.writeTextFile(file, JSON.stringify(value, null, 2));
  return file;
}

/** The real CLI code path (wasm backend), results and cache under `dir`. */
function cli(dir: string, file: string, out: string, more: Partial<CliFlags> = {}): Promise<CliResult> {
  return runExperimentCommand({
    file,
    backend: "wasm",
    full: false,
    download: false,
    out: `${dir}/${out}`,
    cacheDir: `${dir}/cache`,
    noCache: false,
    refresh: [],
    dryRun: false,
    ...more,
  });
}

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "dbal-own-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Checks a finished two-strategy run: 3 rounds each, the labelled set growing by 6, accuracy above chance. */
function checkRecords(result: CliResult): void {
  for (const curve of ["bald", "random"]) {
    const rs = result.records.filter((r) => r.acquisition === curve);
    assertEquals(rs.map((r) => r.labelled), [6, 12, 18], curve);
    assertEquals(rs.map((r) => r.acquired.length), [6, 6, 0], curve);
    const acquired = rs.flatMap((r) => r.acquired);
    assertEquals(new Set(acquired).size, acquired.length, "an item was acquired twice");
    const last = rs[rs.length - 1]!;
    // Chance is 1/3; the patterns are easy.
    assert(last.accuracy > 0.6, `${curve}: accuracy ${last.accuracy} is not above chance`);
  }
}

async function loadValue(stage: ReturnType<typeof imageFolder>): Promise<ImageData> {
  const out = await stage.run({}, { progress: () => {}, warn: () => {} })();
  if (E.isLeft(out)) throw new Error(out.left.message);
  return out.right;
}

Deno.test("the dataset field takes a built-in name, { folder } or { npz }, strictly, with paths", () => {
  const base = { ...tiny, model: denseNet() };
  const problems = (dataset: unknown) => {
    const d = decodeExperiment({ ...base, dataset });
    return E.isLeft(d) ? d.left : [];
  };
  assertEquals(problems({ folder: "data/imgs" }), []);
  assertEquals(problems({ folder: "data/imgs", testFraction: 0.25 }), []);
  assertEquals(
    problems({ npz: "d.npz", x: "images", y: "labels", xTest: "xt", yTest: "yt", testFraction: 0, classes: 3 }),
    [],
  );
  // A built-in data set still checks the model when decoded; a user's is checked once loaded.
  assertEquals(problems("mnist"), [
    "model.layers.3.units: the last layer has 3 units but mnist has 10 classes",
    "model.inputShape: expected [28, 28, 1] for mnist, got [8, 8, 1]",
  ]);
  assertEquals(problems({ folder: "data/imgs", testFractoin: 0.1 }), [
    "dataset.testFractoin: unknown field (known fields: folder, testFraction)",
  ]);
  assertEquals(problems({ npz: "d.npz", classes: 0, labels: "y" }), [
    "dataset.labels: unknown field (known fields: npz, x, y, xTest, yTest, testFraction, classes)",
    "dataset.classes: expected an integer >= 1, got 0",
  ]);
  assertEquals(problems({ folder: "" }), ['dataset.folder: expected a path (a non-empty string), got ""']);
  assertEquals(problems({ folder: "a", testFraction: 1 }), [
    "dataset.testFraction: expected a number in [0, 1), got 1",
  ]);
  assertEquals(problems({ folder: "a", npz: "b.npz" }), ["dataset: expected either folder or npz, not both"]);
  const choices =
    "expected mnist, fashion-mnist, cifar10, trec, trec-fine, reuters, { folder: path }, { npz: path } or { table: path }";
  assertEquals(problems("mnits"), [`dataset: ${choices}, got "mnits"`]);
  assertEquals(problems({ path: "x" }), [`dataset: ${choices}, got an object with path`]);
  // One load step per experiment: a grid cannot vary the data set.
  const grid = decodeExperiment({ ...base, dataset: { folder: "a" }, grid: { "dataset.testFraction": [0.1, 0.2] } });
  assert(E.isRight(grid));
  const expanded = expandGrid(grid.right);
  assertEquals(E.isLeft(expanded) ? expanded.left : [], [
    "grid.dataset.testFraction: this field cannot vary in a grid",
  ]);
});

Deno.test("a YAML preset with a misspelt dataset field fails before any work, with its line", async () => {
  await withTemp(async (dir) => {
    const file = `${dir}/bad.yaml`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({ ...preset("bad", { folder: "imgs", testFractoin: 0.1 }, denseNet()) }, null, 2),
    );
    const e = await assertRejects(() => loadRunnable(file), /testFractoin/);
    assert(e instanceof ConfigError);
    assert(
      e.problems.some((p) =>
        /^line \d+: dataset\.testFractoin: unknown field \(known fields: folder, testFraction\)$/.test(p)
      ),
      e.problems.join("\n"),
    );
  });
});

Deno.test("load stages of a user's data: params name the path; the key follows the bytes, not the place", async () => {
  await withTemp(async (dir) => {
    await writeImageFolder(`${dir}/a/imgs`);
    const stage = imageFolder(`${dir}/a/imgs`, { testFraction: 0.2 });
    assertEquals(stage.kind, "load");
    assertEquals(stage.name, "load/image-folder");
    assertEquals(stage.numeric, false);
    assertEquals(stage.params, { folder: `${dir}/a/imgs`, testFraction: 0.2 });
    const first = await loadValue(stage);
    assertEquals(first.classes, 3);
    assertEquals(first.labelNames, [...CLASSES]);
    assertEquals(first.train.shape.slice(1), [8, 8, 1]);
    assertEquals(first.train.shape[0] + first.test.shape[0], 90);
    // Moved: same key.
    await Deno.rename(`${dir}/a`, `${dir}/b`);
    assertEquals((await loadValue(imageFolder(`${dir}/b/imgs`, { testFraction: 0.2 }))).contentHash, first.contentHash);
    // Another held-out fraction, or one changed pixel: another key.
    assert((await loadValue(imageFolder(`${dir}/b/imgs`, { testFraction: 0.3 }))).contentHash !== first.contentHash);
    const changed = pixels(2, 7);
    changed[0] = (changed[0]! + 1) % 256;
    await Deno.writeFile(`${dir}/b/imgs/top/007.png`, png(changed));
    assert((await loadValue(imageFolder(`${dir}/b/imgs`))).contentHash !== first.contentHash);

    await Deno.writeFile(`${dir}/d.npz`, npzBytes());
    const npz = npzImages(`${dir}/d.npz`, { x: "images", y: "labels" });
    assertEquals([npz.name, npz.params], ["load/npz", { npz: `${dir}/d.npz`, x: "images", y: "labels" }]);
    const arrays = await loadValue(npz);
    assertEquals([arrays.classes, arrays.labelNames], [3, ["0", "1", "2"]]);
    await Deno.mkdir(`${dir}/moved`);
    await Deno.rename(`${dir}/d.npz`, `${dir}/moved/d.npz`);
    const moved = await loadValue(npzImages(`${dir}/moved/d.npz`, { x: "images", y: "labels" }));
    assertEquals(moved.contentHash, arrays.contentHash);

    const n = CLASSES.length * PER_CLASS;
    const x = new Uint8Array(n * 64).map((_, i) => i % 251);
    const y = BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 3));
    await Deno.writeFile(`${dir}/x.npy`, npy("|u1", [n, 8, 8], x));
    await Deno.writeFile(`${dir}/y.npy`, npy("<i8", [n], y));
    const pair = npyImages(`${dir}/x.npy`, `${dir}/y.npy`, { testFraction: 0.1 });
    assertEquals([pair.name, pair.params], ["load/npy", {
      x: `${dir}/x.npy`,
      y: `${dir}/y.npy`,
      testFraction: 0.1,
    }]);
    const fromPair = await loadValue(pair);
    assertEquals([fromPair.classes, fromPair.train.shape[0] + fromPair.test.shape[0]], [3, n]);

    // A preset's relative path starts from the experiment file's directory; an absolute one is kept.
    assertEquals(presetImages({ folder: "data/imgs" }, "examples").params["folder"], "examples/data/imgs");
    assertEquals(presetImages({ npz: "/abs/d.npz", classes: 3 }, "examples").params, {
      npz: "/abs/d.npz",
      classes: 3,
    });
  });
});

Deno.test("an image folder as a YAML preset runs end to end; a rerun, or a moved copy, executes nothing", async () => {
  await withTemp(async (dir) => {
    // The experiment file names its folder relative to itself.
    await writeImageFolder(`${dir}/exp/data/imgs`);
    const file = await writeYaml(`${dir}/exp/own.yaml`, preset("own-folder", { folder: "data/imgs" }, denseNet()));
    const first = await cli(dir, file, "a");
    checkRecords(first);
    assert((first.executed["retrain"] ?? 0) > 0);
    assertEquals(await readRounds(`${dir}/a/rounds.jsonl`), JSON.parse(JSON.stringify(first.records)));
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/a/meta.json`));
    assertEquals(meta.dataset, "image-folder");
    assertEquals(meta.config.dataset, { folder: "data/imgs" });
    assert((await Deno.readTextFile(`${dir}/a/summary.md`)).includes("| bald |"));

    const second = await cli(dir, file, "b");
    assertEquals(second.executed, {});
    assertEquals(second.records.map((r) => r.acquired), first.records.map((r) => r.acquired));

    // The experiment and its data moved elsewhere: same keys, nothing to run.
    await Deno.rename(`${dir}/exp`, `${dir}/moved`);
    const third = await cli(dir, `${dir}/moved/own.yaml`, "c");
    assertEquals(third.executed, {});
    assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/c/meta.json`)).contentHash, meta.contentHash);
  });
});

Deno.test("an .npz archive as a YAML preset runs end to end (conv net, named arrays); a rerun executes nothing", async () => {
  await withTemp(async (dir) => {
    await Deno.writeFile(`${dir}/digits.npz`, npzBytes());
    const dataset = { npz: "digits.npz", x: "images", y: "labels", testFraction: 0.2 };
    const file = await writeYaml(`${dir}/own-npz.yaml`, preset("own-npz", dataset, convNet));
    const first = await cli(dir, file, "a");
    checkRecords(first);
    assert(await pathExists(`${dir}/a/rounds.jsonl`));
    const second = await cli(dir, file, "b");
    assertEquals(second.executed, {});
  });
});

Deno.test("corrupt data fail with a message naming the file, and write no results", async () => {
  await withTemp(async (dir) => {
    await writeImageFolder(`${dir}/imgs`);
    const bad = `${dir}/imgs/left/004.png`;
    const bytes = await Deno.readFile(bad);
    await Deno.writeFile(bad, bytes.subarray(0, 40));
    const folder = await writeYaml(`${dir}/folder.yaml`, preset("bad-folder", { folder: "imgs" }, denseNet()));
    const e1 = await assertRejects(() => cli(dir, folder, "a"), /not a readable PNG/);
    assert(e1.message.includes(`Cannot load ${dir}/imgs/left/004.png: it is not a readable PNG file`), e1.message);
    assert(e1.message.startsWith('Stage "load/image-folder" failed: '), e1.message);
    assert(!(await pathExists(`${dir}/a/rounds.jsonl`)));

    // Label 5 of a 3-class data set.
    await Deno.writeFile(`${dir}/bad.npz`, npzBytes((i, k) => (i === 17 ? 5 : k)));
    const dataset = { npz: "bad.npz", x: "images", y: "labels", classes: 3 };
    const npz = await writeYaml(`${dir}/npz.yaml`, preset("bad-npz", dataset, denseNet()));
    const e2 = await assertRejects(() => cli(dir, npz, "b"), /outside 0\.\.2/);
    assert(
      e2.message.includes(`Cannot load ${dir}/bad.npz, array labels: label 17 is 5, outside 0..2.`),
      e2.message,
    );
    assert(!(await pathExists(`${dir}/b/rounds.jsonl`)));
    assertEquals(await listTree(`${dir}/cache`).catch(() => []), []);
  });
});

Deno.test("a model that does not fit the user's data fails before any stage runs, naming the layer", async () => {
  await withTemp(async (dir) => {
    await writeImageFolder(`${dir}/data/imgs`);
    // The conv net's last layer (index 6) with 7 units.
    const seven = {
      ...convNet,
      layers: [...convNet.layers.slice(0, 6), { kind: "dense", units: 7, activation: "linear" }],
    };
    const outputs = await writeYaml(`${dir}/outputs.yaml`, preset("wrong-outputs", { folder: "data/imgs" }, seven));
    const e = await assertRejects(() => cli(dir, outputs, "a"), /units/);
    assertEquals(e.message, "model.layers.6.units: the last layer has 7 units but data/imgs has 3 classes");
    const shape = await writeYaml(
      `${dir}/shape.yaml`,
      preset("wrong-shape", { folder: "data/imgs" }, { ...denseNet(), inputShape: [28, 28, 1] }),
    );
    const e2 = await assertRejects(() => cli(dir, shape, "b"), /inputShape/);
    assertEquals(e2.message, "model.inputShape: expected [8, 8, 1] for data/imgs, got [28, 28, 1]");
    // Nothing ran: no records, no cache entries.
    assert(!(await pathExists(`${dir}/a/rounds.jsonl`)) && !(await pathExists(`${dir}/b/rounds.jsonl`)));
    assertEquals(await listTree(`${dir}/cache`).catch(() => []), []);
  });
});

Deno.test("a composed experiment reads an image folder with source(imageFolder(...)) and imageRound", async () => {
  await withTemp(async (dir) => {
    await writeImageFolder(`${dir}/imgs`);
    const file = `${dir}/composed.ts`;
    await Deno.writeTextFile(
      file,
      `
import { bald, composeExperiment, imageFolder, imageRound, loop, mcDropout, netSpecModel, source, strategy, topK,
  warmStartState } from "${new URL("mod.ts", root).href}";

const spec = ${JSON.stringify(denseNet())};
const train = ${JSON.stringify(train)};

export default composeExperiment({
  name: "own-composed",
  load: source(imageFolder(${JSON.stringify(`${dir}/imgs`)}, { testFraction: 0.2 })),
  runs: ({ data, value }) => [loop({
    label: { curve: "bald", seed: 0 },
    start: warmStartState(data, 2, value.classes, 0),
    round: imageRound({
      data, model: netSpecModel(spec, train), seed: 0, classes: value.classes,
      strategy: strategy({ posterior: mcDropout({ samples: 5 }), score: bald, acquire: topK(6) }),
      poolSubset: 0, testSubset: 0,
    }),
    rounds: 2,
  })],
});
`,
    );
    const first = await cli(dir, file, "a");
    assertEquals(first.records.map((r) => [r.round, r.labelled, r.acquired.length]), [[0, 6, 6], [1, 12, 6], [
      2,
      18,
      0,
    ]]);
    assert(first.records[2]!.accuracy > 0.6, `accuracy ${first.records[2]!.accuracy}`);
    // The preset's image folder run on the same data and settings shares its keys: nothing new to run.
    const yaml = await writeYaml(`${dir}/same.yaml`, {
      ...preset("own-same", { folder: "imgs", testFraction: 0.2 }, denseNet()),
      acquisitions: ["bald"],
    });
    const preset2 = await cli(dir, yaml, "b");
    assertEquals(preset2.executed, {});
    assertEquals(preset2.records.map((r) => r.acquired), first.records.map((r) => r.acquired));
  });
});
