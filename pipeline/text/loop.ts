/**
 * The active-learning loop for text, a smaller mirror of
 * `pipeline/active_learning.ts` + `pipeline/plan.ts`: for every strategy and
 * seed, warm start (random labelled documents), then per round
 * retrain the encoder from scratch on the labelled set -> fit the VOGN head
 * on its penultimate features (Bayesian strategies only) -> evaluate on the
 * test subset -> score a pool subset -> acquire the top k.
 *
 * Every stage is planned with its cache key before anything runs (keys made
 * of keys, rooted at the data set's content hash) and executed through the
 * caching runner; the first round of every strategy with the same seed
 * shares the warm start and the encoder.
 *
 * Predictions everywhere are log-probabilities [N, T, C]: log-softmax over
 * the C classes (single-label) or log-sigmoid of each of the L labels being
 * on (multi-label), with T = 1 for the point estimate.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as TE from "fp-ts/TaskEither.js";
import { topK } from "../../dsl/acquire.ts";
import { multiLabelMeanProbs, multiLabelMetrics, multiLabelScoreFn } from "../../dsl/multilabel.ts";
import { type Stage, stageError, type StageKind } from "../../dsl/stage.ts";
import { bald, type LogProbs, margin, maxEntropy, randomScore, type ScoreFn } from "../../dsl/scores.ts";
import { topUEntropy } from "../../dsl/top_u.ts";
import { stageKey, type Store } from "../cache/mod.ts";
import { formatDuration, type Progress } from "../progress.ts";
import { deriveSeed, makeRng, shuffled } from "../rng.ts";
import { type Codec, makeRunner, type RunnerStats } from "../runner.ts";
import { plan, type Planned } from "../plan.ts";
import { floatArray, indicesCodec, jsonCodec, scoredCodec, splitCodec } from "../codecs.ts";
import { fitVognHead, fitVognSigmoidHead, type VognHead, vognHeadLogProbs, vognSigmoidHeadLogProbs } from "../vogn.ts";
import type { TextExperimentConfig, TextStrategy } from "./config.ts";
import { encodeFeatures, type HashedBags, hashTexts, pointLogProbs, trainEncoder } from "./encoder.ts";

/** Texts with their tags: multi-hot [N, L] (one-hot for single-label data). */
export interface TaggedTexts {
  readonly texts: readonly string[];
  readonly y: Uint8Array;
}

/** A text data set prepared for the loop. */
export interface TextAlData {
  /** Sigmoid outputs and multi-label scores when true; softmax otherwise. */
  readonly multiLabel: boolean;
  readonly train: TaggedTexts;
  readonly test: TaggedTexts;
  /** L labels or C classes. */
  readonly labels: number;
  /** sha256 of the files read: the root of every cache key. */
  readonly contentHash: string;
}

/** The metrics of one evaluation, all in [0, 1] (see `multiLabelMetrics`). */
export interface TextMetrics {
  readonly top1: number;
  readonly top5: number;
  readonly recall: number;
  readonly microF1: number;
  readonly macroF1: number;
  /** Test documents evaluated (with at least one tag). */
  readonly documents: number;
}

/** One line of `rounds.jsonl`. */
export interface TextRoundRecord extends TextMetrics {
  readonly experiment: string;
  readonly dataset: string;
  readonly strategy: string;
  readonly bayesian: boolean;
  readonly score: string;
  readonly seed: number;
  readonly round: number;
  readonly labelled: number;
  /** Train-set indices acquired after this round's evaluation. */
  readonly acquired: readonly number[];
  readonly seconds: Readonly<Record<string, number>>;
  /** Stage kinds of this round restored from the cache. */
  readonly cacheHits: readonly string[];
  /** The encoder's mean training loss in its last epoch. */
  readonly encoderLoss: number;
  readonly encoderDocsPerSecond: number;
  /** `tf.memory().numTensors` at the start of the round (leak check). */
  readonly numTensors: number;
  readonly backend: string;
}

/** Options of {@link runTextLoop}. */
export interface TextLoopOptions {
  readonly progress: Progress;
  readonly backend: string;
  readonly store?: Store;
  readonly refresh?: ReadonlySet<string>;
  readonly onRound: (record: TextRoundRecord) => Promise<void>;
}

/** What a trained encoder leaves for the later stages: features and its point-estimate output layer. */
export interface EncodedText {
  readonly hidden: number;
  readonly outputs: number;
  /** [Ntrain, hidden] */
  readonly trainFeatures: Float32Array;
  /** [testRows.length, hidden] */
  readonly testFeatures: Float32Array;
  readonly w2: Float32Array;
  readonly b2: Float32Array;
  readonly loss: number;
  readonly docsPerSecond: number;
}

/** A predictor: the encoder's features with either the VOGN head or the point-estimate layer. */
interface TextModel {
  readonly encoded: EncodedText;
  readonly head?: VognHead;
}

interface Scored {
  readonly candidates: number[];
  readonly scores: Float64Array;
}

// ---- Predictions ----

const CHUNK = 512;

/**
 * Log-probabilities [rows.length, T, C] of a model on rows of a feature
 * matrix: T draws of the head (the same draws for every chunk), or the
 * point estimate (T = 1).
 */
function predict(
  model: TextModel,
  features: Float32Array,
  rows: readonly number[],
  multiLabel: boolean,
  samples: number,
  seed: number,
): LogProbs {
  const { hidden, outputs } = model.encoded;
  const t = model.head ? samples : 1;
  const out = new Float32Array(rows.length * t * outputs);
  for (let start = 0; start < rows.length; start += CHUNK) {
    const chunk = rows.slice(start, start + CHUNK);
    const x = new Float32Array(chunk.length * hidden);
    chunk.forEach((r, k) => x.set(features.subarray(r * hidden, (r + 1) * hidden), k * hidden));
    if (model.head) {
      const head = model.head;
      const lp = tf.tidy(() => {
        const xt = tf.tensor2d(x, [chunk.length, hidden]);
        // A fresh stream per chunk: every chunk sees the same weight draws.
        return multiLabel
          ? vognSigmoidHeadLogProbs(xt, head, samples, makeRng(seed))
          : vognHeadLogProbs(xt, head, samples, makeRng(seed));
      });
      out.set(lp.dataSync(), start * t * outputs);
      lp.dispose();
    } else {
      out.set(
        pointLogProbs({ ...model.encoded, output: multiLabel ? "sigmoid" : "softmax" }, x, chunk.length),
        start * outputs,
      );
    }
  }
  return { data: out, n: rows.length, t, c: outputs };
}

/**
 * The talk's metrics on predictions. Ranking metrics (top1, top5, recall)
 * come from the MC-mean probabilities. F1: multi-label decisions are
 * probability ≥ 0.5; single-label decisions are the argmax class (so micro-F1
 * equals accuracy, and top1 too).
 */
function metricsOf(lp: LogProbs, truth: Uint8Array, multiLabel: boolean): TextMetrics {
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
  return {
    top1: ranked.top1,
    top5: ranked.top5,
    recall: ranked.recall,
    microF1: f1.microF1,
    macroF1: f1.macroF1,
    documents: ranked.documents,
  };
}

/**
 * The score function of a strategy: multi-label entropy and BALD come from
 * `dsl/multilabel.ts` with the strategy's aggregate (default "sum-per-tag",
 * the normalisation by the expected number of tags); margin ("difference
 * uncertainty" 1 - (y⁽¹⁾ - y⁽²⁾)) ranks the mean per-label probabilities in
 * the multi-label case; top-u ranks labels within each draw.
 *
 * @param strategy the strategy
 * @param multiLabel whether predictions are per-label sigmoids
 * @returns the score function
 */
export function textScoreFn(strategy: TextStrategy, multiLabel: boolean): ScoreFn {
  const aggregate = strategy.aggregate ?? "sum-per-tag";
  switch (strategy.score) {
    case "random":
      return randomScore;
    case "entropy":
      return multiLabel ? multiLabelScoreFn("entropy", aggregate) : maxEntropy;
    case "bald":
      return multiLabel ? multiLabelScoreFn("bald", aggregate) : bald;
    case "margin":
      return margin;
    case "top-u":
      return topUEntropy(strategy.u ?? 1);
  }
}

// ---- Stages ----

function stage<I, O>(
  kind: StageKind,
  name: string,
  params: Record<string, unknown>,
  run: (input: I, ctx: { progress: (m: string) => void; warn: (m: string) => void }) => O | Promise<O>,
): Stage<I, O> {
  return {
    kind,
    name,
    version: 1,
    params,
    run: (input, ctx) =>
      TE.tryCatch(
        async () => await run(input, ctx),
        (e) => stageError(name, e instanceof Error ? e.message : String(e), e),
      ),
  };
}

function warmStartStage(initial: number, seed: number): Stage<{ n: number }, { labelled: number[]; pool: number[] }> {
  return stage("warm-start", "text/warm-start", { initial, seed }, ({ n }) => {
    if (initial >= n) throw new RangeError(`cannot label ${initial} of only ${n} training documents`);
    const order = shuffled(Array.from({ length: n }, (_, i) => i), makeRng(seed));
    return { labelled: order.slice(0, initial), pool: order.slice(initial).sort((a, b) => a - b) };
  });
}

interface RetrainInput {
  readonly data: TextAlData;
  readonly trainBags: HashedBags;
  readonly testBags: HashedBags;
  readonly testRows: readonly number[];
  readonly labelled: readonly number[];
}

function retrainStage(config: TextExperimentConfig, multiLabel: boolean, seed: number) {
  const enc = config.encoder;
  return stage<RetrainInput, EncodedText>(
    "retrain",
    "text/encoder",
    { ...enc, output: multiLabel ? "sigmoid" : "softmax", testSubset: config.testSubset, seed },
    ({ data, trainBags, testBags, testRows, labelled }, ctx) => {
      const L = data.labels;
      const targets = new Float32Array(labelled.length * L);
      labelled.forEach((doc, k) => {
        for (let l = 0; l < L; l++) targets[k * L + l] = data.train.y[doc * L + l] as number;
      });
      const started = performance.now();
      const { encoder, loss, docsPerSecond } = trainEncoder(trainBags, labelled, targets, L, {
        dim: enc.dim,
        hidden: enc.hidden,
        epochs: enc.epochs,
        batchSize: enc.batchSize,
        learningRate: enc.learningRate,
        seed,
        output: multiLabel ? "sigmoid" : "softmax",
        onEpoch: (epoch, lossNow, rate) => {
          const elapsed = (performance.now() - started) / 1000;
          ctx.progress(
            `retrain epoch ${epoch + 1}/${enc.epochs} loss ${lossNow.toFixed(4)}, ${rate.toFixed(0)} docs/s, ` +
              `ETA ${formatDuration((elapsed / (epoch + 1)) * (enc.epochs - epoch - 1))}`,
          );
        },
      });
      const all = Array.from({ length: trainBags.n }, (_, i) => i);
      return {
        hidden: enc.hidden,
        outputs: L,
        trainFeatures: encodeFeatures(encoder, trainBags, all),
        testFeatures: encodeFeatures(encoder, testBags, testRows),
        w2: encoder.w2,
        b2: encoder.b2,
        loss,
        docsPerSecond,
      };
    },
  );
}

function headStage(config: TextExperimentConfig, multiLabel: boolean, seed: number) {
  const h = config.head;
  return stage<{ encoded: EncodedText; data: TextAlData; labelled: readonly number[] }, VognHead>(
    "fit-posterior",
    "text/vogn-head",
    { ...h, seed, multiLabel },
    ({ encoded, data, labelled }, ctx) => {
      const d = encoded.hidden, L = data.labels, n = labelled.length;
      const x = new Float32Array(n * d);
      labelled.forEach((doc, k) => x.set(encoded.trainFeatures.subarray(doc * d, (doc + 1) * d), k * d));
      const opts = {
        priorPrecision: h.priorPrecision,
        epochs: h.epochs,
        seed,
        ...(h.learningRate !== undefined ? { learningRate: h.learningRate } : {}),
        ...(h.batchSize !== undefined ? { batchSize: h.batchSize } : {}),
        ...(h.mcSamples !== undefined ? { mcSamples: h.mcSamples } : {}),
        ...(h.temperature !== undefined ? { temperature: h.temperature } : {}),
        onEpoch: (epoch: number, loss: number) =>
          ctx.progress(`fit-posterior VOGN epoch ${epoch + 1}/${h.epochs} loss ${loss.toFixed(4)}`),
      };
      if (multiLabel) {
        const y = new Uint8Array(n * L);
        labelled.forEach((doc, k) => y.set(data.train.y.subarray(doc * L, (doc + 1) * L), k * L));
        return fitVognSigmoidHead(x, n, d, y, L, opts);
      }
      const classes = new Int32Array(n);
      labelled.forEach((doc, k) => {
        classes[k] = Math.max(0, data.train.y.subarray(doc * L, (doc + 1) * L).indexOf(1));
      });
      return fitVognHead(x, n, d, classes, L, opts);
    },
  );
}

function evaluateStage(samples: number, seed: number, multiLabel: boolean) {
  return stage<{ model: TextModel; truth: Uint8Array }, TextMetrics>(
    "evaluate",
    "text/evaluate",
    { samples, seed },
    ({ model, truth }) => {
      const n = model.encoded.testFeatures.length / model.encoded.hidden;
      const rows = Array.from({ length: n }, (_, i) => i);
      const lp = predict(model, model.encoded.testFeatures, rows, multiLabel, samples, seed);
      return metricsOf(lp, truth, multiLabel);
    },
  );
}

function scoreStage(strategy: TextStrategy, samples: number, poolSubset: number, seed: number, multiLabel: boolean) {
  const { name: _name, ...identity } = strategy;
  return stage<{ model: TextModel; pool: readonly number[] }, Scored>(
    "score",
    "text/score",
    { ...identity, samples, poolSubset, seed },
    ({ model, pool }) => {
      const rng = makeRng(deriveSeed(seed, "pool-subset"));
      const candidates = pool.length > poolSubset
        ? shuffled(pool, rng).slice(0, poolSubset).sort((a, b) => a - b)
        : [...pool];
      const lp = predict(model, model.encoded.trainFeatures, candidates, multiLabel, samples, seed);
      const scoreRng = makeRng(deriveSeed(seed, "score"));
      return { candidates, scores: textScoreFn(strategy, multiLabel)(lp, () => scoreRng.next()) };
    },
  );
}

function acquireStage(size: number) {
  return stage<Scored, number[]>(
    "acquire",
    "text/acquire",
    { size },
    (scored, ctx) => topK("text/acquire", scored.candidates, scored.scores, size, ctx.warn).indices,
  );
}

// ---- Codecs ----

const encodedCodec: Codec<unknown, EncodedText> = {
  encode: (out) => ({
    json: { hidden: out.hidden, outputs: out.outputs, loss: out.loss, docsPerSecond: out.docsPerSecond },
    arrays: {
      trainFeatures: { data: out.trainFeatures, shape: [out.trainFeatures.length / out.hidden, out.hidden] },
      testFeatures: { data: out.testFeatures, shape: [out.testFeatures.length / out.hidden, out.hidden] },
      w2: { data: out.w2, shape: [out.hidden, out.outputs] },
      b2: { data: out.b2, shape: [out.outputs] },
    },
  }),
  decode: (entry) => {
    const json = entry.json as { hidden: number; outputs: number; loss: number; docsPerSecond: number };
    return {
      ...json,
      trainFeatures: floatArray(entry, "trainFeatures"),
      testFeatures: floatArray(entry, "testFeatures"),
      w2: floatArray(entry, "w2"),
      b2: floatArray(entry, "b2"),
    };
  },
};

const headCodec: Codec<unknown, VognHead> = {
  encode: (out) => ({
    json: { d: out.d, classes: out.classes },
    arrays: {
      mean: { data: out.mean, shape: [out.d + 1, out.classes] },
      precision: { data: out.precision, shape: [out.d + 1, out.classes] },
    },
  }),
  decode: (entry) => {
    const json = entry.json as { d: number; classes: number };
    return { ...json, mean: floatArray(entry, "mean"), precision: floatArray(entry, "precision") };
  },
};

// ---- Plan ----

/** The stages of one round with their keys (the last round has no score or acquire). */
export interface TextRoundPlan {
  readonly round: number;
  readonly labelled: number;
  readonly retrain: Planned<ReturnType<typeof retrainStage>>;
  readonly head?: Planned<ReturnType<typeof headStage>>;
  readonly evaluate: Planned<ReturnType<typeof evaluateStage>>;
  readonly score?: Planned<ReturnType<typeof scoreStage>>;
  readonly acquire?: Planned<ReturnType<typeof acquireStage>>;
}

/** Every stage of one (strategy, seed) run. */
export interface TextRunPlan {
  readonly strategy: TextStrategy;
  readonly seed: number;
  readonly warmStart: Planned<ReturnType<typeof warmStartStage>>;
  readonly rounds: readonly TextRoundPlan[];
}

/**
 * Plans one run: every stage's key, before anything runs. Hashing settings
 * (buckets, maxTokens) are encoder params, so they are in the encoder key.
 *
 * @param config the experiment
 * @param dataKey the data set's content hash
 * @param multiLabel whether the data are multi-label
 * @param strategy the strategy
 * @param seed the run's seed
 * @returns the plan
 */
export async function planTextRun(
  config: TextExperimentConfig,
  dataKey: string,
  multiLabel: boolean,
  strategy: TextStrategy,
  seed: number,
): Promise<TextRunPlan> {
  const warmStart = await plan(warmStartStage(config.initialLabelled, deriveSeed(seed, "warm-start")), [dataKey]);
  let labelledKey = warmStart.key;
  let labelled: number = config.initialLabelled;
  const samples = strategy.bayesian ? config.head.samples : 1;
  const rounds: TextRoundPlan[] = [];
  for (let round = 0; round <= config.rounds; round++) {
    const retrain = await plan(
      retrainStage(config, multiLabel, deriveSeed(seed, `encoder/${round}`)),
      [dataKey, labelledKey],
    );
    const head = strategy.bayesian
      ? await plan(headStage(config, multiLabel, deriveSeed(seed, `head/${round}`)), [retrain.key, labelledKey])
      : undefined;
    const modelKey = head ? head.key : retrain.key;
    const evaluate = await plan(evaluateStage(samples, deriveSeed(seed, `evaluate/${round}`), multiLabel), [
      modelKey,
      dataKey,
    ]);
    if (round === config.rounds) {
      rounds.push({ round, labelled, retrain, ...(head ? { head } : {}), evaluate });
      break;
    }
    const score = await plan(
      scoreStage(strategy, samples, config.poolSubset, deriveSeed(seed, `score/${round}`), multiLabel),
      [modelKey, labelledKey, dataKey],
    );
    const acquire = await plan(acquireStage(config.acquireSize), [score.key]);
    rounds.push({ round, labelled, retrain, ...(head ? { head } : {}), evaluate, score, acquire });
    labelledKey = await stageKey({ name: "labelled-set", version: 1, params: {}, inputs: [labelledKey, acquire.key] });
    labelled += config.acquireSize;
  }
  return { strategy, seed, warmStart, rounds };
}

// ---- Loop ----

/**
 * The fixed test subset: `size` test documents drawn once for the whole
 * experiment (independent of the seeds), in increasing order.
 *
 * @param n test documents
 * @param size how many to keep
 * @returns the indices
 */
export function testSubsetRows(n: number, size: number): number[] {
  if (size >= n) return Array.from({ length: n }, (_, i) => i);
  return shuffled(Array.from({ length: n }, (_, i) => i), makeRng(deriveSeed(0, "text/test-subset")))
    .slice(0, size)
    .sort((a, b) => a - b);
}

/**
 * Runs every (strategy, seed) run of a text experiment.
 *
 * @param config the decoded experiment (at the chosen scale)
 * @param data the prepared data set
 * @param opts progress, cache and the sink of round records
 * @returns stage counters of the whole run
 */
export async function runTextLoop(
  config: TextExperimentConfig,
  data: TextAlData,
  opts: TextLoopOptions,
): Promise<RunnerStats> {
  let where = "";
  const runner = makeRunner(opts.progress, () => where, {
    ...(opts.store ? { store: opts.store } : {}),
    refresh: opts.refresh ?? new Set(),
  });
  const { multiLabel, labels } = data;
  const hashOpts = { buckets: config.encoder.buckets, maxTokens: config.encoder.maxTokens };
  const trainBags = hashTexts(data.train.texts, hashOpts);
  const testBags = hashTexts(data.test.texts, hashOpts);
  const testRows = testSubsetRows(data.test.texts.length, config.testSubset);
  const truth = new Uint8Array(testRows.length * labels);
  testRows.forEach((r, k) => truth.set(data.test.y.subarray(r * labels, (r + 1) * labels), k * labels));

  const plans = await Promise.all(
    config.strategies.flatMap((s) =>
      config.seeds.map((seed) => planTextRun(config, data.contentHash, multiLabel, s, seed))
    ),
  );
  const total = plans.reduce((n, p) => n + p.rounds.length, 0);
  let done = 0;
  const start = performance.now();

  for (const [runIndex, p] of plans.entries()) {
    const { strategy, seed } = p;
    const label = `${strategy.name} seed ${seed}`;
    where = `run ${runIndex + 1}/${plans.length} ${label}`;
    const split = await runner.run(
      p.warmStart.stage,
      p.warmStart.key,
      () => ({ n: data.train.texts.length }),
      splitCodec,
    );
    const labelled = [...split.out.labelled];
    let pool = split.out.pool;
    for (const step of p.rounds) {
      where = `run ${runIndex + 1}/${plans.length} ${label} round ${step.round}/${config.rounds}`;
      const numTensors = tf.memory().numTensors;
      const hits: string[] = [];
      const seconds: Record<string, number> = {};
      const note = (kind: string, r: { hit: boolean; seconds: number }) => {
        seconds[kind] = r.seconds;
        if (r.hit) hits.push(kind);
      };
      const currentLabelled = [...labelled];
      const encoded = await runner.run(
        step.retrain.stage,
        step.retrain.key,
        () => ({ data, trainBags, testBags, testRows, labelled: currentLabelled }),
        encodedCodec,
      );
      note("retrain", encoded);
      let model: TextModel = { encoded: encoded.out };
      if (step.head) {
        const head = await runner.run(
          step.head.stage,
          step.head.key,
          () => ({ encoded: encoded.out, data, labelled: currentLabelled }),
          headCodec,
        );
        note("fit-posterior", head);
        model = { encoded: encoded.out, head: head.out };
      }
      const evaluated = await runner.run(
        step.evaluate.stage,
        step.evaluate.key,
        () => ({ model, truth }),
        jsonCodec<TextMetrics>(),
      );
      note("evaluate", evaluated);
      let acquired: number[] = [];
      if (step.score && step.acquire) {
        const currentPool = pool;
        const scored = await runner.run(
          step.score.stage,
          step.score.key,
          () => ({ model, pool: currentPool }),
          scoredCodec,
        );
        note("score", scored);
        const picked = await runner.run(step.acquire.stage, step.acquire.key, () => scored.out, indicesCodec);
        note("acquire", picked);
        acquired = picked.out;
      }
      const record: TextRoundRecord = {
        experiment: config.name,
        dataset: config.dataset,
        strategy: strategy.name,
        bayesian: strategy.bayesian,
        score: strategy.score,
        seed,
        round: step.round,
        labelled: labelled.length,
        ...evaluated.out,
        acquired,
        seconds,
        cacheHits: hits,
        encoderLoss: encoded.out.loss,
        encoderDocsPerSecond: encoded.out.docsPerSecond,
        numTensors,
        backend: opts.backend,
      };
      await opts.onRound(record);
      const taken = new Set(acquired);
      labelled.push(...acquired);
      pool = pool.filter((i) => !taken.has(i));
      done++;
      const elapsed = (performance.now() - start) / 1000;
      opts.progress.line(
        `${where} | labelled ${record.labelled} top1 ${record.top1.toFixed(3)} microF1 ${record.microF1.toFixed(3)}` +
          `${hits.length > 0 ? ` (cached: ${hits.join(", ")})` : ""} | ${done}/${total} rounds, ` +
          `ETA ${formatDuration((elapsed / done) * (total - done))}`,
      );
    }
  }
  return runner.stats;
}
