/**
 * Network architectures as plain data. The tensor code that builds and runs
 * them lives in `pipeline/tensor/net.ts`; nothing here imports tfjs.
 *
 * @module
 */
import * as t from "io-ts";
import { strictFields, strictTuple, taggedUnion } from "./codecs.ts";

/** Activation applied after a conv2d or dense layer. */
export const Activation = t.union([t.literal("relu"), t.literal("linear")]);
/** Activation applied after a conv2d or dense layer. */
export type Activation = t.TypeOf<typeof Activation>;

// Refinements keep the static type `number` (so specs can be written as plain
// literals) while the decoder still rejects values that make no sense.
const positive = t.refinement(t.number, (n) => Number.isFinite(n) && n > 0, "PositiveNumber");
const nonNegative = t.refinement(t.number, (n) => Number.isFinite(n) && n >= 0, "NonNegativeNumber");
const finite = t.refinement(t.number, (n) => Number.isFinite(n), "FiniteNumber");
const count = t.refinement(t.number, (n) => Number.isInteger(n) && n >= 1, "PositiveInt");
const dropRate = t.refinement(t.number, (n) => Number.isFinite(n) && n >= 0 && n < 1, "Probability");

/**
 * A mean-field Gaussian weight posterior for a conv2d or dense layer, trained
 * by Bayes by Backprop (Blundell, Cornebise, Kavukcuoglu & Wierstra, "Weight
 * Uncertainty in Neural Networks", ICML 2015). Every kernel entry and bias has
 * its own mean mu and its own rho; the posterior std is softplus(rho) =
 * log(1 + exp(rho)). The prior is N(0, priorStd^2) on every weight and bias.
 *
 * - `priorStd`: std of the zero-mean Gaussian prior (> 0).
 * - `rhoInit`, `rhoInitStd`: rho starts as N(rhoInit, rhoInitStd^2) draws.
 *   Zeng, Lesnikowski & Alvarez ("The Relevance of Bayesian Layer Positioning
 *   for Model Uncertainty in Deep Bayesian Active Learning") start at
 *   N(-3, 0.1) and try -5, -9, -11 as more nearly deterministic starts.
 */
export const BayesianSpec = strictFields(t.type({ priorStd: positive, rhoInit: finite, rhoInitStd: nonNegative }));
/** A mean-field Gaussian weight posterior (see the codec). */
export type BayesianSpec = t.TypeOf<typeof BayesianSpec>;

/** Optional fields of the layers that have weights. */
const WeightedOptions = t.partial({ bayesian: BayesianSpec });

/** A 2-D convolution, stride 1. */
export const Conv2dSpec = strictFields(t.intersection([
  t.type({
    kind: t.literal("conv2d"),
    filters: count,
    kernel: count,
    activation: Activation,
    padding: t.union([t.literal("valid"), t.literal("same")]),
  }),
  WeightedOptions,
]));
/** A 2-D convolution, stride 1. */
export type Conv2dSpec = t.TypeOf<typeof Conv2dSpec>;

/** A fully connected layer. */
export const DenseSpec = strictFields(t.intersection([
  t.type({ kind: t.literal("dense"), units: count, activation: Activation }),
  WeightedOptions,
]));
/** A fully connected layer. */
export type DenseSpec = t.TypeOf<typeof DenseSpec>;

/** Max pooling, size x size windows with stride size. */
export const MaxPoolSpec = strictFields(t.type({ kind: t.literal("maxPool"), size: count }));
/** Dropout: each activation is zeroed with probability `rate` (and the rest scaled up) when sampling. */
export const DropoutSpec = strictFields(t.type({ kind: t.literal("dropout"), rate: dropRate }));
/** Flattens [H, W, C] activations to one vector. */
export const FlattenSpec = strictFields(t.type({ kind: t.literal("flatten") }));

/** One layer of a feed-forward net, told apart by its `kind`. */
export const LayerSpec = taggedUnion("LayerSpec", "kind", {
  conv2d: Conv2dSpec,
  maxPool: MaxPoolSpec,
  dropout: DropoutSpec,
  flatten: FlattenSpec,
  dense: DenseSpec,
});
/** One layer of a feed-forward net. */
export type LayerSpec = t.TypeOf<typeof LayerSpec>;

/**
 * A feed-forward classifier: input shape [H, W, C] and layers; the last layer
 * is a linear dense layer whose outputs are the class logits. Sizes (filters,
 * kernel, units, pool size, input shape) are integers >= 1 and dropout rates
 * lie in [0, 1); {@link checkModelShapes} and {@link checkModelClasses} check
 * what the codec cannot see alone.
 */
export const NetSpec = strictFields(t.type({
  inputShape: strictTuple(t.tuple([count, count, count])),
  layers: t.array(LayerSpec),
}));
/** A feed-forward classifier (see the codec). */
export type NetSpec = t.TypeOf<typeof NetSpec>;
/** A net spec as written by hand (plain numbers; checked by the same codec when used). */
export type NetSpecInput = t.OutputOf<typeof NetSpec>;

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
 * import assert from "node:assert/strict";
 * const spec = galCnn(10, [28, 28, 1]);
 * assert(spec.layers.length === 8);
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
 * A small CNN for small colour images (the CIFAR-10 examples): two conv +
 * max-pool blocks (32 and 64 3x3 filters), dropout 0.25, a dense ReLU layer
 * of 128 with dropout 0.5, and a linear output. It trains at a few hundred
 * images/s on 2 CPU cores.
 *
 * @param classes output classes
 * @param inputShape [H, W, C] (default [32, 32, 3])
 * @returns the spec
 */
export function smallCnn(
  classes: number,
  inputShape: readonly [number, number, number] = [32, 32, 3],
): NetSpec {
  return {
    inputShape: [inputShape[0], inputShape[1], inputShape[2]],
    layers: [
      { kind: "conv2d", filters: 32, kernel: 3, activation: "relu", padding: "valid" },
      { kind: "maxPool", size: 2 },
      { kind: "conv2d", filters: 64, kernel: 3, activation: "relu", padding: "valid" },
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
 * The Bayesian settings of a layer, or undefined for a deterministic one.
 *
 * @param layer the layer
 * @returns its weight posterior's settings
 */
export function bayesianOf(layer: LayerSpec): BayesianSpec | undefined {
  return layer.kind === "conv2d" || layer.kind === "dense" ? layer.bayesian : undefined;
}

/**
 * Indices of the layers with Gaussian (Bayes by Backprop) weights.
 *
 * @param spec the net
 * @returns the indices, ascending
 */
export function bayesianLayers(spec: NetSpec): number[] {
  return spec.layers.flatMap((l, i) => (bayesianOf(l) ? [i] : []));
}

/**
 * Index of the first stochastic layer (a dropout with rate > 0, or a layer
 * with Gaussian weights), or the layer count when there is none. Layers before
 * it are deterministic, so their output can be computed once and shared by
 * every MC sample.
 *
 * @param spec the net
 * @returns the index of the first stochastic layer
 */
export function firstStochasticLayer(spec: NetSpec): number {
  const i = spec.layers.findIndex((l) => (l.kind === "dropout" && l.rate > 0) || bayesianOf(l) !== undefined);
  return i < 0 ? spec.layers.length : i;
}

/**
 * The eight architectures of Table 1 of Zeng, Lesnikowski & Alvarez, "The
 * Relevance of Bayesian Layer Positioning for Model Uncertainty in Deep
 * Bayesian Active Learning" (NVIDIA/Stanford poster). A minus sign counts
 * Bayesian layers from the output end, a plain number from the input end.
 */
export const HybridPresetName = t.keyof({
  "BNN": null,
  "BNN-1": null,
  "BNN-2": null,
  "BNN-3": null,
  "BNN1": null,
  "BNN2": null,
  "BNN3": null,
  "CNN": null,
});
/** One of the poster's eight architectures. */
export type HybridPresetName = t.TypeOf<typeof HybridPresetName>;

/** The names of the hybrid presets, in the poster's order. */
export const hybridPresetNames: readonly HybridPresetName[] = [
  "BNN",
  "BNN-1",
  "BNN-2",
  "BNN-3",
  "BNN1",
  "BNN2",
  "BNN3",
  "CNN",
];

/** Which of [Conv1, Conv2, Dense1, Dense2] are Bayesian, per preset (Table 1 of the poster). */
const HYBRID_TABLE: Readonly<Record<HybridPresetName, readonly [boolean, boolean, boolean, boolean]>> = {
  "BNN": [true, true, true, true],
  "BNN-1": [false, false, false, true],
  "BNN-2": [false, false, true, true],
  "BNN-3": [false, true, true, true],
  "BNN1": [true, false, false, false],
  "BNN2": [true, true, false, false],
  "BNN3": [true, true, true, false],
  "CNN": [false, false, false, false],
};

/** Settings of the Gaussian layers of a hybrid preset; each has a default. */
export interface HybridOptions {
  /** Std of the N(0, priorStd^2) prior; default 1 (the TensorFlow Probability layers' default prior). */
  readonly priorStd?: number;
  /** Mean of the initial rho draws; default -3 (the poster's; -5, -9, -11 start closer to deterministic). */
  readonly rhoInit?: number;
  /** Std of the initial rho draws; default 0.1 (the poster's). */
  readonly rhoInitStd?: number;
}

/**
 * One of the hybrid Bayesian/deterministic nets of Zeng, Lesnikowski &
 * Alvarez, "The Relevance of Bayesian Layer Positioning for Model Uncertainty
 * in Deep Bayesian Active Learning". Layers: Conv1 (32, 4x4)-relu, Conv2
 * (32, 4x4)-relu, maxpool 2x2, flatten, Dense1 128-relu, Dense2 (logits); the
 * sizes follow {@link galCnn}, without its dropout. Which layers have Gaussian
 * weights (Table 1 of the poster; B = Bayesian, D = deterministic):
 *
 * | preset | Conv1 | Conv2 | Dense1 | Dense2 |
 * |--------|-------|-------|--------|--------|
 * | BNN    | B     | B     | B      | B      |
 * | BNN-1  | D     | D     | D      | B      |
 * | BNN-2  | D     | D     | B      | B      |
 * | BNN-3  | D     | B     | B      | B      |
 * | BNN1   | B     | D     | D      | D      |
 * | BNN2   | B     | B     | D      | D      |
 * | BNN3   | B     | B     | B      | D      |
 * | CNN    | D     | D     | D      | D      |
 *
 * CNN has no stochastic layer at all, so its T "samples" are identical.
 *
 * @param name the preset
 * @param classes number of output classes
 * @param inputShape [H, W, C] of the images
 * @param opts prior and initial-rho settings of the Gaussian layers
 * @returns the net's spec
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const spec = hybridPreset("BNN-1", 10);
 * assert(bayesianLayers(spec).length === 1);
 * ```
 */
export function hybridPreset(
  name: HybridPresetName,
  classes: number,
  inputShape: readonly [number, number, number] = [28, 28, 1],
  opts: HybridOptions = {},
): NetSpec {
  const row = HYBRID_TABLE[name];
  if (!row) throw new Error(`unknown hybrid preset "${name}" (known: ${hybridPresetNames.join(", ")})`);
  const bayes: BayesianSpec = {
    priorStd: opts.priorStd ?? 1,
    rhoInit: opts.rhoInit ?? -3,
    rhoInitStd: opts.rhoInitStd ?? 0.1,
  };
  const maybe = (on: boolean) => (on ? { bayesian: { ...bayes } } : {});
  const [conv1, conv2, dense1, dense2] = row;
  return {
    inputShape: [inputShape[0], inputShape[1], inputShape[2]],
    layers: [
      { kind: "conv2d", filters: 32, kernel: 4, activation: "relu", padding: "valid", ...maybe(conv1) },
      { kind: "conv2d", filters: 32, kernel: 4, activation: "relu", padding: "valid", ...maybe(conv2) },
      { kind: "maxPool", size: 2 },
      { kind: "flatten" },
      { kind: "dense", units: 128, activation: "relu", ...maybe(dense1) },
      { kind: "dense", units: classes, activation: "linear", ...maybe(dense2) },
    ],
  };
}

const showShape = (shape: readonly number[]) => `[${shape.join(", ")}]`;

/**
 * Checks that each layer fits the output of the one before it: a kernel or
 * pool no larger than its input, conv and pool layers on [H, W, C] input, a
 * dense layer on a vector (after a flatten). Paths are those of an
 * experiment's `model` field. Stops at the first layer that does not fit (the
 * shapes after it mean nothing).
 *
 * @param spec a decoded spec
 * @returns one message per problem (`model.layers.1.kernel: ...`), none when it fits
 */
export function checkModelShapes(spec: NetSpec): string[] {
  let shape: number[] = [...spec.inputShape];
  for (const [i, layer] of spec.layers.entries()) {
    const at = `model.layers.${i}`;
    const flat = shape.length === 1;
    switch (layer.kind) {
      case "conv2d":
      case "maxPool": {
        const what = layer.kind === "conv2d" ? "a conv2d layer" : "a maxPool layer";
        if (flat) return [`${at}: ${what} needs [H, W, C] input, but its input is a vector of ${shape[0]}`];
        const [h, w, c] = shape as [number, number, number];
        if (layer.kind === "conv2d") {
          if (layer.padding === "valid" && (layer.kernel > h || layer.kernel > w)) {
            return [`${at}.kernel: a ${layer.kernel}x${layer.kernel} kernel does not fit its ${h}x${w} input`];
          }
          shape = layer.padding === "same"
            ? [h, w, layer.filters]
            : [h - layer.kernel + 1, w - layer.kernel + 1, layer.filters];
        } else {
          if (layer.size > h || layer.size > w) {
            return [`${at}.size: a ${layer.size}x${layer.size} pool does not fit its ${h}x${w} input`];
          }
          shape = [Math.floor(h / layer.size), Math.floor(w / layer.size), c];
        }
        break;
      }
      case "dense":
        if (!flat) {
          return [
            `${at}: a dense layer needs a vector input (put { kind: flatten } before it), got ${showShape(shape)}`,
          ];
        }
        shape = [layer.units];
        break;
      case "flatten":
        shape = [shape.reduce((a, b) => a * b, 1)];
        break;
      case "dropout":
        break;
    }
  }
  return [];
}

/**
 * Checks that a net's last layer is a linear dense layer (its outputs are the
 * class logits), whatever the number of classes.
 *
 * @param spec a decoded spec
 * @returns one message when it is not, else none
 */
export function checkModelOutput(spec: NetSpec): string[] {
  const last = spec.layers[spec.layers.length - 1];
  return !last || last.kind !== "dense" || last.activation !== "linear"
    ? ["model.layers: the last layer must be a linear dense layer (the class logits)"]
    : [];
}

/**
 * Checks that a net ends in its class logits: the last layer is a linear
 * dense layer with one unit per class. The experiment codec runs it for the
 * built-in data sets; a loader of a user's data set runs it once the classes
 * are known. Paths are those of an experiment's `model` field.
 *
 * @param spec a decoded spec
 * @param classes the data set's number of classes
 * @param dataset the data set's name, for messages
 * @returns one message per problem, none when the net fits
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkModelClasses, galCnn } from "./model.ts";
 * assert(checkModelClasses(galCnn(10), 10).length === 0);
 * assert(checkModelClasses(galCnn(7), 10, "mnist")[0] ===
 *   "model.layers.7.units: the last layer has 7 units but mnist has 10 classes");
 * ```
 */
export function checkModelClasses(spec: NetSpec, classes: number, dataset = "the data set"): string[] {
  const output = checkModelOutput(spec);
  const i = spec.layers.length - 1;
  const last = spec.layers[i];
  if (output.length > 0 || !last || last.kind !== "dense") return output;
  return last.units === classes
    ? []
    : [`model.layers.${i}.units: the last layer has ${last.units} units but ${dataset} has ${classes} classes`];
}

/**
 * Checks a net's input shape against its data set's images.
 *
 * @param spec a decoded spec
 * @param inputShape [H, W, C] of the data set's images
 * @param dataset the data set's name, for messages
 * @returns one message when the shapes differ, else none
 */
export function checkModelInput(
  spec: NetSpec,
  inputShape: readonly [number, number, number],
  dataset = "the data set",
): string[] {
  return spec.inputShape.every((n, k) => n === inputShape[k])
    ? []
    : [`model.inputShape: expected ${showShape(inputShape)} for ${dataset}, got ${showShape(spec.inputShape)}`];
}
