/**
 * Feed-forward nets built from a {@link NetSpec} with tfjs-core ops only, so
 * that every random draw (initial weights, dropout masks, Gaussian weight
 * noise) comes from a seed the pipeline controls.
 *
 * Layers with a `bayesian` setting carry a mean-field Gaussian posterior over
 * their weights (Blundell et al., "Weight Uncertainty in Neural Networks",
 * ICML 2015): `kernel` and `bias` hold the means, `rho` the
 * softplus-parameterised stds, and a sampled pass draws
 * w = mu + softplus(rho) * eps with eps ~ N(0, 1) (the reparameterisation trick).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { bayesianOf, firstStochasticLayer, type LayerSpec, type NetSpec } from "../../dsl/model.ts";
import { deriveSeed, makeRng, type Rng } from "./rng.ts";
import { heapKernels } from "./kernels/heap_kernels.ts";

/**
 * Weights of one layer with parameters. For a Gaussian (Bayesian) layer
 * `kernel` and `bias` are the posterior means and `rho` holds the
 * untransformed stds (std = softplus(rho)), with the same shapes.
 */
export interface LayerWeights {
  /** The kernel: [k, k, input channels, filters] for conv2d (k the spec's `kernel`), [inputs, units] for dense. */
  readonly kernel: tf.Variable;
  /** The bias, one per filter or unit. */
  readonly bias: tf.Variable;
  /** A Gaussian layer's untransformed stds of the kernel and bias (std = softplus(rho)); absent otherwise. */
  readonly rho?: { readonly kernel: tf.Variable; readonly bias: tf.Variable };
}

/** A net: its spec and its trainable weights, one entry per layer (null for parameter-free layers). */
export interface Net {
  /** The architecture, decoded. */
  readonly spec: NetSpec;
  /** The weights of each layer of `spec.layers`, in order; null for max pool, dropout and flatten. */
  readonly weights: readonly (LayerWeights | null)[];
}

/** Options of {@link mcLogProbs}. */
export interface McOptions {
  /**
   * When set, sample t uses the same dropout masks and the same Gaussian
   * weight draws for every item and in every call (all drawn from this seed),
   * so a pool scored in one chunk or in several gets identical
   * log-probabilities: the joint samples that BatchBALD needs. `rng` is then
   * not used.
   */
  readonly consistentSeed?: number;
  /**
   * How the T samples run: as one batch of T*N rows, or as T passes over the
   * N items (less memory). Default: per-sample when the stochastic suffix has
   * a Gaussian conv layer, else batched.
   */
  readonly passes?: "batched" | "per-sample";
}

/**
 * How the stochastic layers behave in a forward pass: "off" uses no dropout
 * and the posterior means of Gaussian weights; "sample" draws dropout masks
 * and one set of Gaussian weights (shared by the whole batch) from `rng`.
 */
export type DropoutMode =
  | { readonly kind: "off" }
  | { readonly kind: "sample"; readonly rng: Rng };

/**
 * Shape of the activations after each layer, for a single item.
 *
 * @param spec the net
 * @returns one shape per layer (without the batch dimension)
 */
export function layerShapes(spec: NetSpec): number[][] {
  let shape: number[] = [...spec.inputShape];
  const shapes: number[][] = [];
  for (const layer of spec.layers) {
    shape = outputShape(layer, shape);
    shapes.push(shape);
  }
  return shapes;
}

function outputShape(layer: LayerSpec, s: number[]): number[] {
  switch (layer.kind) {
    case "conv2d": {
      const [h, w] = s as [number, number, number];
      return layer.padding === "same"
        ? [h, w, layer.filters]
        : [h - layer.kernel + 1, w - layer.kernel + 1, layer.filters];
    }
    case "maxPool": {
      const [h, w, c] = s as [number, number, number];
      return [Math.floor(h / layer.size), Math.floor(w / layer.size), c];
    }
    case "dropout":
      return s;
    case "flatten":
      return [s.reduce((a, b) => a * b, 1)];
    case "dense":
      return [layer.units];
  }
}

/**
 * Creates a net with Glorot-uniform kernels and zero biases. A Gaussian layer
 * gets the same means as the deterministic layer would (the same seed gives
 * the same means), and rho entries drawn from N(rhoInit, rhoInitStd^2) from a
 * seed derived from `seed` and the layer index.
 *
 * @param spec the architecture
 * @param seed initialisation seed: equal seeds give equal weights
 * @returns the net; release it with {@link disposeNet}
 * @throws Error when a layer's Bayesian settings are out of range
 */
export function createNet(spec: NetSpec, seed: number): Net {
  const rng = makeRng(seed);
  let shape: number[] = [...spec.inputShape];
  const weights: (LayerWeights | null)[] = [];
  for (const [i, layer] of spec.layers.entries()) {
    if (layer.kind === "conv2d" || layer.kind === "dense") {
      const kernelShape = layer.kind === "conv2d"
        ? [layer.kernel, layer.kernel, shape[2] as number, layer.filters]
        : [shape[0] as number, layer.units];
      const receptive = layer.kind === "conv2d" ? layer.kernel * layer.kernel : 1;
      const fanIn = (kernelShape[kernelShape.length - 2] as number) * receptive;
      const fanOut = (kernelShape[kernelShape.length - 1] as number) * receptive;
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      const units = kernelShape[kernelShape.length - 1] as number;
      const kernel = tf.randomUniform(kernelShape, -limit, limit, "float32", rng.seed());
      const bias = tf.zeros([units]);
      const bayes = bayesianOf(layer);
      if (bayes) {
        if (!(bayes.priorStd > 0) || !(bayes.rhoInitStd >= 0) || !Number.isFinite(bayes.rhoInit)) {
          disposeNet({ spec, weights });
          tf.dispose([kernel, bias]);
          throw new Error(`Layer ${i}: bayesian needs priorStd > 0, rhoInitStd >= 0 and a finite rhoInit`);
        }
        const rhoRng = makeRng(deriveSeed(seed, `l${i}.rho`));
        const rhoOf = (s: number[]) =>
          tf.tidy(() => tf.add(tf.mul(normalNoise(s, rhoRng.seed()), bayes.rhoInitStd), bayes.rhoInit));
        const kRho = rhoOf(kernelShape), bRho = rhoOf([units]);
        weights.push({
          kernel: tf.variable(kernel),
          bias: tf.variable(bias),
          rho: { kernel: tf.variable(kRho), bias: tf.variable(bRho) },
        });
        // A variable shares its initial tensor's data; release the tensor handles.
        tf.dispose([kRho, bRho]);
      } else {
        weights.push({ kernel: tf.variable(kernel), bias: tf.variable(bias) });
      }
      tf.dispose([kernel, bias]);
    } else {
      weights.push(null);
    }
    shape = outputShape(layer, shape);
  }
  return { spec, weights };
}

/**
 * A copy of a net with its own variables (they share the weights' data until
 * either is trained: training assigns new tensors).
 *
 * @param net the net
 * @returns the copy; release it with {@link disposeNet}
 */
export function cloneNet(net: Net): Net {
  const copy = (v: tf.Variable) => {
    const t = tf.clone(v);
    const c = tf.variable(t);
    t.dispose();
    return c;
  };
  return {
    spec: net.spec,
    weights: net.weights.map((w) =>
      w
        ? {
          kernel: copy(w.kernel),
          bias: copy(w.bias),
          ...(w.rho ? { rho: { kernel: copy(w.rho.kernel), bias: copy(w.rho.bias) } } : {}),
        }
        : null
    ),
  };
}

/** All trainable variables of a net (for a Gaussian layer: means, then rhos). */
export function netVariables(net: Net): tf.Variable[] {
  return net.weights.flatMap((w) => {
    if (!w) return [];
    return w.rho ? [w.kernel, w.bias, w.rho.kernel, w.rho.bias] : [w.kernel, w.bias];
  });
}

/** Whether any layer of the net has Gaussian weights. */
export function hasBayesianLayers(net: Net): boolean {
  return net.weights.some((w) => w?.rho !== undefined);
}

/**
 * KL(q || p) summed over every Gaussian weight and bias of the net, where q =
 * N(mu, sigma^2) with sigma = softplus(rho) is the layer's posterior and p =
 * N(0, s^2) its prior (s = priorStd). Per entry the closed form is
 * log(s / sigma) + (sigma^2 + mu^2) / (2 s^2) - 1/2 (Blundell et al. 2015
 * estimate this term by sampling; for Gaussian prior and posterior it is exact).
 * Zero for a net without Gaussian layers. Differentiable in mu and rho.
 *
 * @param net the net
 * @returns the KL divergence in nats
 */
export function klDivergence(net: Net): tf.Scalar {
  return tf.tidy(() => {
    const terms: tf.Tensor[] = [];
    for (const [i, w] of net.weights.entries()) {
      const bayes = bayesianOf(net.spec.layers[i] as LayerSpec);
      if (!w?.rho || !bayes) continue;
      const s = bayes.priorStd;
      for (const [mu, rho] of [[w.kernel, w.rho.kernel], [w.bias, w.rho.bias]] as const) {
        const sigma = tf.softplus(rho);
        const quad = tf.div(tf.add(tf.square(sigma), tf.square(mu)), 2 * s * s);
        terms.push(tf.sum(tf.add(tf.sub(quad, tf.log(sigma)), Math.log(s) - 0.5)));
      }
    }
    return terms.length === 0 ? tf.scalar(0) : (tf.addN(terms) as tf.Scalar);
  });
}

/** Releases a net's weights. */
export function disposeNet(net: Net): void {
  for (const v of netVariables(net)) v.dispose();
}

/** Fills `out[offset, offset + size)` with standard normals from a mulberry32 stream (Box-Muller). */
function fillNormal(out: Float32Array, offset: number, size: number, seed: number): void {
  let state = seed | 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let z = Math.imul(state ^ (state >>> 15), state | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = 0; i < size; i += 2) {
    // 1 - u lies in (0, 1], which keeps the log finite.
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const a = 2 * Math.PI * uniform();
    out[offset + i] = r * Math.cos(a);
    if (i + 1 < size) out[offset + i + 1] = r * Math.sin(a);
  }
}

/** Fills `out[offset, offset + size)` with an inverted-dropout mask from a mulberry32 stream. */
function fillMask(out: Float32Array, offset: number, size: number, rate: number, seed: number): void {
  const scale = 1 / (1 - rate);
  // Compare raw 32-bit draws against an integer threshold: keep when u < keep.
  const threshold = Math.floor((1 - rate) * 4294967296);
  let state = seed | 0;
  for (let i = 0; i < size; i++) {
    state = (state + 0x6d2b79f5) | 0;
    let z = Math.imul(state ^ (state >>> 15), state | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    out[offset + i] = ((z ^ (z >>> 14)) >>> 0) < threshold ? scale : 0;
  }
}

/**
 * Standard normal noise drawn in JS (mulberry32 uniforms, Box-Muller), so the
 * same seed gives the same draws on every backend.
 *
 * @param shape noise shape
 * @param seed 32-bit seed
 * @returns the noise tensor
 */
export function normalNoise(shape: readonly number[], seed: number): tf.Tensor {
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  fillNormal(out, 0, out.length, seed);
  return tf.tensor(out, [...shape]);
}

/**
 * An inverted-dropout mask: each entry is 1 / (1 - rate) with probability
 * 1 - rate, else 0. Drawn in JS with mulberry32 seeded by `seed`, which is
 * several times faster than tfjs' per-element random generator and gives the
 * same mask on every backend.
 *
 * @param shape mask shape
 * @param rate drop probability in [0, 1)
 * @param seed 32-bit seed
 * @returns the mask tensor
 */
export function dropoutMask(shape: readonly number[], rate: number, seed: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const onHeap = masksOnHeap(rate);
  if (onHeap) return onHeap([...shape], [{ offset: 0, count: size, seed }]);
  const out = new Float32Array(size);
  fillMask(out, 0, out.length, rate, seed);
  return tf.tensor(out, [...shape]);
}

/**
 * On the wasm backend, a writer of masks drawn straight into a new tensor's
 * memory by our SIMD module (the same draws as {@link fillMask}, bit for bit,
 * about ten times faster, and no copy into the backend); undefined elsewhere.
 */
function masksOnHeap(
  rate: number,
): ((shape: number[], runs: readonly { offset: number; count: number; seed: number }[]) => tf.Tensor) | undefined {
  if (!(rate > 0 && rate < 1) || tf.getBackend() !== "wasm") return undefined;
  const backend = tf.backend();
  const kernels = heapKernels(backend);
  if (kernels === undefined) return undefined;
  return (shape, runs) => {
    const info = (backend as unknown as { makeOutput(s: number[], d: "float32"): tf.TensorInfo }).makeOutput(
      shape,
      "float32",
    );
    for (const r of runs) kernels.fillMask(info, r.offset, r.count, rate, r.seed);
    return tf.engine().makeTensorFromTensorInfo(info, backend);
  };
}

/** The seed of MC sample t's draw within a per-sample stream family (a splitmix-style hash). */
function rowSeed(seed: number, t: number): number {
  let z = (seed ^ Math.imul(t + 1, 0x9e3779b9)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 1;
}

/**
 * Draws for MC samples t0 .. t0 + rows - 1, stacked as [rows, ...shape]: row
 * r comes from its own stream seeded by rowSeed(seed, t0 + r), so sample t's
 * draw is the same whether drawn alone or with others.
 */
function drawRows(
  kind: "normal" | { readonly rate: number },
  t0: number,
  rows: number,
  shape: readonly number[],
  seed: number,
): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const onHeap = kind === "normal" ? undefined : masksOnHeap(kind.rate);
  if (onHeap) {
    const runs = Array.from(
      { length: rows },
      (_, r) => ({ offset: r * size, count: size, seed: rowSeed(seed, t0 + r) }),
    );
    return onHeap([rows, ...shape], runs);
  }
  const out = new Float32Array(rows * size);
  for (let r = 0; r < rows; r++) {
    const s = rowSeed(seed, t0 + r);
    if (kind === "normal") fillNormal(out, r * size, size, s);
    else fillMask(out, r * size, size, kind.rate, s);
  }
  return tf.tensor(out, [rows, ...shape]);
}

/** One draw of a Gaussian layer's weights: mu + softplus(rho) * eps with eps from `seed`. Differentiable. */
function sampleWeights(mu: tf.Tensor, rho: tf.Tensor, seed: number): tf.Tensor {
  return tf.add(mu, tf.mul(tf.softplus(rho), normalNoise(mu.shape, seed)));
}

/** Weights of MC samples t0 .. t0 + rows - 1, as [rows, ...mu.shape] (see drawRows). */
function sampleWeightRows(mu: tf.Tensor, rho: tf.Tensor, t0: number, rows: number, seed: number): tf.Tensor {
  return tf.add(mu, tf.mul(tf.softplus(rho), drawRows("normal", t0, rows, mu.shape, seed)));
}

/**
 * Runs layers `[from, to)` on `x`. Synchronous; call inside `tf.tidy`.
 *
 * @param net the net
 * @param x activations entering layer `from`, batch first
 * @param from first layer to apply
 * @param to one past the last layer to apply
 * @param dropout whether dropout layers drop and Gaussian layers draw their
 *   weights (masks and weight noise drawn from `rng`), or use the means
 * @returns the activations after layer `to - 1`
 */
export function applyLayers(
  net: Net,
  x: tf.Tensor,
  from: number,
  to: number,
  dropout: DropoutMode,
): tf.Tensor {
  let h = x;
  for (let i = from; i < to; i++) {
    const layer = net.spec.layers[i] as LayerSpec;
    const w = net.weights[i];
    switch (layer.kind) {
      case "conv2d": {
        if (!w) throw new Error(`Layer ${i} has no weights`);
        const [kernel, bias] = layerWeights(w, dropout);
        const y = tf.add(tf.conv2d(h as tf.Tensor4D, kernel as tf.Tensor4D, 1, layer.padding), bias);
        h = layer.activation === "relu" ? tf.relu(y) : y;
        break;
      }
      case "maxPool":
        h = tf.maxPool(h as tf.Tensor4D, layer.size, layer.size, "valid");
        break;
      case "dropout":
        if (dropout.kind === "sample" && layer.rate > 0) {
          h = tf.mul(h, dropoutMask(h.shape, layer.rate, dropout.rng.seed()));
        }
        break;
      case "flatten":
        h = tf.reshape(h, [h.shape[0] as number, -1]);
        break;
      case "dense": {
        if (!w) throw new Error(`Layer ${i} has no weights`);
        const [kernel, bias] = layerWeights(w, dropout);
        const y = tf.add(tf.matMul(h as tf.Tensor2D, kernel as tf.Tensor2D), bias);
        h = layer.activation === "relu" ? tf.relu(y) : y;
        break;
      }
    }
  }
  return h;
}

/** Kernel and bias of a pass: the means, or for a Gaussian layer in sample mode one draw (kernel seed first). */
function layerWeights(w: LayerWeights, mode: DropoutMode): [tf.Tensor, tf.Tensor] {
  if (!w.rho || mode.kind === "off") return [w.kernel, w.bias];
  // One draw for the whole batch, kernel seed first.
  const kernel = sampleWeights(w.kernel, w.rho.kernel, mode.rng.seed());
  return [kernel, sampleWeights(w.bias, w.rho.bias, mode.rng.seed())];
}

/**
 * The deterministic prefix of the net: everything before the first
 * stochastic layer (dropout or Gaussian weights). Its output is shared by all
 * MC samples of an item.
 *
 * @param net the net
 * @param x input images [N, H, W, C]
 * @returns features entering the first stochastic layer
 */
export function features(net: Net, x: tf.Tensor): tf.Tensor {
  return applyLayers(net, x, 0, firstStochasticLayer(net.spec), { kind: "off" });
}

/**
 * T stochastic passes through the stochastic suffix of the net for a batch of
 * features, as log-probabilities [N, T, C].
 *
 * Draws: dropout masks are per item and sample; Gaussian weights get one draw
 * per sample t, shared by the N items of the call. With `opts.consistentSeed`
 * masks are drawn once per sample ([T, 1, ...], broadcast over the items) and
 * all draws come from that seed, so sample t is the same network for every
 * item in every call.
 *
 * Passes: "batched" runs all T samples as one batch of T*N rows (a Gaussian
 * dense layer multiplies [T, N, in] activations by [T, in, out] sampled
 * kernels in one batched matMul; a Gaussian conv layer runs T convolutions);
 * "per-sample" runs T passes over the N items, holding one sample's
 * activations at a time. The default is per-sample when the stochastic suffix
 * has a Gaussian conv layer (whose batched form would hold T copies of early,
 * large activations), else batched. Under a consistent seed both give the same
 * draws.
 *
 * @param net the net
 * @param feats output of {@link features} for N items
 * @param samples T, the number of MC samples
 * @param rng source of the dropout masks and weight noise (unused under a consistent seed)
 * @param opts consistent sampling and the pass layout (see {@link McOptions})
 * @returns log-probabilities [N, T, C]
 */
export function mcLogProbs(
  net: Net,
  feats: tf.Tensor,
  samples: number,
  rng: Rng,
  opts: McOptions = {},
): tf.Tensor3D {
  return tf.tidy(() => {
    const n = feats.shape[0] as number;
    const first = firstStochasticLayer(net.spec);
    const layers = net.spec.layers;
    const consistent = opts.consistentSeed;
    // One seed per draw of each stochastic layer, in layer order: from the
    // caller's stream, or fixed by the consistent seed and the layer.
    const seedFor = (i: number, what: string): number =>
      consistent === undefined ? rng.seed() : deriveSeed(consistent, `l${i}.${what}`);
    const seeds = layers.map((l, i) => {
      if (i < first) return { mask: 0, kernel: 0, bias: 0 };
      const mask = l.kind === "dropout" && l.rate > 0 ? seedFor(i, "mask") : 0;
      const b = bayesianOf(l) !== undefined;
      const kernel = b ? seedFor(i, "kernel") : 0;
      return { mask, kernel, bias: b ? seedFor(i, "bias") : 0 };
    });
    const perSample = opts.passes === "per-sample" ||
      (opts.passes === undefined && layers.some((l, i) => i >= first && l.kind === "conv2d" && l.bayesian));
    const ctx: McContext = { net, samples, n, consistent: consistent !== undefined, seeds };
    const logits = perSample ? perSamplePasses(ctx, feats, first) : batchedPasses(ctx, feats, first);
    const c = logits.shape[1] as number;
    const logp = tf.logSoftmax(logits as tf.Tensor2D);
    return tf.transpose(tf.reshape(logp, [samples, n, c]), [1, 0, 2]) as tf.Tensor3D;
  });
}

/** What the MC passes share: the net, T, N, the mode and each layer's draw seeds. */
interface McContext {
  readonly net: Net;
  readonly samples: number;
  readonly n: number;
  readonly consistent: boolean;
  readonly seeds: readonly { readonly mask: number; readonly kernel: number; readonly bias: number }[];
}

/** All T samples as one batch of T*N rows (sample-major); returns logits [T*N, C]. */
function batchedPasses(ctx: McContext, feats: tf.Tensor, first: number): tf.Tensor {
  const { net, samples, n } = ctx;
  const rest = feats.shape.slice(1);
  const layer = net.spec.layers[first];
  // Repeat the features T times by broadcasting them against the first
  // dropout mask [T, N or 1, ...] (tf.tile is very slow on the wasm backend).
  let h: tf.Tensor;
  let next = first;
  if (layer?.kind === "dropout" && layer.rate > 0) {
    const seed = ctx.seeds[first]!.mask;
    const mask = ctx.consistent
      ? drawRows({ rate: layer.rate }, 0, samples, [1, ...rest], seed)
      : dropoutMask([samples, n, ...rest], layer.rate, seed);
    h = tf.reshape(tf.mul(tf.reshape(feats, [1, n, ...rest]), mask), [samples * n, ...rest]);
    next = first + 1;
  } else {
    h = tf.concat(new Array<tf.Tensor>(samples).fill(feats), 0);
  }
  for (let i = next; i < net.spec.layers.length; i++) {
    const l = net.spec.layers[i] as LayerSpec;
    const w = net.weights[i];
    const seeds = ctx.seeds[i]!;
    if (l.kind === "dropout") {
      if (l.rate <= 0) continue;
      if (!ctx.consistent) {
        h = tf.mul(h, dropoutMask(h.shape, l.rate, seeds.mask));
        continue;
      }
      const shape = h.shape.slice(1);
      const mask = drawRows({ rate: l.rate }, 0, samples, [1, ...shape], seeds.mask);
      h = tf.reshape(tf.mul(tf.reshape(h, [samples, n, ...shape]), mask), h.shape);
      continue;
    }
    if ((l.kind !== "conv2d" && l.kind !== "dense") || !w?.rho) {
      h = applyLayers(net, h, i, i + 1, { kind: "off" });
      continue;
    }
    const kernels = sampleWeightRows(w.kernel, w.rho.kernel, 0, samples, seeds.kernel);
    const biases = sampleWeightRows(w.bias, w.rho.bias, 0, samples, seeds.bias);
    let y: tf.Tensor;
    if (l.kind === "dense") {
      const inDim = h.shape[1] as number;
      const prod = tf.matMul(tf.reshape(h, [samples, n, inDim]) as tf.Tensor3D, kernels as tf.Tensor3D);
      y = tf.reshape(tf.add(prod, tf.reshape(biases, [samples, 1, l.units])), [samples * n, l.units]);
    } else {
      const xs = tf.split(h, samples, 0);
      const ks = tf.unstack(kernels, 0), bs = tf.unstack(biases, 0);
      y = tf.concat(
        xs.map((x, t) => tf.add(tf.conv2d(x as tf.Tensor4D, ks[t] as tf.Tensor4D, 1, l.padding), bs[t] as tf.Tensor)),
        0,
      );
    }
    h = l.activation === "relu" ? tf.relu(y) : y;
  }
  return h;
}

/** T passes over the N items, one sample at a time; returns logits [T*N, C] (sample-major). */
function perSamplePasses(ctx: McContext, feats: tf.Tensor, first: number): tf.Tensor {
  const { net, samples } = ctx;
  const outs: tf.Tensor[] = [];
  for (let t = 0; t < samples; t++) {
    outs.push(tf.tidy(() => {
      let h = feats;
      for (let i = first; i < net.spec.layers.length; i++) {
        const l = net.spec.layers[i] as LayerSpec;
        const w = net.weights[i];
        const seeds = ctx.seeds[i]!;
        if (l.kind === "dropout") {
          if (l.rate <= 0) continue;
          // Consistent: sample t's mask [1, ...] broadcast over the items; else one per item.
          const mask = ctx.consistent
            ? drawRows({ rate: l.rate }, t, 1, h.shape.slice(1), seeds.mask)
            : dropoutMask(h.shape, l.rate, rowSeed(seeds.mask, t));
          h = tf.mul(h, mask);
          continue;
        }
        if ((l.kind !== "conv2d" && l.kind !== "dense") || !w?.rho) {
          h = applyLayers(net, h, i, i + 1, { kind: "off" });
          continue;
        }
        const kernel = tf.squeeze(sampleWeightRows(w.kernel, w.rho.kernel, t, 1, seeds.kernel), [0]);
        const bias = tf.squeeze(sampleWeightRows(w.bias, w.rho.bias, t, 1, seeds.bias), [0]);
        const y = l.kind === "dense"
          ? tf.add(tf.matMul(h as tf.Tensor2D, kernel as tf.Tensor2D), bias)
          : tf.add(tf.conv2d(h as tf.Tensor4D, kernel as tf.Tensor4D, 1, l.padding), bias);
        h = l.activation === "relu" ? tf.relu(y) : y;
      }
      return h;
    }));
  }
  return tf.concat(outs, 0);
}

/**
 * A net's weights as named float32 arrays, for the cache: `l<i>.kernel` and
 * `l<i>.bias` (the means for a Gaussian layer), plus `l<i>.kernelRho` and
 * `l<i>.biasRho` for a Gaussian layer.
 */
export async function netToArrays(
  net: Net,
): Promise<Record<string, { data: Float32Array; shape: number[] }>> {
  const out: Record<string, { data: Float32Array; shape: number[] }> = {};
  const put = async (name: string, v: tf.Variable) => {
    out[name] = { data: (await v.data()) as Float32Array, shape: [...v.shape] };
  };
  for (const [i, w] of net.weights.entries()) {
    if (!w) continue;
    await put(`l${i}.kernel`, w.kernel);
    await put(`l${i}.bias`, w.bias);
    if (w.rho) {
      await put(`l${i}.kernelRho`, w.rho.kernel);
      await put(`l${i}.biasRho`, w.rho.bias);
    }
  }
  return out;
}

/**
 * Rebuilds a net from arrays written by {@link netToArrays}.
 *
 * @param spec the architecture the arrays were made for
 * @param arrays the weights
 * @returns the net
 * @throws Error naming the layer when an array is missing or has the wrong shape
 */
export function netFromArrays(
  spec: NetSpec,
  arrays: Readonly<Record<string, { readonly data: ArrayLike<number>; readonly shape: readonly number[] }>>,
): Net {
  const shapes = layerShapes(spec);
  const weights: (LayerWeights | null)[] = [];
  const variable = (a: { readonly data: ArrayLike<number>; readonly shape: readonly number[] }) => {
    const t = tf.tensor(Float32Array.from(a.data), [...a.shape]);
    const v = tf.variable(t);
    t.dispose();
    return v;
  };
  const sameShape = (a: readonly number[], b: readonly number[]) =>
    a.length === b.length && a.every((d, j) => d === b[j]);
  try {
    spec.layers.forEach((layer, i) => {
      if (layer.kind !== "conv2d" && layer.kind !== "dense") {
        weights.push(null);
        return;
      }
      const k = arrays[`l${i}.kernel`], b = arrays[`l${i}.bias`];
      const units = (shapes[i] as number[])[(shapes[i] as number[]).length - 1] as number;
      const bad = () => new Error(`Stored weights of layer ${i} (${layer.kind}) are missing or have the wrong shape`);
      if (!k || !b || b.shape.length !== 1 || b.shape[0] !== units || k.shape[k.shape.length - 1] !== units) {
        throw bad();
      }
      if (!bayesianOf(layer)) {
        weights.push({ kernel: variable(k), bias: variable(b) });
        return;
      }
      const kr = arrays[`l${i}.kernelRho`], br = arrays[`l${i}.biasRho`];
      if (!kr || !br || !sameShape(kr.shape, k.shape) || !sameShape(br.shape, b.shape)) throw bad();
      const kernel = variable(k), bias = variable(b);
      weights.push({ kernel, bias, rho: { kernel: variable(kr), bias: variable(br) } });
    });
  } catch (e) {
    disposeNet({ spec, weights });
    throw e;
  }
  return { spec, weights };
}
