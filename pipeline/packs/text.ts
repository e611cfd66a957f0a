/**
 * The text pack: the stages of text active learning as composable values
 * over the vocabulary of `dsl/compose.ts`, interpreted by the one
 * interpreter (`pipeline/run/interpreter.ts`) exactly as the image pack's are:
 *
 * - load: TREC (6 coarse or 50 fine classes), Reuters-21578 ModApte (90
 *   topics, multi-label), or a user's CSV/TSV/JSONL table
 *   ({@link textTable}, single- or multi-label);
 * - warm start: random documents ({@link randomWarmStartStage}), or per
 *   class on single-label data;
 * - retrain: the hashed n-gram encoder of `pipeline/tensor/text_encoder.ts`,
 *   trained from scratch on the labelled (and pseudo-labelled) documents;
 *   its output is the penultimate features of every training document and of
 *   the test documents, and its own output layer;
 * - fit-posterior: `deterministic()` is the encoder's output layer (T = 1);
 *   `vognHead({...})` fits a VOGN head on the labelled features
 *   (`pipeline/tensor/vogn.ts`: a softmax head, or the sigmoid head on multi-label
 *   data), sampled T times with the same weight draws for every item;
 * - evaluate: top1, top5, recall, micro/macro F1 and the documents
 *   evaluated, with `accuracy` = top1 and the NLL of the MC-mean predictive;
 * - score: any `ScoreDef` over the [n, T, C] log-probabilities (log-softmax,
 *   or per-label log-sigmoid on multi-label data), keeping what the rule
 *   needs (`embeddings` are the encoder's features);
 * - acquire, pseudo-label and the labelled set: the shared stages of
 *   `common.ts`.
 *
 * {@link textRound} is the standard round and {@link presetTextExperiment}
 * the preset record (`dsl/experiment.ts` with a text data set and a text
 * encoder) as a composed experiment.
 *
 * The seeds of a run are those the former text loop derived (`encoder/r`,
 * `head/r`, `evaluate/r`, `score/r`), and every stage's maths is that loop's,
 * so its results reproduce (see `results/README.md`).
 *
 * @module
 */
import { isAbsolute, join } from "node:path";
import * as TE from "fp-ts/TaskEither.js";
import * as tf from "@tensorflow/tfjs-core";
import {
  composeExperiment,
  derive,
  type Experiment,
  type Metrics,
  type Round,
  type RoundOutcome,
  type Run,
  source,
  type Step,
  step,
} from "../../dsl/compose.ts";
import { type ExperimentConfig, strategiesOf } from "../../dsl/experiment.ts";
import { log1mexp, multiLabelMeanProbs, multiLabelMetrics } from "../algorithms/multilabel.ts";
import { type LogProbs, meanPredictive } from "../algorithms/scores.ts";
import { countNonFinite, nonFiniteWarning } from "../algorithms/score_check.ts";
import { type Stage, type StageContext, stageError } from "../../dsl/stage.ts";
import {
  type AcquireNeed,
  describeStrategy,
  multiLabelBald,
  multiLabelEntropy,
  type PosteriorDef,
  type PseudoLabels,
  type Rows,
  type ScoreDef,
  type Strategy,
  strategy as makeStrategy,
} from "../../dsl/strategy.ts";
import {
  isMultiLabel,
  isTextDataset,
  isTextEncoder,
  type TableDatasetConfig,
  type TextDatasetConfig,
  type TextDatasetName,
  type TextEncoderSpec,
} from "../../dsl/text.ts";
import { floatArray, scoredCodec, splitCodec } from "./codecs.ts";
import type { ChecksumPolicy } from "../data/mod.ts";
import { loadReuters } from "../data/reuters.ts";
import { loadTextTable } from "../data/text_table.ts";
import { loadTrec } from "../data/trec.ts";
import type { MultiLabelTextDataset, TextDataset } from "../data/types.ts";
import { formatDuration } from "../run/progress.ts";
import type { VognHeadParams } from "../tensor/posterior.ts";
import { deriveSeed, makeRng, shuffled } from "../tensor/rng.ts";
import * as base from "../tensor/stages.ts";
import { encodeFeatures, type HashedBags, hashTexts, pointLogProbs, trainEncoder } from "../tensor/text_encoder.ts";
import { variantsOf } from "./variants.ts";
import {
  fitVognHead,
  fitVognSigmoidHead,
  type VognHead,
  vognHeadLogProbs,
  vognSigmoidHeadLogProbs,
} from "../tensor/vogn.ts";
import { acquisitionSteps, identityOf, type LabelledSet, partModules, presetLoops, type Scored } from "./common.ts";

export { acquireStage, type LabelledSet, labelledSetStage, pseudoLabelStage, type Scored } from "./common.ts";

/** The documents of one split with their tags. */
export interface TextSplit {
  /** The documents. */
  readonly texts: readonly string[];
  /** Multi-hot tags, row-major [N, L] (one-hot for single-label data). */
  readonly tags: Uint8Array;
  /** The class of each document (single-label data only). */
  readonly classes?: Int32Array;
}

/** A text data set split for active learning. */
export interface TextData {
  /** The loader's name (`trec-coarse`, `reuters-modapte`, a table's file name). */
  readonly name: string;
  /** One sigmoid per label (multi-label scores and metrics) when true; a softmax over classes otherwise. */
  readonly multiLabel: boolean;
  /** The training split: the pool and the labelled documents. */
  readonly train: TextSplit;
  /** The test split. */
  readonly test: TextSplit;
  /** L labels or C classes. */
  readonly labels: number;
  /** The name of each label or class, by index. */
  readonly labelNames: readonly string[];
  /** sha256 of the files read: the root of every cache key. */
  readonly contentHash: string;
}

/** What a trained encoder leaves for the later stages: features and its point-estimate output layer. */
export interface EncodedText {
  /** Width of the hidden layer (the features). */
  readonly hidden: number;
  /** C classes or L labels. */
  readonly outputs: number;
  /** The output layer's activation. */
  readonly output: "softmax" | "sigmoid";
  /** Penultimate features of every training document, [Ntrain, hidden]. */
  readonly trainFeatures: Float32Array;
  /** The test documents evaluated (indices into the test split, ascending). */
  readonly testRows: readonly number[];
  /** Their features, [testRows.length, hidden]. */
  readonly testFeatures: Float32Array;
  /** The output layer's weights, [hidden, outputs]. */
  readonly w2: Float32Array;
  /** The output layer's biases, [outputs]. */
  readonly b2: Float32Array;
  /** Mean training loss of the last epoch. */
  readonly loss: number;
  /** Training speed of the last epoch. */
  readonly docsPerSecond: number;
}

/** The round's predictive: the encoder's output layer (T = 1), or T draws of a VOGN head on its features. */
export interface TextPosterior {
  /** T: samples per document. */
  readonly samples: number;
  /** The round's encoder: features and output layer. */
  readonly encoded: EncodedText;
  /** The VOGN head (absent: the encoder's output layer is the prediction). */
  readonly head?: VognHead;
}

const modules = [import.meta.url];

/** Lifts a throwing (async) function into a stage's TaskEither. */
function attempt<O>(name: string, f: () => O | Promise<O>): TE.TaskEither<ReturnType<typeof stageError>, O> {
  return TE.tryCatch(async () => await f(), (e) => stageError(name, (e as Error).message ?? String(e), e));
}

function oneHot(y: Int32Array, classes: number): Uint8Array {
  const out = new Uint8Array(y.length * classes);
  y.forEach((k, i) => (out[i * classes + k] = 1));
  return out;
}

/** A loaded data set as the text pack's stages read it. */
function toTextData(ds: TextDataset | MultiLabelTextDataset): TextData {
  const labels = ds.labelNames.length;
  if (ds.kind === "multilabel") {
    return {
      name: ds.name,
      multiLabel: true,
      train: { texts: ds.train.texts, tags: ds.train.y },
      test: { texts: ds.test.texts, tags: ds.test.y },
      labels,
      labelNames: ds.labelNames,
      contentHash: ds.contentHash,
    };
  }
  const split = (s: TextDataset["train"]): TextSplit => ({ texts: s.texts, tags: oneHot(s.y, labels), classes: s.y });
  return {
    name: ds.name,
    multiLabel: false,
    train: split(ds.train),
    test: split(ds.test),
    labels,
    labelNames: ds.labelNames,
    contentHash: ds.contentHash,
  };
}

function loadOptions(ctx: StageContext) {
  return {
    ...(ctx.data?.dataDir !== undefined ? { dataDir: ctx.data.dataDir } : {}),
    download: ctx.data?.download ?? true,
    ...(ctx.data?.checksums !== undefined ? { checksums: ctx.data.checksums as ChecksumPolicy } : {}),
    log: ctx.progress,
  };
}

/**
 * Load: a built-in text data set from `--data-dir`, checked against its official checksums.
 *
 * @param dataset `trec` (6 coarse classes), `trec-fine` (50 fine classes) or `reuters` (ModApte, multi-label)
 * @returns the stage
 */
export function builtinText(dataset: TextDatasetName): Stage<Record<string, never>, TextData> {
  const name = `load/${dataset}`;
  return {
    kind: "load",
    name,
    version: 1,
    params: { dataset },
    numeric: false,
    modules,
    run: (_input, ctx) =>
      attempt(name, async () => {
        const opts = loadOptions(ctx);
        const ds = dataset === "reuters"
          ? await loadReuters(opts)
          : await loadTrec({ ...opts, labels: dataset === "trec" ? "coarse" : "fine" });
        return toTextData(ds);
      }),
  };
}

/**
 * Load: a user's table of texts and labels (CSV/TSV with a header, or JSONL),
 * through `loadTextTable`; a bad file fails naming the file and its line.
 *
 * @param table the table and its options (`multiLabel`, `textColumn`, `labelColumn`, `testPath`, ...)
 * @param baseDir where relative paths start (the experiment file's directory); default the current one
 * @returns the stage
 */
export function textTable(table: TableDatasetConfig, baseDir?: string): Stage<Record<string, never>, TextData> {
  const name = "load/text-table";
  const at = (p: string) => (baseDir === undefined || isAbsolute(p) ? p : join(baseDir, p));
  return {
    kind: "load",
    name,
    version: 1,
    params: { ...table },
    numeric: false,
    modules,
    run: () =>
      attempt(name, async () =>
        toTextData(
          await loadTextTable(at(table.table), {
            multiLabel: table.multiLabel === true,
            ...(table.testPath !== undefined ? { testPath: at(table.testPath) } : {}),
            ...(table.textColumn !== undefined ? { textColumn: table.textColumn } : {}),
            ...(table.labelColumn !== undefined ? { labelColumn: table.labelColumn } : {}),
            ...(table.labelSeparator !== undefined ? { labelSeparator: table.labelSeparator } : {}),
            ...(table.testFraction !== undefined ? { testFraction: table.testFraction } : {}),
          }),
        )),
  };
}

/**
 * The load stage of a preset's text data set.
 *
 * @param dataset a built-in name or a table
 * @param baseDir where a table's relative paths start
 * @returns the stage
 */
export function textSource(dataset: TextDatasetConfig, baseDir?: string): Stage<Record<string, never>, TextData> {
  return typeof dataset === "string" ? builtinText(dataset) : textTable(dataset, baseDir);
}

/**
 * Warm start: `initial` random training documents; the rest is the pool.
 * The labelled documents keep the order drawn (the encoder's first epoch
 * shuffles positions, so this order is part of the result).
 *
 * @param initial labelled documents
 * @param seed which documents
 * @returns the stage
 */
export function randomWarmStartStage(initial: number, seed: number): Stage<{ readonly data: TextData }, LabelledSet> {
  const name = "warm-start/random";
  return {
    kind: "warm-start",
    name,
    version: 1,
    params: { initial, seed },
    numeric: false,
    modules,
    codec: splitCodec,
    run: ({ data }) =>
      attempt(name, () => {
        const n = data.train.texts.length;
        if (initial >= n) throw new RangeError(`cannot label ${initial} of only ${n} training documents`);
        const order = shuffled(Array.from({ length: n }, (_, i) => i), makeRng(seed));
        return { labelled: order.slice(0, initial), pool: order.slice(initial).sort((a, b) => a - b) };
      }),
  };
}

/**
 * Warm start on single-label data: `perClass` random documents of each class
 * (the image pack's balanced warm start, on the document classes).
 *
 * @param perClass labelled documents per class
 * @param seed which documents
 * @returns the stage
 */
export function balancedWarmStartStage(
  perClass: number,
  seed: number,
): Stage<{ readonly data: TextData }, LabelledSet> {
  const inner = base.warmStart(perClass, seed);
  return {
    ...identityOf(inner),
    modules,
    numeric: false,
    codec: splitCodec,
    run: ({ data }, ctx) => {
      const y = data.train.classes;
      if (!y) return TE.left(stageError(inner.name, "a balanced warm start needs single-label data"));
      return inner.run({ y, classes: data.labels }, ctx);
    },
  };
}

/** Hashed bags of both splits, once per data set and hashing settings (shared by every run and round). */
const bagMemo = new WeakMap<TextData, Map<string, { train: HashedBags; test: HashedBags }>>();

function bagsOf(data: TextData, spec: TextEncoderSpec): { train: HashedBags; test: HashedBags } {
  const opts = { buckets: spec.buckets, maxTokens: spec.maxTokens };
  const key = `${opts.buckets}/${opts.maxTokens}`;
  let byOpts = bagMemo.get(data);
  if (!byOpts) bagMemo.set(data, byOpts = new Map());
  let bags = byOpts.get(key);
  if (!bags) {
    bags = { train: hashTexts(data.train.texts, opts), test: hashTexts(data.test.texts, opts) };
    byOpts.set(key, bags);
  }
  return bags;
}

/**
 * The test documents evaluated: `size` of the `n` drawn once for every run
 * and round (independent of the seeds), ascending; all of them when `size`
 * is 0 or at least `n`.
 *
 * @param n test documents
 * @param size how many to keep (0: all)
 * @returns the indices
 */
export function testSubsetRows(n: number, size: number): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  if (size <= 0 || size >= n) return all;
  return shuffled(all, makeRng(deriveSeed(0, "text/test-subset"))).slice(0, size).sort((a, b) => a - b);
}

/** What the encoder's retrain stage reads. */
export interface EncoderInput {
  /** The data set. */
  readonly data: TextData;
  /** The documents to train on. */
  readonly labelled: LabelledSet;
  /** Pseudo-labelled documents (CEAL, single-label data) trained on too. */
  readonly pseudo?: PseudoLabels;
}

/**
 * Retrain: the hashed n-gram encoder, from scratch, on the labelled
 * documents (then the pseudo-labelled ones); keeps the features of every
 * training document and of the evaluated test documents.
 *
 * @param spec the encoder
 * @param multiLabel sigmoid outputs (binary cross-entropy) instead of a softmax
 * @param testSubset test documents evaluated (0: all)
 * @param seed initial weights and shuffles
 * @returns the stage
 */
export function encoderStage(
  spec: TextEncoderSpec,
  multiLabel: boolean,
  testSubset: number,
  seed: number,
): Stage<EncoderInput, EncodedText> {
  const name = "retrain/text-encoder";
  const output = multiLabel ? "sigmoid" : "softmax";
  const { kind: _kind, ...sizes } = spec;
  return {
    kind: "retrain",
    name,
    version: 1,
    params: { ...sizes, output, testSubset, seed },
    modules,
    run: ({ data, labelled, pseudo }, ctx) =>
      attempt(name, () => {
        const L = data.labels;
        const extra = pseudo?.indices ?? [];
        if (pseudo && pseudo.labels.length !== extra.length) {
          throw new Error(`${extra.length} pseudo-labelled documents but ${pseudo.labels.length} labels`);
        }
        const rows = [...labelled.labelled, ...extra];
        const targets = new Float32Array(rows.length * L);
        labelled.labelled.forEach((doc, k) => {
          for (let l = 0; l < L; l++) targets[k * L + l] = data.train.tags[doc * L + l] as number;
        });
        pseudo?.labels.forEach((c, k) => (targets[(labelled.labelled.length + k) * L + c] = 1));
        const bags = bagsOf(data, spec);
        const testRows = testSubsetRows(data.test.texts.length, testSubset);
        const started = performance.now();
        const { encoder, loss, docsPerSecond } = trainEncoder(bags.train, rows, targets, L, {
          dim: spec.dim,
          hidden: spec.hidden,
          epochs: spec.epochs,
          batchSize: spec.batchSize,
          learningRate: spec.learningRate,
          seed,
          output,
          onEpoch: (epoch, lossNow, rate) => {
            const elapsed = (performance.now() - started) / 1000;
            ctx.progress(
              `retrain epoch ${epoch + 1}/${spec.epochs} loss ${lossNow.toFixed(4)}, ${rate.toFixed(0)} docs/s, ` +
                `ETA ${formatDuration((elapsed / (epoch + 1)) * (spec.epochs - epoch - 1))}`,
            );
          },
        });
        const all = Array.from({ length: bags.train.n }, (_, i) => i);
        return {
          hidden: spec.hidden,
          outputs: L,
          output,
          trainFeatures: encodeFeatures(encoder, bags.train, all),
          testRows,
          testFeatures: encodeFeatures(encoder, bags.test, testRows),
          w2: encoder.w2,
          b2: encoder.b2,
          loss,
          docsPerSecond,
        };
      }),
    codec: {
      encode: (out) => ({
        json: {
          hidden: out.hidden,
          outputs: out.outputs,
          output: out.output,
          loss: Number.isFinite(out.loss) ? out.loss : null,
          docsPerSecond: out.docsPerSecond,
        },
        arrays: {
          trainFeatures: { data: out.trainFeatures, shape: [out.trainFeatures.length / out.hidden, out.hidden] },
          testRows: { data: Int32Array.from(out.testRows), shape: [out.testRows.length] },
          testFeatures: { data: out.testFeatures, shape: [out.testRows.length, out.hidden] },
          w2: { data: out.w2, shape: [out.hidden, out.outputs] },
          b2: { data: out.b2, shape: [out.outputs] },
        },
      }),
      decode: (entry) => {
        const json = entry.json as {
          hidden: number;
          outputs: number;
          output: "softmax" | "sigmoid";
          loss: number | null;
          docsPerSecond: number;
        };
        return {
          ...json,
          loss: json.loss ?? NaN,
          trainFeatures: floatArray(entry, "trainFeatures"),
          testRows: Array.from(entry.arrays["testRows"]?.data ?? []),
          testFeatures: floatArray(entry, "testFeatures"),
          w2: floatArray(entry, "w2"),
          b2: floatArray(entry, "b2"),
        };
      },
    },
  };
}

/** What a text fit-posterior stage reads. */
export interface TextPosteriorInput {
  /** The round's encoder. */
  readonly encoded: EncodedText;
  /** The data set. */
  readonly data: TextData;
  /** The documents the head is fitted on. */
  readonly labelled: LabelledSet;
}

/**
 * Fit-posterior over the encoder: `deterministic` is its own output layer
 * (one sample; bookkeeping, nothing to fit or cache); `vogn-head` fits a
 * diagonal Gaussian head on the labelled documents' features with VOGN (a
 * sigmoid head on multi-label data), cached as its mean and precision.
 *
 * @param def the posterior (deterministic or vogn-head)
 * @param seed seeds the VOGN fit
 * @returns the stage
 * @throws TypeError for a posterior the text pack has not
 */
export function textPosteriorStage(def: PosteriorDef, seed: number): Stage<TextPosteriorInput, TextPosterior> {
  const name = `fit-posterior/${def.name}`;
  if (def.impl || (def.name !== "deterministic" && def.name !== "vogn-head")) {
    throw new TypeError(`the text pack fits deterministic or vogn-head over the encoder, not ${def.name}`);
  }
  if (def.name === "deterministic") {
    return {
      kind: "fit-posterior",
      name,
      version: def.version,
      params: { ...def.params },
      numeric: false,
      modules: [...modules, ...partModules(def)],
      run: ({ encoded }) => TE.right({ samples: 1, encoded }),
    };
  }
  const p = def.params as unknown as VognHeadParams;
  return {
    kind: "fit-posterior",
    name,
    version: def.version,
    params: { ...def.params, seed },
    modules: [...modules, ...partModules(def)],
    run: ({ encoded, data, labelled }, ctx) =>
      attempt(name, () => {
        const d = encoded.hidden, L = data.labels, docs = labelled.labelled, n = docs.length;
        const x = new Float32Array(n * d);
        docs.forEach((doc, k) => x.set(encoded.trainFeatures.subarray(doc * d, (doc + 1) * d), k * d));
        const opts = {
          priorPrecision: p.priorPrecision,
          temperature: p.temperature,
          epochs: p.epochs,
          learningRate: p.learningRate,
          batchSize: p.batchSize,
          mcSamples: p.mcSamples,
          seed,
          onEpoch: (epoch: number, loss: number) =>
            ctx.progress(`fit-posterior VOGN epoch ${epoch + 1}/${p.epochs} loss ${loss.toFixed(4)}`),
        };
        let head: VognHead;
        if (data.multiLabel) {
          const y = new Uint8Array(n * L);
          docs.forEach((doc, k) => y.set(data.train.tags.subarray(doc * L, (doc + 1) * L), k * L));
          head = fitVognSigmoidHead(x, n, d, y, L, opts);
        } else {
          const classes = Int32Array.from(docs, (doc) =>
            Math.max(0, data.train.tags.subarray(doc * L, (doc + 1) * L).indexOf(1)));
          head = fitVognHead(x, n, d, classes, L, opts);
        }
        return { samples: p.samples, encoded, head };
      }),
    codec: {
      encode: (out) => {
        const head = out.head as VognHead;
        return {
          json: { kind: "vogn-head", d: head.d, classes: head.classes, samples: out.samples },
          arrays: {
            mean: { data: head.mean, shape: [head.d + 1, head.classes] },
            precision: { data: head.precision, shape: [head.d + 1, head.classes] },
          },
        };
      },
      decode: async (entry, input) => {
        const json = entry.json as { d: number; classes: number; samples: number };
        const head = {
          d: json.d,
          classes: json.classes,
          mean: floatArray(entry, "mean"),
          precision: floatArray(entry, "precision"),
        };
        return { samples: json.samples, encoded: (await input()).encoded, head };
      },
    },
  };
}

/** Documents per chunk when predicting. */
const CHUNK = 512;

/**
 * Log-probabilities [rows.length, T, C] of a posterior on rows of a feature
 * matrix: T draws of the head (the same draws for every chunk and every
 * call with the same seed: joint samples), or the output layer (T = 1).
 *
 * @param posterior the round's predictive
 * @param features [N, hidden] (training or test features)
 * @param rows which rows
 * @param seed the weight draws
 * @returns log-softmax, or per-label log-sigmoid on multi-label data
 */
export function predictText(
  posterior: TextPosterior,
  features: Float32Array,
  rows: readonly number[],
  seed: number,
): LogProbs {
  const { hidden, outputs, output } = posterior.encoded;
  const head = posterior.head;
  const t = head ? posterior.samples : 1;
  const out = new Float32Array(rows.length * t * outputs);
  for (let start = 0; start < rows.length; start += CHUNK) {
    const chunk = rows.slice(start, start + CHUNK);
    const x = new Float32Array(chunk.length * hidden);
    chunk.forEach((r, k) => x.set(features.subarray(r * hidden, (r + 1) * hidden), k * hidden));
    if (head) {
      const lp = tf.tidy(() => {
        const xt = tf.tensor2d(x, [chunk.length, hidden]);
        // A fresh stream per chunk: every chunk sees the same weight draws.
        return output === "sigmoid"
          ? vognSigmoidHeadLogProbs(xt, head, t, makeRng(seed))
          : vognHeadLogProbs(xt, head, t, makeRng(seed));
      });
      out.set(lp.dataSync(), start * t * outputs);
      lp.dispose();
    } else {
      out.set(pointLogProbs(posterior.encoded, x, chunk.length), start * outputs);
    }
  }
  return { data: out, n: rows.length, t, c: outputs };
}

/** log(1e-7): the floor of a label's log-likelihood in the multi-label NLL. */
const LOG_EPS = Math.log(1e-7);

/** log of the mean over the T samples of exp(lp[i, ·, k]). */
function logMeanExp(lp: LogProbs, i: number, k: number): number {
  let max = -Infinity;
  for (let s = 0; s < lp.t; s++) max = Math.max(max, lp.data[(i * lp.t + s) * lp.c + k] as number);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let s = 0; s < lp.t; s++) sum += Math.exp((lp.data[(i * lp.t + s) * lp.c + k] as number) - max);
  return max + Math.log(sum / lp.t);
}

/**
 * The evaluation metrics of predictions on tagged documents. Ranking metrics
 * (top1, top5, recall) come from the MC-mean probabilities; F1 decisions are
 * probability ≥ 0.5 (multi-label) or the argmax class (single-label, so
 * micro-F1 equals top1); `accuracy` is top1. `nll` is the mean negative
 * log-likelihood of the true tags under the MC-mean predictive: of the
 * class (single-label), or the sum over labels of the Bernoulli terms
 * (multi-label), each label's likelihood floored at 1e-7 as binary
 * cross-entropy usually is (a float32 sigmoid rounds to exactly 0 or 1 for
 * confident labels, which would make it infinite).
 *
 * @param lp predictions [n, T, C]
 * @param truth multi-hot tags [n, C]
 * @param multiLabel how outputs are read
 * @returns the metrics
 */
export function textMetrics(lp: LogProbs, truth: Uint8Array, multiLabel: boolean): Metrics {
  const labels = lp.c;
  const mean = multiLabelMeanProbs({ data: lp.data, n: lp.n, t: lp.t, l: labels });
  const ranked = multiLabelMetrics(mean, truth, { labels });
  let f1 = ranked;
  if (!multiLabel) {
    const argmax = new Float32Array(mean.length);
    for (let i = 0; i < lp.n; i++) {
      let best = 0;
      for (let k = 1; k < labels; k++) if (mean[i * labels + k]! > mean[i * labels + best]!) best = k;
      argmax[i * labels + best] = 1;
    }
    f1 = multiLabelMetrics(argmax, truth, { labels });
  }
  let nll = 0;
  for (let i = 0; i < lp.n; i++) {
    for (let k = 0; k < labels; k++) {
      const on = truth[i * labels + k] !== 0;
      if (!multiLabel && !on) continue;
      const logOn = logMeanExp(lp, i, k);
      if (!multiLabel) nll -= logOn;
      else nll -= Math.max(LOG_EPS, on ? logOn : log1mexp(logOn));
    }
  }
  return {
    accuracy: ranked.top1,
    nll: lp.n > 0 ? nll / lp.n : NaN,
    top1: ranked.top1,
    top5: ranked.top5,
    recall: ranked.recall,
    microF1: f1.microF1,
    macroF1: f1.macroF1,
    documents: ranked.documents,
  };
}

/**
 * Evaluate: the metrics of {@link textMetrics} on the test documents the encoder kept features of.
 *
 * @param seed the weight draws
 * @returns the stage
 */
export function textEvaluateStage(
  seed: number,
): Stage<{ readonly posterior: TextPosterior; readonly data: TextData }, Metrics> {
  const name = "evaluate/text";
  return {
    kind: "evaluate",
    name,
    version: 1,
    params: { seed },
    modules,
    codec: metricsCodec,
    run: ({ posterior, data }) =>
      attempt(name, () => {
        const { testRows, testFeatures } = posterior.encoded;
        const L = data.labels;
        const truth = new Uint8Array(testRows.length * L);
        testRows.forEach((r, k) => truth.set(data.test.tags.subarray(r * L, (r + 1) * L), k * L));
        const rows = Array.from({ length: testRows.length }, (_, i) => i);
        return textMetrics(predictText(posterior, testFeatures, rows, seed), truth, data.multiLabel);
      }),
  };
}

/** Metrics as JSON; a number JSON cannot hold (NaN, an infinite NLL) is kept as its name. */
const metricsCodec = {
  encode: (out: Metrics) => ({
    json: Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Number.isFinite(v) ? v : String(v)])),
  }),
  decode: (entry: { readonly json: unknown }): Metrics =>
    Object.fromEntries(Object.entries(entry.json as Record<string, number | string>).map(([k, v]) => [k, Number(v)])),
};

function featureRows(encoded: EncodedText, docs: readonly number[]): Rows {
  const d = encoded.hidden;
  const data = new Float32Array(docs.length * d);
  docs.forEach((doc, k) => data.set(encoded.trainFeatures.subarray(doc * d, (doc + 1) * d), k * d));
  return { data, d };
}

/**
 * Score: a random subset of the pool (all when 0; ascending) scored under
 * the posterior by any score over [n, T, C] log-probabilities, keeping what
 * the acquisition rule needs (the encoder's features are the embeddings).
 *
 * @param def the score
 * @param seed seeds the subset, the weight draws and the score's own draws
 * @param poolSubset how many pool documents (0: all)
 * @param keep what the rule needs kept beside the scores
 * @returns the stage
 */
export function textScoreStage(
  def: ScoreDef,
  seed: number,
  poolSubset: number,
  keep: readonly AcquireNeed[] = [],
): Stage<{ readonly posterior: TextPosterior; readonly data: TextData; readonly labelled: LabelledSet }, Scored> {
  const name = `score/${def.name}`;
  const inner = base.score(def, seed, poolSubset, keep);
  return {
    ...identityOf(inner),
    modules: [...modules, ...partModules(def)],
    codec: scoredCodec,
    run: ({ posterior, data, labelled }, ctx) =>
      attempt(name, () => {
        const pool = labelled.pool;
        const rng = makeRng(deriveSeed(seed, "pool-subset"));
        const candidates = poolSubset > 0 && pool.length > poolSubset
          ? shuffled(pool, rng).slice(0, poolSubset).sort((a, b) => a - b)
          : [...pool];
        const needLogProbs = keep.includes("logProbs") || keep.includes("meanProbs");
        const { trainFeatures } = posterior.encoded;
        const lp: LogProbs = def.usesPredictions || needLogProbs
          ? predictText(posterior, trainFeatures, candidates, seed)
          : { data: new Float32Array(0), n: candidates.length, t: 0, c: 0 };
        const scoreRng = makeRng(deriveSeed(seed, "score"));
        const scores = def.fn(lp, () => scoreRng.next());
        if (scores.length !== candidates.length) {
          throw new Error(`score "${def.name}" returned ${scores.length} scores for ${candidates.length} documents`);
        }
        const warning = nonFiniteWarning(def.name, countNonFinite(scores), candidates.length);
        if (warning !== undefined) ctx.warn(warning);
        const extra: {
          -readonly [K in Exclude<keyof Scored, "candidates" | "scores">]?: Scored[K];
        } = {};
        if (keep.includes("logProbs")) extra.logProbs = lp;
        if (keep.includes("meanProbs")) extra.meanProbs = { data: meanPredictive(lp), d: lp.c };
        if (keep.includes("embeddings")) extra.embeddings = featureRows(posterior.encoded, candidates);
        if (keep.includes("labelledEmbeddings")) {
          extra.labelledEmbeddings = featureRows(posterior.encoded, labelled.labelled);
        }
        if (keep.includes("labelledLogProbs")) {
          const classes = data.train.classes;
          if (!classes) throw new Error("the rule reads the labelled documents' classes, but the data are multi-label");
          extra.labelledLogProbs = predictText(posterior, trainFeatures, labelled.labelled, seed);
          extra.labelledLabels = Int32Array.from(labelled.labelled, (i) => classes[i] as number);
        }
        return { candidates, scores, ...extra };
      }),
  };
}

/** A round's state in the standard text round. */
export interface TextState {
  /** The labelled set this round trains on. */
  readonly labelled: Step<LabelledSet>;
  /** Its size, known before anything runs (the label budget is planned from it). */
  readonly size: number;
  /** Pseudo-labels made last round, for this round's encoder. */
  readonly pseudo?: Step<PseudoLabels>;
}

/** What the standard round's hook between score and acquire receives. */
export interface TextScoredContext {
  /** The load step. */
  readonly data: Step<TextData>;
  /** The round's labelled set. */
  readonly labelled: Step<LabelledSet>;
  /** The round's posterior. */
  readonly posterior: Step<TextPosterior>;
  /** The round (0 for the warm start's). */
  readonly round: number;
}

/** The parts of the standard text round. */
export interface TextRoundParts {
  /** The load step. */
  readonly data: Step<TextData>;
  /** The encoder trained every round. */
  readonly model: TextEncoderSpec;
  /** Posterior, score, rule and optional pseudo-labels. */
  readonly strategy: Strategy;
  /** The run's seed (every stage's seed is derived from it). */
  readonly seed: number;
  /** Sigmoid outputs per label (multi-label data). */
  readonly multiLabel: boolean;
  /** C classes or L labels. */
  readonly labels: number;
  /** Pool documents scored per round (0: all). */
  readonly poolSubset: number;
  /** Test documents evaluated (0: all). */
  readonly testSubset: number;
  /** Label budget: the run ends when the labelled set reaches it (the last batch is cut to fit). */
  readonly budget?: number;
  /** Extra items the score stage keeps for stages between score and acquire (e.g. "embeddings"). */
  readonly keep?: readonly AcquireNeed[];
  /** A step between score and acquire: gets the scored candidates, returns those the rule picks from. */
  readonly between?: (scored: Step<Scored>, at: TextScoredContext) => Step<Scored>;
}

/**
 * The start state of a run: `initial` random documents, or with `perClass`
 * that many of each class (single-label data).
 *
 * @param data the load step
 * @param warm the warm start's size
 * @param seed the run's seed
 * @returns the state of round 0
 */
export function textWarmStartState(
  data: Step<TextData>,
  warm: { readonly initial: number } | { readonly perClass: number; readonly classes: number },
  seed: number,
): TextState {
  const s = deriveSeed(seed, "warm-start");
  return "initial" in warm
    ? { labelled: step(randomWarmStartStage(warm.initial, s), { data }), size: warm.initial }
    : { labelled: step(balancedWarmStartStage(warm.perClass, s), { data }), size: warm.perClass * warm.classes };
}

/**
 * The standard text round: retrain the encoder → fit-posterior → evaluate →
 * score → [between] → acquire → [pseudo-label], then the next labelled set.
 * The last round (or the one that reaches the budget) only trains and
 * evaluates.
 *
 * @param parts the round's encoder, strategy, seed and sizes
 * @returns the round
 */
export function textRound(parts: TextRoundParts): Round<TextState> {
  const { data, model, strategy, seed, multiLabel } = parts;
  const budget = parts.budget ?? Infinity;
  const keep = [...new Set([...(strategy.acquire.needs ?? []), ...(parts.keep ?? [])])];
  if (strategy.pseudoLabel && !keep.includes("meanProbs")) keep.push("meanProbs");
  return (state, at): RoundOutcome<TextState> => {
    const { round } = at;
    const encoded = step(
      encoderStage(model, multiLabel, parts.testSubset, deriveSeed(seed, `encoder/${round}`)),
      { data, labelled: state.labelled, ...(state.pseudo ? { pseudo: state.pseudo } : {}) },
    );
    const posterior = step(textPosteriorStage(strategy.posterior, deriveSeed(seed, `head/${round}`)), {
      encoded,
      data,
      labelled: state.labelled,
    });
    const metrics = step(textEvaluateStage(deriveSeed(seed, `evaluate/${round}`)), { posterior, data });
    const notes = {
      encoderDocsPerSecond: derive("encoder-speed", { encoded }, ({ encoded }) => encoded.docsPerSecond),
      encoderLoss: derive("encoder-loss", { encoded }, ({ encoded }) => encoded.loss),
    };
    const outcome = { labelled: state.labelled, metrics, notes };
    if (at.last || state.size >= budget) return outcome;
    const scoredAll = step(
      textScoreStage(strategy.score, deriveSeed(seed, `score/${round}`), parts.poolSubset, keep),
      { posterior, data, labelled: state.labelled },
    );
    const scored = parts.between
      ? parts.between(scoredAll, { data, labelled: state.labelled, posterior, round })
      : scoredAll;
    const { acquired, take, labelled, pseudo } = acquisitionSteps({
      scored,
      labelled: state.labelled,
      strategy,
      seed: deriveSeed(seed, `acquire/${round}`),
      round,
      classes: parts.labels,
      size: state.size,
      budget,
    });
    const next: TextState = {
      labelled,
      size: state.size + take,
      ...(pseudo ? { pseudo } : {}),
    };
    const pseudoNotes = pseudo
      ? {
        pseudoLabelled: derive("pseudo-count", { pseudo }, ({ pseudo }) => pseudo.indices.length),
        // Diagnostics only: how many pseudo-labels agree with the withheld true classes.
        pseudoCorrect: derive(
          "pseudo-correct",
          { pseudo, data },
          ({ pseudo, data }) => pseudo.indices.filter((i, k) => data.train.classes?.[i] === pseudo.labels[k]).length,
        ),
      }
      : {};
    return { ...outcome, acquired, notes: { ...notes, ...pseudoNotes }, next };
  };
}

/**
 * A strategy as it runs on the data: on multi-label data the built-in
 * `bald` and `max-entropy` become their per-label versions
 * (`multilabel-bald`, `multilabel-entropy`, summed per expected tag);
 * everything else is kept.
 *
 * @param s the strategy
 * @param multiLabel whether the data are multi-label
 * @returns the strategy that runs
 */
export function textStrategy(s: Strategy, multiLabel: boolean): Strategy {
  if (!multiLabel || s.score.source === undefined) return s;
  const score = s.score.name === "bald"
    ? multiLabelBald()
    : s.score.name === "max-entropy"
    ? multiLabelEntropy()
    : undefined;
  return score
    ? makeStrategy({
      name: s.name,
      posterior: s.posterior,
      score,
      acquire: s.acquire,
      ...(s.pseudoLabel ? { pseudoLabel: s.pseudoLabel } : {}),
    })
    : s;
}

function encoderOf(config: ExperimentConfig): TextEncoderSpec {
  if (!isTextEncoder(config.model)) throw new TypeError(`${config.name}: a text data set needs a text encoder model`);
  return config.model;
}

/**
 * The runs of one preset variant on text: every strategy × seed, each a loop
 * of the standard text round from the warm start.
 *
 * @param config the experiment (one grid point)
 * @param data the load step
 * @param value the loaded data
 * @param variant the grid point's label ("" without a grid)
 * @returns the runs
 */
export function textPresetRuns(config: ExperimentConfig, data: Step<TextData>, value: TextData, variant = ""): Run[] {
  const model = encoderOf(config);
  const warm = config.initialPerClass !== undefined
    ? { perClass: config.initialPerClass, classes: value.labels }
    : { initial: config.initialLabelled ?? 0 };
  const strategies = strategiesOf(config).map((s) => textStrategy(s, value.multiLabel));
  return presetLoops(config, strategies, variant, (strategy, seed, sizes) => ({
    start: textWarmStartState(data, warm, seed),
    round: textRound({ data, model, strategy, seed, multiLabel: value.multiLabel, labels: value.labels, ...sizes }),
  }));
}

/**
 * The composed experiment of a preset record on a text data set: its load
 * step, and for every grid point, strategy and seed the standard text loop.
 *
 * @param config the decoded experiment (a text data set and a text encoder), at the scale to run
 * @param opts `baseDir`: the experiment file's directory, which a table's relative paths start from
 * @returns the composed experiment
 * @throws TypeError when the data set is not a text one
 */
export function presetTextExperiment(
  config: ExperimentConfig,
  opts: { readonly baseDir?: string } = {},
): Experiment<TextData> {
  const dataset = config.dataset;
  if (!isTextDataset(dataset)) throw new TypeError(`${config.name}: ${JSON.stringify(dataset)} is not a text data set`);
  const variants = variantsOf(config);
  const multiLabel = isMultiLabel(dataset);
  return composeExperiment({
    name: config.name,
    ...(config.description !== undefined ? { description: config.description } : {}),
    load: source(textSource(dataset, opts.baseDir)),
    runs: ({ data, value }) => {
      if (value.multiLabel !== multiLabel) {
        throw new Error(`${config.name}: the data set is ${value.multiLabel ? "" : "not "}multi-label`);
      }
      return variants.flatMap(({ label, config }) => textPresetRuns(config, data, value, label));
    },
    meta: {
      config,
      modality: "text",
      strategies: strategiesOf(config).map((s) => describeStrategy(textStrategy(s, multiLabel))),
    },
  });
}
