/**
 * The measurements of `deno task bench`, one per child process (see
 * bench.ts), so that each has its own backend, thread count and peak RSS.
 *
 * Nets: the Gal et al. 2017 MNIST CNN and the CIFAR-10 examples' small CNN,
 * batch 128, random inputs (throughput does not depend on the values).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { NetSpec } from "../dsl/model.ts";
import { galCnn, smallCnn } from "../dsl/model.ts";
import { bald } from "../dsl/strategy.ts";
import { applyLayers, createNet, disposeNet, type Net } from "../pipeline/tensor/net.ts";
import { mcDropoutPosterior, type Posterior } from "../pipeline/tensor/posterior.ts";
import { makeRng } from "../pipeline/tensor/rng.ts";
import { score } from "../pipeline/tensor/stages.ts";
import { type ImageArray, imagesToTensor, trainNet } from "../pipeline/tensor/train.ts";

/** The two benchmarked nets. */
export const models = {
  gal: { label: "Gal MNIST CNN", spec: galCnn(10, [28, 28, 1]) },
  cifar: { label: "CIFAR small CNN", spec: smallCnn(10, [32, 32, 3]) },
} as const;
/** A benchmarked net's key. */
export type ModelName = keyof typeof models;

/** Sizes of one bench run. */
export interface Sizes {
  /** Batches of 128 per training or forward measure. */
  readonly batches: number;
  /** Pool items scored by the sampled posteriors. */
  readonly pool: number;
  /** Items pushed through full-net MC (T complete passes each), extrapolated to items/s. */
  readonly fullNetItems: number;
  /** Labelled items and epochs of the AL-round measure. */
  readonly roundLabels: number;
  readonly roundEpochs: number;
}

/** The sizes, and a quick variant for trying the bench out. */
export const sizes = {
  full: { batches: 8, pool: 10_000, fullNetItems: 256, roundLabels: 1_000, roundEpochs: 5 },
  quick: { batches: 2, pool: 2_000, fullNetItems: 64, roundLabels: 256, roundEpochs: 1 },
} as const satisfies Record<string, Sizes>;

/** MC samples of the pool-scoring measures (the T). */
export const T = 100;
const BATCH = 128;

/** Random uint8 images in the net's input shape (seeded). */
export function randomImages(spec: NetSpec, n: number, seed: number): ImageArray {
  const [h, w, c] = spec.inputShape;
  const rng = makeRng(seed);
  const x = new Uint8Array(n * h * w * c);
  for (let i = 0; i < x.length; i++) x[i] = rng.int(256);
  return { x, shape: [n, h, w, c] };
}

/** The median of some numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Repetitions of each training and forward measure; the median is reported (other jobs on a shared machine add noise). */
export const REPEATS = 3;

/** Images/s of training: the median of {@link REPEATS} epochs of `batches` Adam steps of 128, after one warm-up step. */
export async function trainingRate(spec: NetSpec, batches: number): Promise<number> {
  const net = createNet(spec, 1);
  const n = BATCH * batches;
  const images = randomImages(spec, n, 7);
  const x = imagesToTensor(images, Array.from({ length: n }, (_, i) => i));
  const y = Int32Array.from({ length: n }, (_, i) => i % 10);
  const opts = { batchSize: BATCH, learningRate: 1e-3, weightDecay: 0 };
  try {
    const warm = tf.slice(x, [0, 0, 0, 0], [BATCH, -1, -1, -1]);
    await trainNet(net, warm, y.subarray(0, BATCH), 10, { ...opts, epochs: 1, seed: 1 });
    warm.dispose();
    const rates: number[] = [];
    for (let r = 0; r < REPEATS; r++) {
      rates.push((await trainNet(net, x, y, 10, { ...opts, epochs: 1, seed: 2 + r })).imagesPerSecond);
    }
    return median(rates);
  } finally {
    x.dispose();
    disposeNet(net);
  }
}

/** Images/s of `run` on one batch of 128, `batches` times, read back each time: the median of {@link REPEATS} such runs after a warm-up. */
export async function forwardRate(
  spec: NetSpec,
  batches: number,
  run: (net: Net, x: tf.Tensor4D) => tf.Tensor,
): Promise<number> {
  const net = createNet(spec, 1);
  const images = randomImages(spec, BATCH, 3);
  const x = imagesToTensor(images, Array.from({ length: BATCH }, (_, i) => i));
  try {
    const once = async () => {
      const out = tf.tidy(() => run(net, x));
      await out.data();
      out.dispose();
    };
    await once();
    const rates: number[] = [];
    for (let r = 0; r < REPEATS; r++) {
      const start = performance.now();
      for (let i = 0; i < batches; i++) await once();
      rates.push((BATCH * batches) / ((performance.now() - start) / 1000));
    }
    return median(rates);
  } finally {
    x.dispose();
    disposeNet(net);
  }
}

/** Eval mode: dropout off. */
export const evalPass = (net: Net, x: tf.Tensor4D) => applyLayers(net, x, 0, net.spec.layers.length, { kind: "off" });

/** One MC-dropout sample per image through the whole net (dropout on). */
export function mcPass(): (net: Net, x: tf.Tensor4D) => tf.Tensor {
  const rng = makeRng(5);
  return (net, x) => applyLayers(net, x, 0, net.spec.layers.length, { kind: "sample", rng });
}

/**
 * The same net with dropout only before its last layer: its MC-dropout
 * posterior computes the penultimate features once per item and samples only
 * the last layer (last-layer-only sampling).
 */
export function lastLayerOnly(spec: NetSpec): NetSpec {
  const lastDropout = spec.layers.findLastIndex((l) => l.kind === "dropout");
  return { ...spec, layers: spec.layers.filter((l, i) => l.kind !== "dropout" || i === lastDropout) };
}

/** Naive MC: T complete forward passes per item, every dropout layer drawn each time. */
export function fullNetMc(net: Net, samples: number): Posterior {
  return {
    samples,
    logProbs: (x, rng) => {
      const each = Array.from(
        { length: samples },
        () =>
          tf.tidy(() =>
            tf.logSoftmax(applyLayers(net, x, 0, net.spec.layers.length, { kind: "sample", rng }) as tf.Tensor2D)
          ),
      );
      const out = tf.stack(each, 1) as tf.Tensor3D;
      tf.dispose(each);
      return out;
    },
    dispose: () => {},
  };
}

/** BALD scores of `pool` through the real score stage (chunks of 256, scores only kept), logging its progress. */
async function baldScores(
  posterior: Posterior,
  images: ImageArray,
  pool: readonly number[],
  log: (m: string) => void,
): Promise<ArrayLike<number>> {
  const result = await score(bald, 1, 0).run({ posterior, images, pool }, {
    progress: (m) => {
      if (/score \d+\//.test(m)) log(m);
    },
    warn: () => {},
  })();
  if (result._tag === "Left") throw new Error(result.left.message);
  return result.right.scores;
}

/**
 * Items/s of BALD over `n` random pool items through the real score stage
 * (chunks of 256, scores only kept), with the posterior `make` builds.
 */
export async function poolScoringRate(
  spec: NetSpec,
  n: number,
  make: (net: Net) => Posterior,
  log: (m: string) => void,
): Promise<number> {
  const net = createNet(spec, 1);
  const images = randomImages(spec, n, 11);
  const pool = Array.from({ length: n }, (_, i) => i);
  try {
    const start = performance.now();
    const scores = await baldScores(make(net), images, pool, log);
    if (scores.length !== n) throw new Error(`scored ${scores.length} of ${n} items`);
    return n / ((performance.now() - start) / 1000);
  } finally {
    disposeNet(net);
  }
}

/**
 * One AL round: train a fresh net on `labels` items for `epochs` epochs
 * (batch 128), then score a pool of `pool` items with BALD under MC dropout
 * (T = 20, the default example's posterior). Seconds of each part.
 */
export async function alRound(
  spec: NetSpec,
  s: Sizes,
  log: (m: string) => void,
): Promise<{ train: number; score: number }> {
  const net = createNet(spec, 1);
  const images = randomImages(spec, s.roundLabels + s.pool, 13);
  const labelled = Array.from({ length: s.roundLabels }, (_, i) => i);
  const pool = Array.from({ length: s.pool }, (_, i) => s.roundLabels + i);
  try {
    let start = performance.now();
    const x = imagesToTensor(images, labelled);
    const y = Int32Array.from(labelled, (i) => i % 10);
    await trainNet(net, x, y, 10, {
      epochs: s.roundEpochs,
      batchSize: BATCH,
      learningRate: 1e-3,
      weightDecay: 1e-4,
      seed: 1,
      onEpoch: (e, _l, ips) => log(`round: epoch ${e + 1}/${s.roundEpochs}, ${ips.toFixed(0)} images/s`),
    });
    x.dispose();
    const train = (performance.now() - start) / 1000;
    start = performance.now();
    await baldScores(mcDropoutPosterior(net, 20), images, pool, (m) => log(`round: ${m}`));
    return { train, score: (performance.now() - start) / 1000 };
  } finally {
    disposeNet(net);
  }
}

/**
 * Peak resident memory of this process in MiB: the kernel's high-water mark
 * (VmHWM) where /proc has it, else the current RSS.
 */
export function peakRssMiB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux */ }
  return Deno.memoryUsage().rss / 2 ** 20;
}
