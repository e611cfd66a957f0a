/**
 * Training of a {@link Net} by minibatch Adam on softmax cross-entropy with
 * L2 weight decay (plus, for nets with Gaussian layers, the KL term of the
 * ELBO), and batched conversion of uint8 images to tensors.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { applyLayers, hasBayesianLayers, klDivergence, type Net, netVariables } from "./net.ts";
import { makeRng, shuffled } from "./rng.ts";
import { isGpuBackend } from "./device.ts";

/** Images stored as bytes, NHWC. */
export interface ImageArray {
  /** The pixels, integers 0..255, row-major [N, H, W, C]. */
  readonly x: Uint8Array;
  /** [N, H, W, C]: images, height, width, channels. */
  readonly shape: readonly [number, number, number, number];
}

/** Image arrays a load stage handed out: they may stay on a GPU for the rest of their run. */
const residentCandidates = new WeakSet<ImageArray>();
/** Their copies on the GPU, scaled to [0, 1], made at their first use there. */
const residents = new WeakMap<ImageArray, tf.Tensor4D>();

/**
 * Lets an image array stay on a GPU backend once uploaded: `imagesToTensor`
 * then uploads it whole at its first use and cuts every later batch, chunk
 * or evaluation from that copy on the device, instead of uploading each
 * batch (every round's pool chunks included). Whoever calls this frees the
 * copy with {@link releaseResidentImages} (the load stages do, through the
 * runner, when the run ends). On CPU backends nothing changes: a batch there
 * is a copy in host memory, and a resident copy would double the data set's
 * footprint (CIFAR-10's train split is 614 MB as float32).
 *
 * @param images the array
 */
export function allowResidentImages(images: ImageArray): void {
  residentCandidates.add(images);
}

/**
 * Frees the GPU copy of an image array, if one was made.
 *
 * @param images the array
 */
export function releaseResidentImages(images: ImageArray): void {
  residents.get(images)?.dispose();
  residents.delete(images);
}

/**
 * How many tensors an image array's GPU copy holds (0 or 1), for the
 * runner's leak check.
 *
 * @param images the array
 * @returns the count
 */
export function residentImageTensors(images: ImageArray): number {
  const copy = residents.get(images);
  return copy !== undefined && !copy.isDisposed ? 1 : 0;
}

/**
 * Gathers images by index and scales them to [0, 1]; for an array allowed to
 * stay resident on a GPU backend, by a gather from its copy there (the same
 * values: a copy of the same float32 numbers).
 *
 * @param images the source array
 * @param indices which items, in order
 * @returns a float32 tensor [indices.length, H, W, C]
 */
export function imagesToTensor(images: ImageArray, indices: ArrayLike<number>): tf.Tensor4D {
  if (residentCandidates.has(images) && isGpuBackend(tf.getBackend())) {
    let all = residents.get(images);
    if (all === undefined || all.isDisposed) {
      all = tf.keep(scaledImages(images, { length: images.shape[0] }));
      residents.set(images, all);
    }
    const copy = all;
    return tf.tidy(() => tf.gather(copy, tf.tensor1d(Int32Array.from(indices), "int32")));
  }
  return scaledImages(images, indices);
}

/** The items of `indices` (all, when given only a length) scaled to [0, 1], uploaded. */
function scaledImages(images: ImageArray, indices: ArrayLike<number>): tf.Tensor4D {
  const [, h, w, c] = images.shape;
  const size = h * w * c;
  const out = new Float32Array(indices.length * size);
  for (let i = 0; i < indices.length; i++) {
    const src = (indices[i] ?? i) * size;
    const row = images.x.subarray(src, src + size);
    const dst = i * size;
    for (let j = 0; j < size; j++) out[dst + j] = (row[j] as number) / 255;
  }
  return tf.tensor4d(out, [indices.length, h, w, c]);
}

/** Training hyper-parameters. */
export interface TrainOptions {
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  /**
   * Coefficient of the sum of squared kernel weights added to the loss.
   * Gaussian (Bayesian) kernels are left out: their prior already regularises them.
   */
  readonly weightDecay: number;
  /**
   * Multiplies the KL term of nets with Gaussian layers (default 1, the ELBO).
   * Below 1 it tempers the prior's pull, which a small labelled set needs when
   * every layer is Gaussian (the KL of a whole net is tens of thousands of nats).
   */
  readonly klWeight?: number;
  /** Seeds the data order and the dropout masks. */
  readonly seed: number;
  /** Called after each epoch with its mean loss. */
  readonly onEpoch?: (epoch: number, loss: number, imagesPerSecond: number) => void;
}

/** What a training run measured. */
export interface TrainReport {
  readonly finalLoss: number;
  readonly seconds: number;
  readonly imagesPerSecond: number;
}

/**
 * Trains `net` in place on the given images and labels. A net with Gaussian
 * layers minimises the negative ELBO per example of Bayes by Backprop
 * (Blundell et al., "Weight Uncertainty in Neural Networks", 2015): the
 * minibatch cross-entropy under one weight draw plus KL(q || prior) / N, N
 * being the number of training items, so that summed over an epoch the KL
 * counts once.
 *
 * @param net the net to train (its variables are updated)
 * @param x images [N, H, W, C], float32
 * @param labels class index per image
 * @param classes number of classes
 * @param opts hyper-parameters
 * @returns final loss and throughput
 */
export async function trainNet(
  net: Net,
  x: tf.Tensor4D,
  labels: Int32Array,
  classes: number,
  opts: TrainOptions,
): Promise<TrainReport> {
  const n = x.shape[0];
  const rng = makeRng(opts.seed);
  const optimizer = tf.train.adam(opts.learningRate);
  const vars = netVariables(net);
  const kernels = net.weights.flatMap((w) => (w && !w.rho ? [w.kernel] : []));
  const bayesian = hasBayesianLayers(net);
  const yAll = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, "int32"), classes));
  const start = performance.now();
  let finalLoss = NaN;
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const epochStart = performance.now();
      const order = shuffled(Array.from({ length: n }, (_, i) => i), rng);
      const losses: tf.Scalar[] = [];
      for (let b = 0; b < n; b += opts.batchSize) {
        const idx = tf.tensor1d(order.slice(b, b + opts.batchSize), "int32");
        const loss = optimizer.minimize(
          () => {
            const xb = tf.gather(x, idx);
            const yb = tf.gather(yAll, idx);
            const logits = applyLayers(net, xb, 0, net.spec.layers.length, { kind: "sample", rng });
            let loss = tf.losses.softmaxCrossEntropy(yb, logits) as tf.Scalar;
            if (bayesian) loss = tf.add(loss, tf.mul(klDivergence(net), (opts.klWeight ?? 1) / n));
            if (opts.weightDecay === 0 || kernels.length === 0) return loss;
            const l2 = tf.addN(kernels.map((k) => tf.sum(tf.square(k))));
            return tf.add(loss, tf.mul(l2, opts.weightDecay)) as tf.Scalar;
          },
          true,
          vars,
        );
        idx.dispose();
        if (loss) losses.push(loss);
      }
      const mean = tf.tidy(() => tf.mean(tf.stack(losses)));
      finalLoss = (await mean.data())[0] as number;
      mean.dispose();
      for (const l of losses) l.dispose();
      const secs = (performance.now() - epochStart) / 1000;
      opts.onEpoch?.(epoch, finalLoss, n / Math.max(secs, 1e-9));
    }
  } finally {
    yAll.dispose();
    optimizer.dispose();
  }
  const seconds = (performance.now() - start) / 1000;
  return { finalLoss, seconds, imagesPerSecond: (n * opts.epochs) / Math.max(seconds, 1e-9) };
}
