/**
 * TREC question classification loader (Li & Roth, 5,452 train / 500 test).
 *
 * @module
 */

import { decodeLatin1 } from "./codec.ts";
import { formatError } from "./errors.ts";
import { computeContentHash, type DatasetSpec, describeFiles, fetchDatasetFiles, type LoadOptions } from "./files.ts";
import type { TextDataset, TextSplit } from "./types.ts";

/** One labelled question. */
export interface TrecQuestion {
  /** Coarse class, e.g. `"NUM"`. */
  readonly coarse: string;
  /** Fine class including its coarse prefix, e.g. `"NUM:dist"`. */
  readonly fine: string;
  /** The question text (tokens separated by spaces, as in the file). */
  readonly text: string;
}

const LINE = /^([A-Z]+):(\S+) (.*)$/;

/**
 * Parses a TREC label file, already decoded (the files are Latin-1). Each
 * non-empty line is `COARSE:fine question ...`; any other line raises a
 * `format` {@link DataError} naming `file` and the line number.
 */
export function parseTrec(text: string, file: string): TrecQuestion[] {
  const out: TrecQuestion[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, "");
    if (line.trim() === "") continue;
    const m = LINE.exec(line);
    if (m === null) {
      formatError(
        file,
        `line ${i + 1} is not "COARSE:fine question" (starts ${JSON.stringify(line.slice(0, 40))})`,
      );
    }
    const [, coarse, fine, question] = m;
    out.push({ coarse: coarse!, fine: `${coarse}:${fine}`, text: question! });
  }
  return out;
}

/** Label granularity of TREC: 6 coarse classes or 50 fine ones. */
export type TrecLabels = "coarse" | "fine";

/**
 * TREC files with the reference md5 (pinned by torchtext/torchvision for the
 * cogcomp URLs), sha256 and sizes (Hugging Face `datasets`). The authors
 * publish no checksum.
 */
export const TREC_SPEC: DatasetSpec = {
  title: "TREC",
  files: [
    {
      path: "trec/train_5500.label",
      bytes: 335_858,
      md5: "073462e3fcefaae31e00edb1f18d2d02",
      sha256: "9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3",
    },
    {
      path: "trec/TREC_10.label",
      bytes: 23_354,
      md5: "323a3554401d86e650717e2d2f942589",
      sha256: "033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e",
    },
  ],
  source: {
    kind: "files",
    urls: ["https://cogcomp.seas.upenn.edu/Data/QA/QC/"],
  },
};

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function toSplit(
  questions: readonly TrecQuestion[],
  labels: TrecLabels,
  index: ReadonlyMap<string, number>,
): TextSplit {
  const y = new Int32Array(questions.length);
  questions.forEach((q, i) => {
    y[i] = index.get(labels === "coarse" ? q.coarse : q.fine)!;
  });
  return { texts: questions.map((q) => q.text), y };
}

/**
 * Loads TREC from `<dataDir>/trec/` with coarse (`"ABBR"`, ...) or fine
 * (`"ABBR:abb"`, ...) labels. `labelNames` are the labels seen in either
 * split, sorted by code unit; the name is `trec-coarse` or `trec-fine`.
 */
export async function loadTrec(
  opts: LoadOptions & { readonly labels: TrecLabels },
): Promise<TextDataset> {
  if (opts.labels !== "coarse" && opts.labels !== "fine") {
    throw new TypeError(
      `TREC labels must be "coarse" or "fine", not ${JSON.stringify(opts.labels)}`,
    );
  }
  const { files } = await fetchDatasetFiles(TREC_SPEC, opts);
  const [trainFile, testFile] = files;
  if (!trainFile || !testFile) {
    throw new Error("unreachable: the spec lists two files");
  }
  const train = parseTrec(decodeLatin1(trainFile.data), trainFile.absPath);
  const test = parseTrec(decodeLatin1(testFile.data), testFile.absPath);
  const pick = (
    q: TrecQuestion,
  ) => (opts.labels === "coarse" ? q.coarse : q.fine);
  const labelNames = [...new Set([...train, ...test].map(pick))].sort(
    byCodeUnit,
  );
  const index = new Map(labelNames.map((l, i) => [l, i]));
  const name = `trec-${opts.labels}`;
  const described = describeFiles(files);
  return {
    kind: "text",
    name,
    train: toSplit(train, opts.labels, index),
    test: toSplit(test, opts.labels, index),
    labelNames,
    files: described,
    contentHash: await computeContentHash("trec", {
      loader: 1,
      labels: opts.labels,
    }, described),
  };
}
