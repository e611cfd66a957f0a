/**
 * Feed-forward nets built from a {@link NetSpec} with tfjs-core ops only, so
 * that every random draw (initial weights, dropout masks) comes from a seed
 * the pipeline controls.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { firstStochasticLayer, type LayerSpec, type NetSpec } from "../dsl/model.ts";
import { makeRng, type Rng } from "./rng.ts";

/** Weights of one layer (kernel and bias), absent for parameter-free layers. */
type LayerWeights = { readonly kernel: tf.Variable; readonly bias: tf.Variable } | null;

/** A net: its spec and its trainable weights, one entry per layer. */
export interface Net {
  readonly spec: NetSpec;
  readonly weights: readonly LayerWeights[];
}

/** How dropout layers behave in a forward pass. */
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
 * Creates a net with Glorot-uniform kernels and zero biases.
 *
 * @param spec the architecture
 * @param seed initialisation seed: equal seeds give equal weights
 * @returns the net; release it with {@link disposeNet}
 */
export function createNet(spec: NetSpec, seed: number): Net {
  const rng = makeRng(seed);
  let shape: number[] = [...spec.inputShape];
  const weights: LayerWeights[] = [];
  for (const layer of spec.layers) {
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
      // A variable shares its initial tensor's data; release the tensor handle.
      weights.push({ kernel: tf.variable(kernel), bias: tf.variable(bias) });
      tf.dispose([kernel, bias]);
    } else {
      weights.push(null);
    }
    shape = outputShape(layer, shape);
  }
  return { spec, weights };
}

/** All trainable variables of a net. */
export function netVariables(net: Net): tf.Variable[] {
  return net.weights.flatMap((w) => (w ? [w.kernel, w.bias] : []));
}

/** Releases a net's weights. */
export function disposeNet(net: Net): void {
  for (const v of netVariables(net)) v.dispose();
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
  const out = new Float32Array(size);
  const scale = 1 / (1 - rate);
  // Compare raw 32-bit draws against an integer threshold: keep when u < keep.
  const threshold = Math.floor((1 - rate) * 4294967296);
  let state = seed | 0;
  for (let i = 0; i < size; i++) {
    state = (state + 0x6d2b79f5) | 0;
    let z = Math.imul(state ^ (state >>> 15), state | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    out[i] = ((z ^ (z >>> 14)) >>> 0) < threshold ? scale : 0;
  }
  return tf.tensor(out, [...shape]);
}

/**
 * Runs layers `[from, to)` on `x`. Synchronous; call inside `tf.tidy`.
 *
 * @param net the net
 * @param x activations entering layer `from`, batch first
 * @param from first layer to apply
 * @param to one past the last layer to apply
 * @param dropout whether dropout layers drop (with masks drawn from `rng`)
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
        const y = tf.add(tf.conv2d(h as tf.Tensor4D, w.kernel as tf.Tensor4D, 1, layer.padding), w.bias);
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
        const y = tf.add(tf.matMul(h as tf.Tensor2D, w.kernel as tf.Tensor2D), w.bias);
        h = layer.activation === "relu" ? tf.relu(y) : y;
        break;
      }
    }
  }
  return h;
}

/**
 * The deterministic prefix of the net: everything before the first dropout.
 * Its output is shared by all MC-dropout samples of an item.
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
 * features, as log-probabilities [N, T, C]. All T passes run as one batch of
 * T*N rows, each row with its own dropout mask.
 *
 * @param net the net
 * @param feats output of {@link features} for N items
 * @param samples T, the number of MC-dropout samples
 * @param rng source of the dropout masks
 * @returns log-probabilities [N, T, C]
 */
export function mcLogProbs(net: Net, feats: tf.Tensor, samples: number, rng: Rng): tf.Tensor3D {
  return tf.tidy(() => {
    const n = feats.shape[0] as number;
    const rest = feats.shape.slice(1);
    const first = firstStochasticLayer(net.spec);
    const layer = net.spec.layers[first];
    // Repeat the features T times by broadcasting them against the first
    // dropout mask [T, N, ...] (tf.tile is very slow on the wasm backend).
    let h: tf.Tensor;
    let next = first;
    if (layer?.kind === "dropout" && layer.rate > 0) {
      const mask = dropoutMask([samples, n, ...rest], layer.rate, rng.seed());
      h = tf.reshape(tf.mul(tf.reshape(feats, [1, n, ...rest]), mask), [samples * n, ...rest]);
      next = first + 1;
    } else {
      h = tf.concat(new Array<tf.Tensor>(samples).fill(feats), 0);
    }
    const logits = applyLayers(net, h, next, net.spec.layers.length, { kind: "sample", rng });
    const c = logits.shape[1] as number;
    const logp = tf.logSoftmax(logits as tf.Tensor2D);
    return tf.transpose(tf.reshape(logp, [samples, n, c]), [1, 0, 2]) as tf.Tensor3D;
  });
}

/** A net's weights as named float32 arrays (`l<i>.kernel`, `l<i>.bias`), for the cache. */
export async function netToArrays(
  net: Net,
): Promise<Record<string, { data: Float32Array; shape: number[] }>> {
  const out: Record<string, { data: Float32Array; shape: number[] }> = {};
  for (const [i, w] of net.weights.entries()) {
    if (!w) continue;
    out[`l${i}.kernel`] = { data: (await w.kernel.data()) as Float32Array, shape: [...w.kernel.shape] };
    out[`l${i}.bias`] = { data: (await w.bias.data()) as Float32Array, shape: [...w.bias.shape] };
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
  const weights: LayerWeights[] = [];
  try {
    spec.layers.forEach((layer, i) => {
      if (layer.kind !== "conv2d" && layer.kind !== "dense") {
        weights.push(null);
        return;
      }
      const k = arrays[`l${i}.kernel`], b = arrays[`l${i}.bias`];
      const units = (shapes[i] as number[])[(shapes[i] as number[]).length - 1] as number;
      if (!k || !b || b.shape.length !== 1 || b.shape[0] !== units || k.shape[k.shape.length - 1] !== units) {
        throw new Error(`Stored weights of layer ${i} (${layer.kind}) are missing or have the wrong shape`);
      }
      const kernel = tf.tensor(Float32Array.from(k.data), [...k.shape]);
      const bias = tf.tensor(Float32Array.from(b.data), [...b.shape]);
      weights.push({ kernel: tf.variable(kernel), bias: tf.variable(bias) });
      tf.dispose([kernel, bias]);
    });
  } catch (e) {
    disposeNet({ spec, weights });
    throw e;
  }
  return { spec, weights };
}
