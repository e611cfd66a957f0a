/**
 * Text in the preset record (`dsl/experiment.ts`): the text data sets an
 * experiment can name (`trec`, `trec-fine`, `reuters`, or a user's table
 * `{ table: path.csv, ... }`), the text encoder as a model
 * (`{ kind: text-encoder, ... }` or {@link textEncoder}), and the rules that
 * tie them to the rest of the record (checked with the other rules of
 * `decodeExperiment`). The stages are in `pipeline/packs/text.ts`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isTextDataset, textEncoder } from "./text.ts";
 * const model = textEncoder({
 *   buckets: 4096, maxTokens: 50, dim: 16, hidden: 16, epochs: 5, batchSize: 16, learningRate: 0.03,
 * });
 * assert(model.kind === "text-encoder" && isTextDataset("trec") && !isTextDataset("mnist"));
 * ```
 *
 * @module
 */
import * as t from "io-ts";
import { DropRate, PositiveInt, PositiveNumber, strictFields } from "./codecs.ts";
import type { AcquireNeed, Strategy } from "./strategy.ts";

/** The built-in text data sets: TREC question classes (6 coarse or 50 fine, single-label) and Reuters-21578 ModApte (90 topics, multi-label). */
export const TextDatasetName = t.keyof({ "trec": null, "trec-fine": null, "reuters": null });
/** A built-in text data set. */
export type TextDatasetName = t.TypeOf<typeof TextDatasetName>;

/** Whether each built-in text data set is multi-label. */
export const textDatasets: Readonly<Record<TextDatasetName, { readonly multiLabel: boolean }>> = {
  "trec": { multiLabel: false },
  "trec-fine": { multiLabel: false },
  "reuters": { multiLabel: true },
};

const NonEmptyString = new t.Type<string, string, unknown>(
  "non-empty string",
  (u): u is string => typeof u === "string" && u !== "",
  (u, c) =>
    typeof u === "string" && u !== ""
      ? t.success(u)
      : t.failure(u, c, `expected a non-empty string, got ${JSON.stringify(u)}`),
  t.identity,
);

/**
 * A user's table of texts and labels: a CSV/TSV file with a header row or a
 * JSONL file (`pipeline/data/text_table.ts`), `{ table: data/reviews.csv }`.
 * Relative paths are relative to the experiment file's directory.
 */
export const TableDatasetConfig = strictFields(t.intersection([
  t.type({
    /** The training file (or the whole data set, without `testPath`). */
    table: NonEmptyString,
  }),
  t.partial({
    /** The test split, in the same format; without it `testFraction` of the rows is held out. */
    testPath: NonEmptyString,
    /** Rows have any number of labels (`a|b` in CSV, a JSON array in JSONL); default false. */
    multiLabel: t.boolean,
    /** Column (CSV) or field (JSONL) of the text; default "text". */
    textColumn: NonEmptyString,
    /** Column or field of the label(s); default "label". */
    labelColumn: NonEmptyString,
    /** Separator of a multi-label CSV cell; default "|". */
    labelSeparator: NonEmptyString,
    /** Share of the rows held out as the test split without `testPath` (default 0.2). */
    testFraction: DropRate,
  }),
]));
/** A user's text table. */
export type TableDatasetConfig = t.TypeOf<typeof TableDatasetConfig>;

/** A text data set: a built-in one by name, or a user's table. */
export type TextDatasetConfig = TextDatasetName | TableDatasetConfig;

/**
 * True for a text data set: a built-in text name, or an object with `table`.
 *
 * @param dataset an experiment's `dataset`
 * @returns whether the text pack reads it
 */
export function isTextDataset(dataset: unknown): dataset is TextDatasetConfig {
  if (typeof dataset === "string") return Object.hasOwn(textDatasets, dataset);
  return typeof dataset === "object" && dataset !== null && Object.hasOwn(dataset, "table");
}

/**
 * Whether a text data set is multi-label (sigmoid outputs, multi-label scores and metrics).
 *
 * @param dataset a text data set
 * @returns true for Reuters and tables with `multiLabel: true`
 */
export function isMultiLabel(dataset: TextDatasetConfig): boolean {
  return typeof dataset === "string" ? textDatasets[dataset].multiLabel : dataset.multiLabel === true;
}

/**
 * The text encoder trained from scratch each round (`pipeline/tensor/text_encoder.ts`):
 * hashed unigrams and bigrams in `buckets` buckets (the first `maxTokens`
 * tokens of a text), an embedding bag of width `dim`, one ReLU hidden layer of
 * `hidden` units (the features the VOGN head and the geometric rules see) and
 * a softmax (single-label) or sigmoid (multi-label) output layer, trained with
 * Adam for `epochs` passes of `batchSize` documents.
 */
export const TextEncoderSpec = strictFields(t.type({
  kind: t.literal("text-encoder"),
  buckets: PositiveInt,
  maxTokens: PositiveInt,
  dim: PositiveInt,
  hidden: PositiveInt,
  epochs: PositiveInt,
  batchSize: PositiveInt,
  learningRate: PositiveNumber,
}));
/** A text encoder. */
export type TextEncoderSpec = t.TypeOf<typeof TextEncoderSpec>;
/** A text encoder as a user writes it (plain numbers). */
export type TextEncoderInput = t.OutputOf<typeof TextEncoderSpec>;

/**
 * The text encoder as a model of the preset record (its YAML twin is
 * `{ kind: text-encoder, buckets: ..., ... }`); decoded with the record.
 *
 * @param opts its sizes and training settings
 * @returns the model value
 */
export function textEncoder(opts: Omit<TextEncoderInput, "kind">): TextEncoderInput {
  return { kind: "text-encoder", ...opts };
}

/**
 * True for a text encoder model (`kind: "text-encoder"`), decoded or not.
 *
 * @param model an experiment's `model`
 * @returns whether it names the text encoder
 */
export function isTextEncoder(model: unknown): model is TextEncoderSpec {
  return typeof model === "object" && model !== null && (model as { kind?: unknown }).kind === "text-encoder";
}

/** Posteriors the text pack fits over the encoder (by name). */
export const textPosteriors = ["deterministic", "vogn-head"] as const;

/** What acquisition rules read that only a categorical (softmax) predictive gives. */
const categoricalNeeds: readonly AcquireNeed[] = ["logProbs", "meanProbs", "labelledLogProbs"];

/** The fields of the preset record the text rules look at. */
export interface TextRecordView {
  /** The text data set: a built-in name or a user's table; it says whether the data are multi-label. */
  readonly dataset: TextDatasetConfig;
  /** The record's model, decoded or not: it must be a text encoder. */
  readonly model: unknown;
  /** Image training settings: must be absent (the encoder has its own epochs, batch size and rate). */
  readonly train?: unknown;
  /** Per-class warm start: single-label data only, instead of `initialLabelled`. */
  readonly initialPerClass?: number;
  /** Random documents labelled before the first round, instead of `initialPerClass`. */
  readonly initialLabelled?: number;
  /** The MC-dropout shorthand: must be empty (the encoder has no dropout to sample). */
  readonly acquisitions?: readonly string[];
  /** The strategies, checked against the text pack's posteriors and the data's labels. */
  readonly strategies?: readonly Strategy[];
}

/**
 * The rules of a text experiment across fields: a text encoder as its model,
 * no image training settings, one warm start (random documents, or per
 * class on single-label data), the posteriors the text pack has, and no
 * rule that reads a categorical predictive on multi-label data.
 *
 * @param c the decoded record (a text data set)
 * @returns one `path: problem` per problem
 */
export function checkTextRecord(c: TextRecordView): string[] {
  const problems: string[] = [];
  const multi = isMultiLabel(c.dataset);
  const what = typeof c.dataset === "string" ? c.dataset : c.dataset.table;
  if (!isTextEncoder(c.model)) {
    problems.push(
      `model: a text data set (${what}) needs a text encoder ({ kind: text-encoder, ... } or textEncoder())`,
    );
  }
  if (c.train !== undefined) {
    problems.push("train: a text encoder has its own epochs, batchSize and learningRate (in model); remove train");
  }
  if ((c.initialLabelled === undefined) === (c.initialPerClass === undefined)) {
    problems.push(
      "initialLabelled: give either initialLabelled (random documents) or initialPerClass (per class), not " +
        (c.initialLabelled === undefined ? "neither" : "both"),
    );
  }
  if (multi && c.initialPerClass !== undefined) {
    problems.push(`initialPerClass: ${what} is multi-label, so its warm start is random documents (initialLabelled)`);
  }
  if ((c.acquisitions ?? []).length > 0) {
    problems.push(
      "acquisitions: the shorthand samples MC dropout, which the text encoder has not; write strategies " +
        "(posterior deterministic or { name: vogn-head, samples: T })",
    );
  }
  (c.strategies ?? []).forEach((s, i) => {
    if (!(textPosteriors as readonly string[]).includes(s.posterior.name) || s.posterior.impl) {
      problems.push(
        `strategies.${i}.posterior: the text pack fits ${textPosteriors.join(" or ")} over the encoder, not ` +
          `${s.posterior.name}`,
      );
    }
    if (multi) {
      const needs = (s.acquire.needs ?? []).filter((n) => categoricalNeeds.includes(n));
      if (needs.length > 0) {
        problems.push(
          `strategies.${i}.acquire: ${s.acquire.name} reads ${needs.join(", ")} as one categorical distribution, ` +
            `but ${what} is multi-label (one sigmoid per label)`,
        );
      }
      if (s.pseudoLabel) {
        problems.push(
          `strategies.${i}.pseudoLabel: ${s.pseudoLabel.name} gives each item one class, but ${what} is multi-label`,
        );
      }
    } else if (s.score.name.startsWith("multilabel-") && s.score.source !== undefined) {
      problems.push(`strategies.${i}.score: ${s.score.name} scores sigmoid outputs, but ${what} is single-label`);
    }
  });
  return problems;
}
