/**
 * Whole-network VOGN: the Variational Online Gauss-Newton optimiser (Khan et
 * al. 2018, "Fast and Scalable Bayesian Deep Learning by Weight-Perturbation
 * in Adam"; Osawa et al. 2019, "Practical Deep Learning with Bayesian
 * Principles") training every conv and dense weight of a {@link NetSpec} as a
 * mean-field Gaussian q(θ) = N(μ, diag(1 / precision)). The talk in
 * `000_*.txt` trains its CIFAR-10 net this way, swapping Adam for VOGN.
 *
 * Each step draws θ ~ q (K draws when `mcSamples` = K), computes for each
 * item i of the minibatch its gradient g_i = ∇ℓ_i(θ) and accumulates the
 * minibatch means ĝ = mean_i g_i and ĥ = mean_i g_i² (the squared per-example
 * gradients, the Gauss-Newton estimate the two papers use for deep nets), then
 *
 *   m ← β1 m + (1 - β1) (ĝ + δ̃ μ)
 *   s ← β2 s + (1 - β2) ĥ
 *   μ ← μ - α m̂ / (ŝ + δ̃),          δ̃ = τ δ / N,
 *
 * m̂, ŝ being Adam's bias-corrected averages, δ the prior precision, τ the
 * temperature (the KL term's weight) and N the data-set size; q's precision is
 * N (ŝ + δ̃) / τ. This is the update of the last-layer head in `vogn.ts`, here
 * with autodiff: both share its fixed point (the diagonal Laplace
 * approximation, with the empirical-Fisher curvature, of Σ_i ℓ_i / τ plus the
 * prior), which the tests check.
 *
 * Per-example gradients come from one backward pass: a zero "probe" is added
 * to each layer's pre-activation, and the gradient of the summed loss with
 * respect to it is δ_i, the pre-activation gradient of item i alone
 * (Goodfellow 2015, "Efficient Per-Example Gradient Computations"). With a_i
 * the layer's input:
 * - dense: g_i = a_i δ_iᵀ, so Σ_i g_i² = (a²)ᵀ (δ²), two matrix products;
 * - conv2d (stride 1): g_i is the correlation of item i's input with its δ,
 *   for all items in one depthwise convolution (items as channels, δ as the
 *   filters), then squared and summed over the items.
 *
 * Dropout layers of the spec are skipped (identity): the Gaussian over the
 * weights is the net's uncertainty here. Gaussian (Bayes-by-backprop) layer
 * settings are ignored too: VOGN gives every layer the same posterior family.
 *
 * The prior: N(0, 1 / δ_l) on every weight of layer l, with δ_l = δ (`prior:
 * "constant"`) or δ_l = δ · fan-in (`prior: "fan-in"`, the default: a
 * Glorot-scale prior, so that an item's pre-activations keep their scale
 * under draws from the prior whatever the layer's width).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
// tfjs-core's npm entry registers no gradients; tfjs-layers' node bundle registers them (see backend.ts).
import "@tensorflow/tfjs-layers";
import type { LayerSpec, NetSpec } from "../../dsl/model.ts";
import { createNet, disposeNet, layerShapes, type Net, normalNoise } from "./net.ts";
import { deriveSeed, makeRng, shuffled } from "./rng.ts";

/** A kernel and a bias (means, precisions, gradients: one shape family). */
export interface KernelBias<T extends tf.Tensor = tf.Tensor> {
  /** [k, k, in, filters] or [in, units]. */
  readonly kernel: T;
  /** [filters] or [units]. */
  readonly bias: T;
}

/** A diagonal-Gaussian posterior over every weight of a net; null entries are parameter-free layers. */
export interface VognNet {
  /** The architecture. */
  readonly spec: NetSpec;
  /** Posterior means, per layer. */
  readonly mean: readonly (KernelBias | null)[];
  /** Posterior precisions (1 / variance), per layer. */
  readonly precision: readonly (KernelBias | null)[];
}

/** Options of {@link fitVognNet}; every field has a default. */
export interface VognNetOptions {
  /** N, the data-set size the likelihood is scaled to (default: the number of items). */
  readonly datasetSize?: number;
  /** δ, prior precision (default 1); per layer times its fan-in unless `prior` is "constant". */
  readonly priorPrecision?: number;
  /** How δ varies over layers: "fan-in" (δ · fan-in, the default) or "constant". */
  readonly prior?: "fan-in" | "constant";
  /** τ, temperature: the KL term's weight; 1 is plain variational Bayes (default 1). */
  readonly temperature?: number;
  /** Weight draws per step, gradients and curvatures averaged over them (default 1). */
  readonly mcSamples?: number;
  /** α, step size of the mean (default 1e-3). */
  readonly learningRate?: number;
  /** β1, momentum of the gradient average (default 0.9). */
  readonly beta1?: number;
  /** β2, decay of the curvature average (default 0.999). */
  readonly beta2?: number;
  /** Passes over the data (default 10). */
  readonly epochs?: number;
  /** Minibatch size (default 32, capped at the number of items). */
  readonly batchSize?: number;
  /** Seeds the initial means, the data order and the weight draws (default 0). */
  readonly seed?: number;
  /** Starts the means from this net's weights (its Gaussian rho, if any, is ignored) instead of a fresh init. */
  readonly initFrom?: Net;
  /**
   * Starts from this posterior (means, and curvature recovered from the
   * precisions, counted as a full average), e.g. a previous round's.
   */
  readonly warmStart?: VognNet;
  /** Called after each epoch with the mean NLL at the drawn weights and the items per second. */
  readonly onEpoch?: (epoch: number, nll: number, itemsPerSecond: number) => void;
}

/** Sums over a minibatch: the loss, the gradients Σ g_i and the squared per-example gradients Σ g_i². */
export interface GradientMoments {
  /** Σ_i ℓ_i, the summed cross-entropy. */
  readonly loss: tf.Scalar;
  /** Σ_i g_i per layer. */
  readonly grad: readonly (KernelBias | null)[];
  /** Σ_i g_i² per layer. */
  readonly squared: readonly (KernelBias | null)[];
}

const isParametric = (l: LayerSpec) => l.kind === "conv2d" || l.kind === "dense";

/**
 * The forward pass with the given weights; dropout layers are identity.
 * `probes[i]`, when given, is added to layer i's pre-activation; `inputs[i]`
 * receives (kept) the input of each parametric layer i when `inputs` is given.
 */
function forward(
  spec: NetSpec,
  weights: readonly (KernelBias | null)[],
  x: tf.Tensor,
  probes?: readonly (tf.Tensor | null)[],
  inputs?: (tf.Tensor | null)[],
  to = spec.layers.length,
): tf.Tensor {
  let h = x;
  for (const [i, layer] of spec.layers.slice(0, to).entries()) {
    const w = weights[i];
    switch (layer.kind) {
      case "conv2d":
      case "dense": {
        if (!w) throw new Error(`Layer ${i} (${layer.kind}) has no weights`);
        if (inputs) inputs[i] = tf.keep(h);
        let y = layer.kind === "conv2d"
          ? tf.add(tf.conv2d(h as tf.Tensor4D, w.kernel as tf.Tensor4D, 1, layer.padding), w.bias)
          : tf.add(tf.matMul(h as tf.Tensor2D, w.kernel as tf.Tensor2D), w.bias);
        const probe = probes?.[i];
        if (probe) y = tf.add(y, probe);
        h = layer.activation === "relu" ? tf.relu(y) : y;
        break;
      }
      case "maxPool":
        h = tf.maxPool(h as tf.Tensor4D, layer.size, layer.size, "valid");
        break;
      case "dropout":
        break;
      case "flatten":
        h = tf.reshape(h, [h.shape[0] as number, -1]);
        break;
    }
  }
  return h;
}

/**
 * Logits of a batch under the given weights (dropout layers off).
 *
 * @param spec the architecture
 * @param weights kernel and bias per parametric layer
 * @param x inputs [n, ...]
 * @returns logits [n, C]; call inside `tf.tidy`
 */
export function logitsWith(spec: NetSpec, weights: readonly (KernelBias | null)[], x: tf.Tensor): tf.Tensor2D {
  return forward(spec, weights, x) as tf.Tensor2D;
}

/**
 * Penultimate-layer features under the given weights (every layer but the
 * last, dropout off), flattened: the embeddings of geometric rules.
 *
 * @param spec the architecture
 * @param weights kernel and bias per parametric layer (e.g. the posterior mean)
 * @param x inputs [n, ...]
 * @returns features [n, D]; call inside `tf.tidy`
 */
export function penultimateWith(spec: NetSpec, weights: readonly (KernelBias | null)[], x: tf.Tensor): tf.Tensor2D {
  const f = forward(spec, weights, x, undefined, undefined, spec.layers.length - 1);
  return tf.reshape(f, [f.shape[0] as number, -1]) as tf.Tensor2D;
}

/**
 * The loss, Σ_i g_i and Σ_i g_i² of a minibatch at the given weights, with
 * per-example gradients from one backward pass (see the module comment).
 *
 * @param spec the architecture
 * @param weights kernel and bias per parametric layer (e.g. one draw from q)
 * @param x inputs [M, ...]
 * @param y one-hot labels [M, C]
 * @returns the sums; the caller disposes them
 */
export function gradientMoments(
  spec: NetSpec,
  weights: readonly (KernelBias | null)[],
  x: tf.Tensor,
  y: tf.Tensor2D,
): GradientMoments {
  const m = x.shape[0] as number;
  const shapes = layerShapes(spec);
  const probes = spec.layers.map((l, i) => (isParametric(l) ? tf.zeros([m, ...(shapes[i] as number[])]) : null));
  const live = probes.filter((p): p is tf.Tensor => p !== null);
  const inputs: (tf.Tensor | null)[] = spec.layers.map(() => null);
  try {
    const { value, grads } = tf.valueAndGrads((...zs: tf.Tensor[]) => {
      let j = 0;
      const ps = probes.map((p) => (p ? (zs[j++] as tf.Tensor) : null));
      const logits = forward(spec, weights, x, ps, inputs);
      return tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(logits as tf.Tensor2D)))) as tf.Scalar;
    })(live);
    let j = 0;
    const grad: (KernelBias | null)[] = [];
    const squared: (KernelBias | null)[] = [];
    for (const [i, layer] of spec.layers.entries()) {
      if (!isParametric(layer)) {
        grad.push(null);
        squared.push(null);
        continue;
      }
      const delta = grads[j++] as tf.Tensor;
      const a = inputs[i] as tf.Tensor;
      const [g, s] = tidyLayers(() => layerMoments(layer, a, delta));
      grad.push(g);
      squared.push(s);
      delta.dispose();
    }
    return { loss: value as tf.Scalar, grad, squared };
  } finally {
    tf.dispose(live);
    // The first layer's input is the caller's x: not ours to free.
    tf.dispose(inputs.filter((a): a is tf.Tensor => a !== null && a !== x));
  }
}

/** Σ g_i and Σ g_i² of one layer from its inputs a and pre-activation gradients δ. */
function layerMoments(layer: LayerSpec, a: tf.Tensor, delta: tf.Tensor): [KernelBias, KernelBias] {
  if (layer.kind === "dense") {
    const a2 = a as tf.Tensor2D, d2 = delta as tf.Tensor2D;
    return [
      { kernel: tf.matMul(a2, d2, true, false), bias: tf.sum(d2, 0) },
      { kernel: tf.matMul(tf.square(a2), tf.square(d2), true, false), bias: tf.sum(tf.square(d2), 0) },
    ];
  }
  if (layer.kind !== "conv2d") throw new Error(`layerMoments: ${layer.kind} has no weights`);
  const [m, , , cin] = (a as tf.Tensor4D).shape;
  const f = layer.filters, k = layer.kernel;
  const lo = Math.floor((k - 1) / 2), hi = k - 1 - lo;
  const padded = layer.padding === "same" ? tf.pad(a, [[0, 0], [lo, hi], [lo, hi], [0, 0]]) : a;
  // Item n's kernel gradient is the correlation of its input with its δ. With the items as the
  // channels of one image ([in, H, W, M]) and δ as a depthwise filter ([H', W', M, f]), a depthwise
  // convolution gives every item's gradient at once, as [in, k, k, M·f], channel n·f + j for item n,
  // filter j: a single XNNPACK call (tfjs-wasm's batched BatchMatMul over im2col patches was about
  // ten times slower on the CIFAR net).
  const perItem = tf.reshape(
    tf.depthwiseConv2d(
      tf.transpose(padded, [3, 1, 2, 0]) as tf.Tensor4D,
      tf.transpose(delta, [1, 2, 0, 3]) as tf.Tensor4D,
      1,
      "valid",
    ),
    [cin, k, k, m, f],
  );
  const perItemBias = tf.sum(delta, [1, 2]); // [M, f]
  return [
    { kernel: tf.transpose(tf.sum(perItem, 3), [1, 2, 0, 3]), bias: tf.sum(perItemBias, 0) },
    { kernel: tf.transpose(tf.sum(tf.square(perItem), 3), [1, 2, 0, 3]), bias: tf.sum(tf.square(perItemBias), 0) },
  ];
}

/** `tf.tidy` for results holding per-layer entries, some null (tidy walks past nulls at run time). */
function tidyLayers<R>(f: () => R): R {
  return tf.tidy(() => f() as unknown as tf.TensorContainer) as unknown as R;
}

function check(name: string, ok: boolean, v: unknown, what: string): void {
  if (!ok) throw new RangeError(`VOGN: ${name} must be ${what}, got ${v}`);
}

/** The fan-in of a parametric layer from its kernel shape. */
function fanIn(kernel: tf.Tensor): number {
  const s = kernel.shape;
  return s.length === 4 ? (s[0] as number) * (s[1] as number) * (s[2] as number) : (s[0] as number);
}

const mapLayers = (
  layers: readonly (KernelBias | null)[],
  f: (t: tf.Tensor, i: number, which: "kernel" | "bias") => tf.Tensor,
): (KernelBias | null)[] =>
  layers.map((l, i) => (l ? { kernel: f(l.kernel, i, "kernel"), bias: f(l.bias, i, "bias") } : null));

const disposeLayers = (layers: readonly (KernelBias | null)[]) => {
  for (const l of layers) if (l) tf.dispose([l.kernel, l.bias]);
};

/**
 * Trains a diagonal-Gaussian posterior over every weight of `spec` with VOGN.
 *
 * Until a curvature estimate exists (the first step of a cold start) the
 * gradients are taken at the mean, since q's variance is not known yet.
 *
 * @param spec the architecture (conv2d with stride 1, max pool, dropout, flatten, dense)
 * @param x the training inputs [N, ...], float32
 * @param labels class of each item
 * @param classes C
 * @param opts see {@link VognNetOptions}
 * @returns the posterior; release it with {@link disposeVognNet}
 * @throws RangeError for bad options, sizes or labels
 */
export async function fitVognNet(
  spec: NetSpec,
  x: tf.Tensor,
  labels: Int32Array,
  classes: number,
  opts: VognNetOptions = {},
): Promise<VognNet> {
  const n = x.shape[0] as number;
  check("the number of items", n >= 1, n, "at least 1");
  if (labels.length !== n) throw new RangeError(`VOGN: ${labels.length} labels for ${n} items`);
  for (const y of labels) {
    if (!(y >= 0 && y < classes)) throw new RangeError(`VOGN: label ${y} is not in [0, ${classes})`);
  }
  const positive = (name: string, v: number) => check(name, v > 0 && Number.isFinite(v), v, "a positive number");
  const positiveInt = (name: string, v: number) => check(name, Number.isInteger(v) && v >= 1, v, "a positive integer");
  const unit = (name: string, v: number) => check(name, v >= 0 && v < 1, v, "in [0, 1)");
  const bigN = opts.datasetSize ?? n, delta = opts.priorPrecision ?? 1, tau = opts.temperature ?? 1;
  const mc = opts.mcSamples ?? 1, lr = opts.learningRate ?? 1e-3, beta1 = opts.beta1 ?? 0.9;
  const beta2 = opts.beta2 ?? 0.999, epochs = opts.epochs ?? 10;
  positive("datasetSize", bigN);
  positive("priorPrecision", delta);
  positive("temperature", tau);
  positiveInt("mcSamples", mc);
  positive("learningRate", lr);
  unit("beta1", beta1);
  unit("beta2", beta2);
  positiveInt("epochs", epochs);
  positiveInt("batchSize", opts.batchSize ?? 32);
  const batch = Math.min(opts.batchSize ?? 32, n);
  const seed = opts.seed ?? 0;

  // Means: from a warm start, a given net, or a fresh init of the spec.
  const source = opts.initFrom ?? (opts.warmStart ? undefined : createNet(spec, deriveSeed(seed, "vogn.init")));
  let mu: (KernelBias | null)[] = opts.warmStart
    ? mapLayers(opts.warmStart.mean, (t) => tf.clone(t))
    : (source as Net).weights.map((w) => (w ? { kernel: tf.clone(w.kernel), bias: tf.clone(w.bias) } : null));
  if (!opts.initFrom && source) disposeNet(source);
  if (
    mu.length !== spec.layers.length || mu.some((l, i) => (l !== null) !== isParametric(spec.layers[i] as LayerSpec))
  ) {
    disposeLayers(mu);
    throw new RangeError("VOGN: the initial weights do not match the spec's layers");
  }
  // Per-layer prior precision δ_l and its scaled form δ̃_l = τ δ_l / N.
  const priorOf = mu.map((l) => (l ? delta * ((opts.prior ?? "fan-in") === "fan-in" ? fanIn(l.kernel) : 1) : 0));
  const deltaT = priorOf.map((d) => (tau * d) / bigN);
  let m = mapLayers(mu, (t) => tf.zerosLike(t));
  let s: (KernelBias | null)[];
  let mWeight = 0, sWeight = 0;
  if (opts.warmStart) {
    // Invert precision = N (s + δ̃) / τ.
    s = mapLayers(
      opts.warmStart.precision,
      (p, i) => tf.tidy(() => tf.relu(tf.sub(tf.mul(p, tau / bigN), deltaT[i] as number))),
    );
    sWeight = 1;
  } else {
    s = mapLayers(mu, (t) => tf.zerosLike(t));
  }

  const rng = makeRng(deriveSeed(seed, "vogn.steps"));
  const yAll = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, "int32"), classes), "float32")) as tf.Tensor2D;
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const start = performance.now();
      const order = shuffled(Array.from({ length: n }, (_, i) => i), rng);
      const losses: tf.Scalar[] = [];
      for (let b0 = 0; b0 < n; b0 += batch) {
        const idx = tf.tensor1d(order.slice(b0, b0 + batch), "int32");
        const xb = tf.gather(x, idx), yb = tf.gather(yAll, idx) as tf.Tensor2D;
        idx.dispose();
        const size = xb.shape[0] as number;
        let gSum: (KernelBias | null)[] | null = null, hSum: (KernelBias | null)[] | null = null;
        for (let k = 0; k < mc; k++) {
          const theta = sWeight > 0
            ? tidyLayers(() =>
              mapLayers(mu, (t, i, which) => {
                const sl = s[i] as KernelBias;
                const sd = tf.sqrt(tf.div(tau / bigN, tf.add(tf.div(sl[which], sWeight), deltaT[i] as number)));
                return tf.add(t, tf.mul(sd, normalNoise(t.shape, rng.seed())));
              })
            )
            : mu;
          const mom = gradientMoments(spec, theta, xb, yb);
          if (theta !== mu) disposeLayers(theta);
          losses.push(mom.loss);
          if (gSum === null || hSum === null) {
            gSum = [...mom.grad];
            hSum = [...mom.squared];
          } else {
            const g0: (KernelBias | null)[] = gSum, h0: (KernelBias | null)[] = hSum;
            gSum = tidyLayers(() => mapLayers(g0, (t, i, w) => tf.add(t, (mom.grad[i] as KernelBias)[w])));
            hSum = tidyLayers(() => mapLayers(h0, (t, i, w) => tf.add(t, (mom.squared[i] as KernelBias)[w])));
            disposeLayers(g0);
            disposeLayers(h0);
            disposeLayers(mom.grad);
            disposeLayers(mom.squared);
          }
        }
        tf.dispose([xb, yb]);
        const scale = 1 / (size * mc);
        mWeight = beta1 * mWeight + (1 - beta1);
        sWeight = beta2 * sWeight + (1 - beta2);
        const g = gSum as (KernelBias | null)[], h = hSum as (KernelBias | null)[];
        const [m1, s1, mu1] = tidyLayers(() => {
          const mNew = mapLayers(m, (t, i, w) =>
            tf.add(
              tf.mul(t, beta1),
              tf.mul(
                tf.add(tf.mul((g[i] as KernelBias)[w], scale), tf.mul((mu[i] as KernelBias)[w], deltaT[i] as number)),
                1 - beta1,
              ),
            ));
          const sNew = mapLayers(
            s,
            (t, i, w) => tf.add(tf.mul(t, beta2), tf.mul((h[i] as KernelBias)[w], (1 - beta2) * scale)),
          );
          const muNew = mapLayers(mu, (t, i, w) =>
            tf.sub(
              t,
              tf.div(
                tf.mul((mNew[i] as KernelBias)[w], lr / mWeight),
                tf.add(tf.div((sNew[i] as KernelBias)[w], sWeight), deltaT[i] as number),
              ),
            ));
          return [mNew, sNew, muNew];
        });
        for (const old of [m, s, mu, g, h]) disposeLayers(old);
        m = m1;
        s = s1;
        mu = mu1;
      }
      const total = tf.tidy(() => tf.addN(losses));
      const nll = ((await total.data())[0] as number) / (n * mc);
      tf.dispose([total, ...losses]);
      opts.onEpoch?.(epoch, nll, n / Math.max((performance.now() - start) / 1000, 1e-9));
    }
    const precision = tidyLayers(() =>
      mapLayers(s, (t, i) => tf.div(tf.mul(tf.add(tf.div(t, sWeight || 1), deltaT[i] as number), bigN), tau))
    );
    return { spec, mean: mu, precision };
  } catch (e) {
    disposeLayers(mu);
    throw e;
  } finally {
    yAll.dispose();
    disposeLayers(m);
    disposeLayers(s);
  }
}

/** Releases a posterior's tensors. */
export function disposeVognNet(net: VognNet): void {
  disposeLayers(net.mean);
  disposeLayers(net.precision);
}

/**
 * Weights of posterior sample t: θ_t = μ + ε / √precision, ε drawn from a
 * stream fixed by `seed`, t and the layer, so sample t is the same net in
 * every call.
 *
 * @param net the posterior
 * @param t the sample's index
 * @param seed the draws' seed
 * @returns the weights; the caller disposes them
 */
export function sampleVognWeights(net: VognNet, t: number, seed: number): (KernelBias | null)[] {
  return tidyLayers(() =>
    mapLayers(net.mean, (mean, i, which) =>
      tf.add(
        mean,
        tf.div(
          normalNoise(mean.shape, deriveSeed(seed, `t${t}.l${i}.${which}`)),
          tf.sqrt((net.precision[i] as KernelBias)[which]),
        ),
      ))
  );
}

/**
 * The posterior predictive's log-probabilities with T fixed weight draws
 * (sample t is the same net for every item and call: BatchBALD's joint
 * samples come for free).
 *
 * @param net the posterior
 * @param x inputs [n, ...]
 * @param draws T sampled weight sets ({@link sampleVognWeights})
 * @returns log-softmax [n, T, C]; the caller disposes it
 */
export function vognNetLogProbs(
  net: VognNet,
  x: tf.Tensor,
  draws: readonly (readonly (KernelBias | null)[])[],
): tf.Tensor3D {
  return tf.tidy(() => tf.stack(draws.map((w) => tf.logSoftmax(logitsWith(net.spec, w, x))), 1) as tf.Tensor3D);
}
