/**
 * Network architectures as plain data. The tensor code that builds and runs
 * them lives in `pipeline/net.ts`; nothing here imports tfjs.
 *
 * @module
 */
import * as t from "io-ts";

/** Activation applied after a conv2d or dense layer. */
export const Activation = t.union([t.literal("relu"), t.literal("linear")]);
/** Activation applied after a conv2d or dense layer. */
export type Activation = t.TypeOf<typeof Activation>;

/** One layer of a feed-forward net. */
export const LayerSpec = t.union([
  t.type({
    kind: t.literal("conv2d"),
    filters: t.number,
    kernel: t.number,
    activation: Activation,
    padding: t.union([t.literal("valid"), t.literal("same")]),
  }),
  t.type({ kind: t.literal("maxPool"), size: t.number }),
  t.type({ kind: t.literal("dropout"), rate: t.number }),
  t.type({ kind: t.literal("flatten") }),
  t.type({ kind: t.literal("dense"), units: t.number, activation: Activation }),
]);
/** One layer of a feed-forward net. */
export type LayerSpec = t.TypeOf<typeof LayerSpec>;

/**
 * A feed-forward classifier: input shape [H, W, C] and layers; the last layer
 * is a linear dense layer whose outputs are the class logits.
 */
export const NetSpec = t.type({
  inputShape: t.tuple([t.number, t.number, t.number]),
  layers: t.array(LayerSpec),
});
/** A feed-forward classifier (see the codec). */
export type NetSpec = t.TypeOf<typeof NetSpec>;

/**
 * The Bayesian CNN of Gal, Islam & Ghahramani, "Deep Bayesian Active Learning
 * with Image Data" (ICML 2017): conv(32, 4x4)-relu, conv(32, 4x4)-relu,
 * maxpool 2x2, dropout 0.25, dense 128-relu, dropout 0.5, dense (softmax).
 *
 * @param classes number of output classes
 * @param inputShape [H, W, C] of the images
 * @returns the net's spec
 * @example
 * ```ts
 * const spec = galCnn(10, [28, 28, 1]);
 * console.assert(spec.layers.length === 8);
 * ```
 */
export function galCnn(
  classes: number,
  inputShape: readonly [number, number, number] = [28, 28, 1],
): NetSpec {
  return {
    inputShape: [inputShape[0], inputShape[1], inputShape[2]],
    layers: [
      { kind: "conv2d", filters: 32, kernel: 4, activation: "relu", padding: "valid" },
      { kind: "conv2d", filters: 32, kernel: 4, activation: "relu", padding: "valid" },
      { kind: "maxPool", size: 2 },
      { kind: "dropout", rate: 0.25 },
      { kind: "flatten" },
      { kind: "dense", units: 128, activation: "relu" },
      { kind: "dropout", rate: 0.5 },
      { kind: "dense", units: classes, activation: "linear" },
    ],
  };
}

/**
 * Index of the first stochastic (dropout) layer, or the layer count when
 * there is none. Layers before it are deterministic, so their output can be
 * computed once and shared by every MC sample.
 *
 * @param spec the net
 * @returns the index of the first dropout layer
 */
export function firstStochasticLayer(spec: NetSpec): number {
  const i = spec.layers.findIndex((l) => l.kind === "dropout");
  return i < 0 ? spec.layers.length : i;
}
