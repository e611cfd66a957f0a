/**
 * Tiny text data sets in the real file formats (TREC label files, Reuters
 * SGML), tiny text experiments, and a runner of the real CLI code path on
 * them, for the text pack's end-to-end tests.
 *
 * @module
 */
import { type CliFlags, type CliResult, runExperimentCommand } from "../pipeline/cli/cli.ts";
import { writeTree } from "../pipeline/data/testutil.ts";
import { makeRng } from "../pipeline/tensor/rng.ts";

const VOCAB: Record<string, string[]> = {
  grain: ["grain", "harvest", "tonnes", "maize", "crop"],
  wheat: ["wheat", "flour", "bushels", "durum", "mill"],
  crude: ["crude", "oil", "barrel", "opec", "refinery"],
  ship: ["ship", "port", "vessel", "cargo", "tanker"],
};
const FILLER = ["the", "said", "in", "reuter", "market", "a", "of", "year"];

/**
 * Words of the given topics mixed with filler words.
 *
 * @param rng the stream
 * @param topics topic names of {@link VOCAB}
 * @param n how many words
 * @returns the text
 */
export function topicWords(rng: ReturnType<typeof makeRng>, topics: readonly string[], n: number): string {
  const out: string[] = [];
  for (let k = 0; k < n; k++) {
    const list = rng.next() < 0.5 ? VOCAB[topics[rng.int(topics.length)]!]! : FILLER;
    out.push(list[rng.int(list.length)]!);
  }
  return out.join(" ");
}

/** The topic names of the tiny data. */
export const TOPICS = Object.keys(VOCAB);

/**
 * 22 Reuters SGML files: 80 TRAIN and 40 TEST stories with 1-2 topics each, in reut2-000.
 *
 * @returns file contents by path relative to the data directory
 */
export function reutersFiles(): Record<string, string> {
  const rng = makeRng(5);
  let sgml = '<!DOCTYPE lewis SYSTEM "lewis.dtd">\n';
  for (let id = 1; id <= 120; id++) {
    const first = TOPICS[rng.int(TOPICS.length)]!;
    const topics = rng.next() < 0.3 ? [...new Set([first, TOPICS[rng.int(TOPICS.length)]!])] : [first];
    const split = id <= 80 ? "TRAIN" : "TEST";
    sgml += `<REUTERS TOPICS="YES" LEWISSPLIT="${split}" CGISPLIT="TRAINING-SET" OLDID="${id}" NEWID="${id}">\n` +
      `<TOPICS>${topics.map((t) => `<D>${t}</D>`).join("")}</TOPICS>\n` +
      `<TEXT>&#2;\n<TITLE>${topicWords(rng, topics, 4).toUpperCase()}</TITLE>\n` +
      `<BODY>${topicWords(rng, topics, 20)}\n Reuter\n&#3;</BODY></TEXT>\n</REUTERS>\n`;
  }
  const files: Record<string, string> = {};
  for (let i = 0; i < 22; i++) {
    files[`reuters21578/reut2-${String(i).padStart(3, "0")}.sgm`] = i === 0
      ? sgml
      : '<!DOCTYPE lewis SYSTEM "lewis.dtd">\n';
  }
  return files;
}

/**
 * TREC label files: 90 train and 40 test questions of three coarse classes.
 *
 * @returns file contents by path relative to the data directory
 */
export function trecFiles(): Record<string, string> {
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
  return { "trec/train_5500.label": lines(90), "trec/TREC_10.label": lines(40) };
}

/** A small text encoder, in the record's YAML form. */
export const tinyEncoder = {
  kind: "text-encoder",
  buckets: 512,
  maxTokens: 50,
  dim: 8,
  hidden: 8,
  epochs: 3,
  batchSize: 8,
  learningRate: 0.05,
};

/** A small VOGN head, in YAML form. */
export const tinyVogn = { name: "vogn-head", samples: 4, epochs: 5 };

/**
 * A tiny text experiment (10 random documents, 2 rounds of 5, one seed), in
 * YAML form, with some fields changed.
 *
 * @param changes fields to replace or add
 * @returns the record
 */
export function tinyText(changes: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "tiny-text",
    dataset: "trec",
    model: tinyEncoder,
    initialLabelled: 10,
    rounds: 2,
    seeds: [0],
    poolSubset: 40,
    testSubset: 30,
    strategies: [
      { name: "random", posterior: "deterministic", score: "random", acquire: { name: "top-k", k: 5 } },
      { name: "bald-vogn", posterior: tinyVogn, score: "bald", acquire: { name: "top-k", k: 5 } },
    ],
    ...changes,
  };
}

/** Runs an experiment file on the tiny text files: `out` is a folder name under the fixture's directory. */
export type TextRun = (file: string, out: string, more?: Partial<CliFlags>) => Promise<CliResult>;

/**
 * Gives `fn` a temporary directory with tiny TREC and Reuters files under
 * `<dir>/data`, a writer of experiment files (JSON is YAML) and a runner of
 * the real CLI code path (wasm backend, cache in `<dir>/cache`); removes the
 * directory afterwards.
 *
 * @param fn the test body
 */
export async function withTinyText(
  fn: (dir: string, run: TextRun, write: (name: string, value: unknown) => Promise<string>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "dbal-text-" });
  try {
    await writeTree(`${dir}/data`, { ...reutersFiles(), ...trecFiles() });
    const write = async (name: string, value: unknown) => {
      const file = `${dir}/${name}`;
      await Deno.writeTextFile(file, typeof value === "string" ? value : JSON.stringify(value, null, 2));
      return file;
    };
    await fn(dir, (file, out, more = {}) =>
      runExperimentCommand({
        file,
        backend: "wasm",
        dataDir: `${dir}/data`,
        full: false,
        download: false,
        checksums: "skip",
        out: `${dir}/${out}`,
        cacheDir: `${dir}/cache`,
        noCache: false,
        refresh: [],
        dryRun: false,
        ...more,
      }), write);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
