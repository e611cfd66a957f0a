/** Experiment files: every problem comes with the file, and in YAML with its line. */
import { assert, assertEquals } from "../../tests/asserts.ts";
import { ConfigError, loadRunnable } from "./experiment_file.ts";

/** The problems a file's ConfigError lists (fails when the file loads). */
async function problemsOf(file: string): Promise<readonly string[]> {
  try {
    await loadRunnable(file);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error(`${file} loaded`);
}

async function withFile<A>(name: string, text: string, f: (file: string) => Promise<A>): Promise<A> {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/${name}`;
  await Deno.writeTextFile(file, text);
  try {
    return await f(file);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const yaml = `name: strict
dataset: mnist
model:
  inputShape: [28, 28, 1]
  layers:
    - { kind: conv2d, filters: 8, kernel: 3, activation: relu, padding: valid, stride: 2 }
    - { kind: maxPool, size: 2 }
    - { kind: flatten }
    - { kind: dense, units: 10, activation: linear }
initialPerClass: 2
strategies:
  - posterior: { name: mc-dropout, smaples: 20 }
    score: bald
    acquire: { name: top-k, k: 10 }
rounds: 2
poolSubset: 100
testSubset: 100
seeds: [0]
train: { epochs: 1, batchSize: 16, learningRate: 0.001, weightDecay: 0, init: scratch, lr: 1 }
stop:
  labelz: 60
full:
  roundz: 3
`;

Deno.test("unknown fields of a YAML file are reported at every depth with their lines", async () => {
  const found = await withFile("strict.yaml", yaml, problemsOf);
  for (
    const e of [
      "line 6: model.layers.0.stride: unknown field (known fields: kind, filters, kernel, activation, padding, bayesian)",
      "line 12: strategies.0.posterior.smaples: unknown field (known fields: name, samples, consistent)",
      "line 12: strategies.0.posterior.samples: required field is missing (expected an integer >= 1)",
      "line 19: train.lr: unknown field (known fields: epochs, batchSize, learningRate, weightDecay, init, klWeight)",
      "line 21: stop.labelz: unknown field (known fields: labels, accuracy)",
      "line 23: full.roundz: unknown field (known fields: rounds, poolSubset, testSubset, seeds, train, mcSamples, ",
    ]
  ) assert(found.some((p) => p.startsWith(e)), `missing "${e}" in:\n${found.join("\n")}`);
  assertEquals(found.length, 6, found.join("\n"));
});

Deno.test("unknown fields of a YAML text experiment are reported with their lines", async () => {
  const text = `name: tiny
dataset: { table: reviews.csv, multilabel: true }
model: { kind: text-encoder, buckets: 512, maxTokens: 50, dim: 8, dimm: 8, hidden: 8, epochs: 3, batchSize: 8, learningRate: 0.05 }
initialLabelled: 10
rounds: 1
seeds: [0]
strategies:
  - posterior:
      name: vogn-head
      samples: 4
      sample: 3
    score: bald
    acquire: { name: top-k, k: 5 }
poolSubset: 30
testSubset: 20
`;
  assertEquals(await withFile("text.yaml", text, problemsOf), [
    "line 2: dataset.multilabel: unknown field (known fields: table, testPath, multiLabel, textColumn, labelColumn, " +
    "labelSeparator, testFraction)",
    "line 3: model.dimm: unknown field (known fields: kind, buckets, maxTokens, dim, hidden, epochs, batchSize, " +
    "learningRate)",
    "line 11: strategies.0.posterior.sample: unknown field (known fields: name, samples, priorPrecision, temperature, " +
    "epochs, learningRate, batchSize, mcSamples)",
  ]);
});

Deno.test("model problems of a YAML file come with their lines", async () => {
  const bad = yaml
    .replace(", stride: 2 }", " }")
    .replace("filters: 8", "filters: 0")
    .replace("units: 10", "units: 7")
    .replace("smaples", "samples")
    .replace(", lr: 1", "")
    .replace("labelz", "labels")
    .replace("roundz", "rounds");
  assertEquals(await withFile("model.yaml", bad, problemsOf), [
    "line 6: model.layers.0.filters: expected an integer >= 1, got 0",
  ]);
  assertEquals(await withFile("model.yaml", bad.replace("filters: 0", "filters: 8"), problemsOf), [
    "line 9: model.layers.3.units: the last layer has 7 units but mnist has 10 classes",
  ]);
});

Deno.test("a TypeScript file that throws at import, or does not parse, is a ConfigError with its line", async () => {
  const mod = new URL("../../mod.ts", import.meta.url).href;
  const throws = `import { hybridPreset } from "${mod}";\n\nconst model = hybridPreset("BNN-9" as never, 10);\n` +
    `export default { model };\n`;
  await withFile("throws.ts", throws, async (file) => {
    assertEquals(await problemsOf(file), [
      'line 3: cannot load the module: Error: unknown hybrid preset "BNN-9" (known: BNN, BNN-1, BNN-2, BNN-3, BNN1, ' +
      "BNN2, BNN3, CNN)",
    ]);
    const message = await loadRunnable(file).then(() => "loaded", (e: Error) => e.message);
    assert(message.includes(`${file}: line 3: cannot load the module: Error: unknown hybrid preset`), message);
  });
  const undefinedField = `const x: { a?: { b: number } } = {};\nexport default x.a!.b;\n`;
  assertEquals(await withFile("undefined.ts", undefinedField, problemsOf), [
    "line 2: cannot load the module: TypeError: Cannot read properties of undefined (reading 'b')",
  ]);
  assertEquals(await withFile("syntax.ts", "const x = 1;\nconst y z = 2;\nexport default x;\n", problemsOf), [
    "line 2: cannot load the module: SyntaxError: Expected a semicolon",
  ]);
});

Deno.test("an import error thrown in another file of the project names that file and line", async () => {
  const dir = await Deno.makeTempDir({ dir: ".", prefix: ".import-test-" });
  try {
    await Deno.writeTextFile(`${dir}/helper.ts`, `export const h = 1;\nthrow new RangeError("boom");\n`);
    await Deno.writeTextFile(`${dir}/exp.ts`, `import { h } from "./helper.ts";\nexport default h;\n`);
    const name = dir.replace(/^\.\//, "");
    assertEquals(await problemsOf(`${dir}/exp.ts`), [
      `cannot load the module: RangeError: boom (at ${name}/helper.ts, line 2)`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
