/**
 * The tensor stages of an image active-learning experiment: warm-start,
 * retrain (fit the net), fit-posterior (MC dropout over the fitted net),
 * score, acquire and evaluate. Each is a {@link Stage} value; the image pack
 * (`packs/images.ts`) wraps them for composition, and the interpreter runs them.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as TE from "fp-ts/TaskEither.js";
import type { TrainConfig } from "../../dsl/experiment.ts";
import type { NetSpec } from "../../dsl/model.ts";
import { type Stage, type StageContext, type StageError, stageError } from "../../dsl/stage.ts";
import { type LogProbs, meanPredictive } from "../algorithms/scores.ts";
import { countNonFinite, nonFiniteWarning } from "../algorithms/score_check.ts";
import type {
  AcquireDef,
  AcquireNeed,
  PosteriorDef,
  PseudoLabelDef,
  PseudoLabels,
  Rows,
  ScoredCandidates,
  ScoreDef,
} from "../../dsl/strategy.ts";
import { createNet, disposeNet, type Net } from "./net.ts";
import { embedRows, type FitInput, joinRows, type Posterior, posteriorImpl } from "./posterior.ts";
import { deriveSeed, makeRng, type Rng, shuffled } from "./rng.ts";
import { scoresOnDevice, type TensorScore, tensorScoreOf } from "./device_scores.ts";
import { isGpuBackend } from "./device.ts";
import { jointEntropiesOnDevice, nearestCentresOnDevice } from "./device_batch.ts";
import { type ImageArray, imagesToTensor, trainNet } from "./train.ts";

/** Items per chunk when scoring or evaluating. Bounds memory, not the pool size. */
export const CHUNK = 256;

/** Labelled images of one split. */
export interface LabelledImages extends ImageArray {
  /** The class of each image, [N]. */
  readonly y: Int32Array;
}

/** Lifts a throwing async function into a TaskEither at the stage's edge. */
function attempt<O>(name: string, f: () => Promise<O>): TE.TaskEither<StageError, O> {
  return TE.tryCatch(f, (e) => stageError(name, (e as Error).message ?? String(e), e));
}

/**
 * Warm start: a class-balanced random labelled set, the rest is the pool.
 *
 * @param perClass labelled items per class
 * @param seed which items
 * @returns the stage
 */
export function warmStart(
  perClass: number,
  seed: number,
): Stage<{ readonly y: Int32Array; readonly classes: number }, { labelled: number[]; pool: number[] }> {
  const name = "warm-start/balanced";
  return {
    kind: "warm-start",
    name,
    version: 1,
    params: { perClass, seed },
    run: ({ y, classes }) =>
      attempt(name, () => {
        const order = shuffled(Array.from({ length: y.length }, (_, i) => i), makeRng(seed));
        const taken = new Array<number>(classes).fill(0);
        const labelled: number[] = [];
        for (const i of order) {
          const c = y[i] as number;
          if ((taken[c] as number) < perClass) {
            taken[c] = (taken[c] as number) + 1;
            labelled.push(i);
          }
        }
        const short = taken.findIndex((n) => n < perClass);
        if (short >= 0) {
          throw new Error(`class ${short} has only ${taken[short]} items, fewer than ${perClass} asked for`);
        }
        const isLabelled = new Uint8Array(y.length);
        for (const i of labelled) isLabelled[i] = 1;
        const pool = order.filter((i) => !isLabelled[i]).sort((a, b) => a - b);
        return Promise.resolve({ labelled: labelled.sort((a, b) => a - b), pool });
      }),
  };
}

/**
 * Retrain: fits a fresh (or the given) net on the labelled items, plus the
 * pseudo-labelled ones when the strategy makes them (CEAL). Pseudo-labels
 * train this net only; they are not part of the labelled set.
 *
 * @param spec architecture
 * @param train hyper-parameters
 * @param initSeed seed of the initial weights
 * @param trainSeed seed of data order and dropout masks
 * @returns the stage; its output net is owned by the caller
 */
export function retrain(
  spec: NetSpec,
  train: TrainConfig,
  initSeed: number,
  trainSeed: number,
): Stage<
  {
    readonly data: LabelledImages;
    readonly labelled: readonly number[];
    readonly classes: number;
    readonly from?: Net;
    readonly pseudo?: PseudoLabels;
  },
  { net: Net; imagesPerSecond: number; loss: number }
> {
  const name = "retrain/adam";
  return {
    kind: "retrain",
    name,
    version: 1,
    params: { spec, train, initSeed, trainSeed },
    run: ({ data, labelled, classes, from, pseudo }, ctx) =>
      attempt(name, async () => {
        const extra = pseudo?.indices ?? [];
        if (pseudo && pseudo.labels.length !== extra.length) {
          throw new Error(`${extra.length} pseudo-labelled items but ${pseudo.labels.length} labels`);
        }
        const net = from ?? createNet(spec, initSeed);
        const x = imagesToTensor(data, extra.length > 0 ? [...labelled, ...extra] : labelled);
        const y = Int32Array.from(labelled, (i) => data.y[i] as number);
        const targets = extra.length > 0 ? Int32Array.from([...y, ...(pseudo?.labels ?? [])]) : y;
        try {
          const report = await trainNet(net, x, targets, classes, {
            ...train,
            seed: trainSeed,
            onEpoch: (epoch, loss, ips) =>
              ctx.progress(
                `retrain epoch ${epoch + 1}/${train.epochs} loss ${loss.toFixed(3)} ${ips.toFixed(0)} img/s`,
              ),
          });
          return { net, imagesPerSecond: report.imagesPerSecond, loss: report.finalLoss };
        } catch (e) {
          if (!from) disposeNet(net);
          throw e;
        } finally {
          x.dispose();
        }
      }),
  };
}

/**
 * Fit-posterior: builds the strategy's posterior around the round's net
 * (MC dropout: the net itself, sampled with dropout on).
 *
 * @param def the posterior
 * @param seed seeds anything the fit draws
 * @returns the stage; the posterior is owned by the caller
 */
export function fitPosterior(def: PosteriorDef, seed: number): Stage<Omit<FitInput, "seed">, Posterior> {
  const name = `fit-posterior/${def.name}`;
  const impl = posteriorImpl(def);
  return {
    kind: "fit-posterior",
    name,
    version: def.version,
    params: { ...def.params, seed },
    ...(def.impl ? { code: sourceOf(def.impl) } : {}),
    run: (input, ctx) => attempt(name, () => impl.fit({ ...input, seed }, ctx)),
  };
}

/** Source text of a user-supplied object's functions: part of its cache identity. */
function sourceOf(impl: object): string {
  return Object.entries(impl).map(([k, v]) => `${k}:${typeof v === "function" ? v.toString() : ""}`).join("\n");
}

/** What a score stage returns: the pool items it scored, their scores, and what the acquire rule asked to keep. */
export interface Scored extends ScoredCandidates {
  /** Pool items (train-set indices), one per score. */
  readonly candidates: number[];
}

/**
 * Embeddings of some items under a posterior, in chunks.
 *
 * @param posterior the posterior (must implement `embed`)
 * @param images where the items are
 * @param indices which items
 * @returns [indices.length, D] rows
 */
export function embedItems(posterior: Posterior, images: ImageArray, indices: readonly number[]): Promise<Rows> {
  const embed = posterior.embed;
  if (!embed) return Promise.reject(new Error("the posterior gives no embeddings (its implementation has no embed)"));
  return embedRows((x) => embed.call(posterior, x), images, indices);
}

/**
 * Log-probabilities [n, T, C] of a chunk of items under a posterior, read back to JS.
 *
 * @param posterior the posterior
 * @param images where the items are
 * @param indices which items
 * @param rng randomness of the samples
 * @returns the chunk as {@link LogProbs}
 */
export async function chunkLogProbs(
  posterior: Posterior,
  images: ImageArray,
  indices: ArrayLike<number>,
  rng: Rng,
): Promise<LogProbs> {
  const lp = tf.tidy(() => posterior.logProbs(imagesToTensor(images, indices), rng));
  try {
    const [n, t, c] = lp.shape;
    return { data: (await lp.data()) as Float32Array, n, t, c };
  } finally {
    lp.dispose();
  }
}

/**
 * One chunk's scores computed by a score's tensor form where the posterior's
 * log-probabilities are: only the `[n]` scores are read back.
 *
 * @param form the tensor form (see `device_scores.ts`)
 * @param posterior the fitted posterior
 * @param images the pool's images
 * @param indices the chunk's items
 * @param rng the posterior's sample stream
 * @returns one score per item
 */
export async function scoreOnDevice(
  form: TensorScore,
  posterior: Posterior,
  images: ImageArray,
  indices: ArrayLike<number>,
  rng: Rng,
): Promise<Float64Array> {
  const scores = tf.tidy(() => form(posterior.logProbs(imagesToTensor(images, indices), rng)));
  try {
    return Float64Array.from(await scores.data());
  } finally {
    scores.dispose();
  }
}

/**
 * Score: draws `poolSubset` random candidates from the pool (all when 0) and
 * scores them, streamed over chunks of {@link CHUNK}.
 *
 * @param def the score
 * @param seed seeds the candidate subset and the posterior samples
 * @param poolSubset how many pool items to score (0: all)
 * @returns the stage
 */
export function score(
  def: ScoreDef,
  seed: number,
  poolSubset: number,
  keep: readonly AcquireNeed[] = [],
): Stage<
  {
    readonly posterior: Posterior;
    readonly images: ImageArray;
    readonly pool: readonly number[];
    readonly labelled?: readonly number[];
    /** Labels of the train set (needed when the rule keeps "labelledLogProbs"). */
    readonly labels?: Int32Array;
  },
  Scored
> {
  const name = `score/${def.name}`;
  return {
    kind: "score",
    name,
    version: def.version,
    params: { ...def.params, seed, poolSubset, ...(keep.length > 0 ? { keep: [...keep].sort() } : {}) },
    code: def.fn.toString(),
    run: ({ posterior, images, pool, labelled, labels }, ctx) =>
      attempt(name, async () => {
        const rng = makeRng(seed);
        const candidates = poolSubset > 0 && poolSubset < pool.length
          ? shuffled(pool, rng).slice(0, poolSubset)
          : [...pool];
        const out = new Float64Array(candidates.length);
        const rand = () => rng.next();
        const keepLogProbs = keep.includes("logProbs");
        const keepMean = keep.includes("meanProbs");
        const kept: LogProbs[] = [];
        const means: Rows[] = [];
        // On a GPU a built-in score runs as tensor ops there: only [n] scores come back.
        const tensorScore = def.usesPredictions && !keepLogProbs && !keepMean && scoresOnDevice(tf.getBackend())
          ? tensorScoreOf(def.fn)
          : undefined;
        /** A chunk's log-probabilities read back and scored by the JS form (and kept, when the rule asks). */
        const scoreInJs = async (idx: readonly number[]): Promise<Float64Array> => {
          const lp: LogProbs = def.usesPredictions || keepLogProbs || keepMean
            ? await chunkLogProbs(posterior, images, idx, rng)
            : { data: new Float32Array(0), n: idx.length, t: 0, c: 0 };
          if (keepLogProbs) kept.push(lp);
          if (keepMean) means.push({ data: meanPredictive(lp), d: lp.c });
          return def.fn(lp, rand);
        };
        const start = performance.now();
        const nonFinite = countNonFinite([]);
        for (let s = 0; s < candidates.length; s += CHUNK) {
          const idx = candidates.slice(s, s + CHUNK);
          const chunkScores = tensorScore !== undefined
            ? await scoreOnDevice(tensorScore, posterior, images, idx, rng)
            : await scoreInJs(idx);
          if (chunkScores.length !== idx.length) {
            throw new Error(`score "${def.name}" returned ${chunkScores.length} scores for ${idx.length} items`);
          }
          out.set(chunkScores, s);
          countNonFinite(chunkScores, nonFinite);
          const done = Math.min(s + CHUNK, candidates.length);
          ctx.progress(
            `score ${done}/${candidates.length} ${(done / ((performance.now() - start) / 1000)).toFixed(0)} items/s`,
          );
        }
        const warning = nonFiniteWarning(def.name, nonFinite, candidates.length);
        if (warning !== undefined) ctx.warn(warning);
        const extra: {
          logProbs?: LogProbs;
          meanProbs?: Rows;
          embeddings?: Rows;
          labelledEmbeddings?: Rows;
          labelledLogProbs?: LogProbs;
          labelledLabels?: Int32Array;
        } = {};
        if (keepMean) {
          const c = means[0]?.d ?? 0;
          extra.meanProbs = joinRows(means, c);
        }
        if (keepLogProbs) {
          const t = kept[0]?.t ?? posterior.samples, c = kept[0]?.c ?? 0;
          const all = joinRows(kept.map((k) => ({ data: k.data, d: k.t * k.c })), t * c);
          extra.logProbs = { data: all.data, n: candidates.length, t, c };
        }
        if (keep.includes("embeddings")) extra.embeddings = await embedItems(posterior, images, candidates);
        if (keep.includes("labelledEmbeddings")) {
          extra.labelledEmbeddings = await embedItems(posterior, images, labelled ?? []);
        }
        if (keep.includes("labelledLogProbs")) {
          const items = labelled ?? [];
          if (!labels) throw new Error("the rule asks for the labelled items' predictions, but no labels were given");
          const chunks: LogProbs[] = [];
          for (let s = 0; s < items.length; s += CHUNK) {
            chunks.push(await chunkLogProbs(posterior, images, items.slice(s, s + CHUNK), rng));
          }
          const t = chunks[0]?.t ?? posterior.samples, c = chunks[0]?.c ?? 0;
          const all = joinRows(chunks.map((k) => ({ data: k.data, d: k.t * k.c })), t * c);
          extra.labelledLogProbs = { data: all.data, n: items.length, t, c };
          extra.labelledLabels = Int32Array.from(items, (i) => labels[i] as number);
        }
        return { candidates, scores: out, ...extra };
      }),
  };
}

/**
 * Acquire: the strategy's rule picks items from the scored candidates. The
 * result is checked: no item twice, only scored candidates, at most the
 * rule's batch size.
 *
 * @param def the rule
 * @param seed seeds rules that draw
 * @returns the stage
 */
export function acquire(def: AcquireDef, seed: number): Stage<Scored, number[]> {
  const name = `acquire/${def.name}`;
  return {
    kind: "acquire",
    name,
    version: def.version,
    params: { ...def.params, seed },
    code: def.select.toString(),
    run: (scored, ctx: StageContext) =>
      attempt(name, async () => {
        const rng = makeRng(seed);
        // On a GPU, rules with a tensor part (BatchBALD) run it there.
        const device = isGpuBackend(tf.getBackend())
          ? { jointEntropies: jointEntropiesOnDevice, nearestCentres: nearestCentresOnDevice }
          : {};
        const picked = await def.select(scored, { warn: ctx.warn, rand: () => rng.next(), ...device });
        const allowed = new Set(scored.candidates);
        const seen = new Set<number>();
        for (const i of picked) {
          if (!allowed.has(i)) throw new Error(`picked item ${i}, which is not a scored pool candidate`);
          if (seen.has(i)) throw new Error(`picked item ${i} twice`);
          seen.add(i);
        }
        if (picked.length > def.size) throw new Error(`picked ${picked.length} items, more than its size ${def.size}`);
        return picked;
      }),
  };
}

/**
 * Pseudo-label: after the acquisition, the strategy's pseudo-labelling part
 * (CEAL) labels pool candidates the model is sure of; the next round's nets
 * train on them too. Checked: each item once, only scored candidates not just
 * acquired, labels are class indices.
 *
 * @param def the part
 * @param round the round whose model scored the candidates
 * @param classes the number of classes
 * @returns the stage
 */
export function pseudoLabel(
  def: PseudoLabelDef,
  round: number,
  classes: number,
): Stage<{ readonly scored: Scored; readonly acquired: readonly number[] }, PseudoLabels> {
  const name = `pseudo-label/${def.name}`;
  return {
    kind: "pseudo-label",
    name,
    version: def.version,
    params: { ...def.params, round },
    code: def.select.toString(),
    run: ({ scored, acquired }) =>
      attempt(name, () => {
        const meanProbs = scored.meanProbs;
        if (!meanProbs) throw new Error("the score stage kept no predictive distribution (meanProbs)");
        const taken = new Set(acquired);
        const out = def.select({ candidates: scored.candidates, meanProbs, acquired: taken, round });
        if (out.indices.length !== out.labels.length) {
          throw new Error(`returned ${out.indices.length} items but ${out.labels.length} labels`);
        }
        const allowed = new Set(scored.candidates);
        const seen = new Set<number>();
        out.indices.forEach((i, k) => {
          if (!allowed.has(i) || taken.has(i)) {
            throw new Error(`pseudo-labelled item ${i}, which is not an unacquired scored candidate`);
          }
          if (seen.has(i)) throw new Error(`pseudo-labelled item ${i} twice`);
          seen.add(i);
          const label = out.labels[k] as number;
          if (!Number.isInteger(label) || label < 0 || label >= classes) {
            throw new Error(`pseudo-label ${label} of item ${i} is not a class in 0..${classes - 1}`);
          }
        });
        return Promise.resolve(out);
      }),
  };
}

/** Test metrics of a posterior. */
export interface Metrics {
  /** Accuracy of the MC-averaged predictive distribution. */
  readonly accuracy: number;
  /** Mean negative log-likelihood of the true class under it (nats). */
  readonly nll: number;
}

/**
 * Evaluate: accuracy and NLL of the MC-averaged predictive on test items.
 * The test subset is the same for every run (drawn with a fixed seed), so
 * curves are comparable.
 *
 * @param seed seeds the dropout masks
 * @param testSubset how many test items (0: all)
 * @returns the stage
 */
export function evaluate(
  seed: number,
  testSubset: number,
): Stage<{ readonly posterior: Posterior; readonly test: LabelledImages }, Metrics> {
  const name = "evaluate/mc-average";
  return {
    kind: "evaluate",
    name,
    version: 1,
    params: { seed, testSubset },
    run: ({ posterior, test }) =>
      attempt(name, async () => {
        const all = Array.from({ length: test.y.length }, (_, i) => i);
        const indices = testSubset > 0 && testSubset < all.length
          ? shuffled(all, makeRng(deriveSeed(0, "test-subset"))).slice(0, testSubset).sort((a, b) => a - b)
          : all;
        const rng = makeRng(seed);
        let correct = 0;
        let nll = 0;
        for (let s = 0; s < indices.length; s += CHUNK) {
          const idx = indices.slice(s, s + CHUNK);
          const labels = tf.tensor1d(Int32Array.from(idx, (i) => test.y[i] as number), "int32");
          const [hit, loss] = tf.tidy(() => {
            const lp = posterior.logProbs(imagesToTensor(test, idx), rng);
            // log of the mean probability over the T samples.
            const logMean = tf.sub(tf.logSumExp(lp, 1), Math.log(posterior.samples)) as tf.Tensor2D;
            const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logMean, 1), labels), "float32"));
            const c = logMean.shape[1];
            const picked = tf.sum(tf.mul(logMean, tf.oneHot(labels, c)));
            return [hits, tf.neg(picked)];
          });
          correct += (await hit.data())[0] as number;
          nll += (await loss.data())[0] as number;
          tf.dispose([hit, loss, labels]);
        }
        return { accuracy: correct / indices.length, nll: nll / indices.length };
      }),
  };
}
