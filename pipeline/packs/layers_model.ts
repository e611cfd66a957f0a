/**
 * "Your own model": a TensorFlow.js layers model (`tf.sequential({...})` or
 * `tf.model({...})` from `@tensorflow/tfjs-layers`) as a {@link ModelPack}
 * of the image round, so that a user's experiment file trains and samples
 * its own network with the library's strategies, cache and records.
 *
 * - Retrain: a seeded minibatch Adam loop (softmax cross-entropy, L2 weight
 *   decay on the kernels, the batch size, epochs and learning rate of the
 *   options) over `model.apply(x, { training: true })` inside
 *   `optimizer.minimize`; not `model.fit`, whose shuffling is unseeded.
 *   Pseudo-labelled items train too. `init: "previous"` continues from a copy
 *   of last round's model (the cached one is left as it was).
 * - Posteriors: `mcDropout` (T passes with `training: true`),
 *   `deterministic` (one pass, `training: false`), `deepEnsemble` (one model
 *   per member; the round trains `def.nets` of them). Any other posterior is
 *   an error when the round is built. `embed` is the output of the layer
 *   before the last (core-set, BADGE).
 * - Output: a last layer with a softmax activation gives probabilities (their
 *   logarithm, renormalised, is used); a linear one gives logits.
 * - Cache: the trained weights (`model.getWeights()`), one float32 array per
 *   weight named `l<layer>.<weight>`, restored into a freshly built model.
 *   The retrain stage's key holds the model's topology (`model.toJSON()`,
 *   layer names made positional) and the module that called
 *   {@link layersModel}, so editing the user's model file retrains.
 *
 * Determinism. tfjs-layers draws initial weights (its initializers) and
 * dropout masks from tfjs-core's random ops, which, unseeded, take their seed
 * from `Math.random()`. Every call here that may draw (`build()`, each
 * training step, each sampling call) runs with `Math.random` swapped for a
 * seeded generator of `pipeline/tensor/rng.ts` for the duration of that synchronous
 * call, and restored in `finally` ({@link withSeededRandom}); nothing else
 * can run in between, JavaScript being single-threaded. Explicit layer seeds
 * were not chosen: the user's layers would have to be rebuilt with them, and
 * a dropout layer with a fixed seed draws the same mask on every call, so its
 * T MC-dropout samples would all be equal. With the swap, `build()` gets the
 * round's init seed, training a stream from its train seed, and sampling a
 * seed from the stage's `rng`: the same seeds give the same weights, masks,
 * scores and acquisitions.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import * as E from "fp-ts/Either.js";
import * as TE from "fp-ts/TaskEither.js";
import type { TrainConfig } from "../../dsl/experiment.ts";
import { callerModule } from "../../dsl/origin.ts";
import { type Stage, type StageContext, stageError } from "../../dsl/stage.ts";
import type { PosteriorDef, PseudoLabels } from "../../dsl/strategy.ts";
import type { Posterior } from "../tensor/posterior.ts";
import { deriveSeed, makeRng, type Rng, shuffled } from "../tensor/rng.ts";
import { imagesToTensor } from "../tensor/train.ts";
import type { ImageData, LabelledSet, ModelPack, RetrainInput } from "./images.ts";

/** A trained layers model and how its training went. */
export interface TrainedLayers {
  /** The trained model (owned by the round: the retrain stage's `release` disposes it). */
  readonly model: tfl.LayersModel;
  /** Training speed over the whole training run. */
  readonly imagesPerSecond: number;
  /** Mean loss of the last epoch. */
  readonly loss: number;
}

/** How {@link layersModel} trains: the fields of a `TrainConfig` it uses (a `TrainConfig` will do). */
export interface LayersTrainOptions {
  /** Passes over the labelled (and pseudo-labelled) items per round; an integer >= 1. */
  readonly epochs: number;
  /** Items per Adam step; an integer >= 1. */
  readonly batchSize: number;
  /** Adam's step size; > 0. */
  readonly learningRate: number;
  /** Coefficient of the sum of squared kernels (not biases) added to the loss; >= 0. */
  readonly weightDecay: number;
  /** "scratch": fresh weights every round; "previous": continue from a copy of last round's model. */
  readonly init: TrainConfig["init"];
}

/** What a model is checked against before any work. */
export interface LayersCheck {
  /** Classes of the data set. */
  readonly classes: number;
  /** The strategy's posterior (only some are supported). */
  readonly posterior?: PosteriorDef;
  /** [H, W, C] of the data set's images, when known. */
  readonly inputShape?: readonly number[];
}

/** The model pack of a layers model, with its checks. */
export interface LayersModelPack extends ModelPack<TrainedLayers> {
  /** Throws an Error listing every problem of the model against the data set and posterior. */
  readonly check: (against: LayersCheck) => void;
  /** Every problem of the model against the data set and posterior (empty when it fits). */
  readonly problems: (against: LayersCheck) => string[];
}

/** The posteriors a layers model supports. */
export const layersPosteriors = ["mc-dropout", "deterministic", "ensemble"] as const;

/**
 * Runs a synchronous function with `Math.random` drawing from a seeded
 * generator, restoring it afterwards (also when `f` throws).
 *
 * @param seed a seed, or the generator to draw from
 * @param f the function (must not return a promise: the swap lasts only while it runs)
 * @returns what `f` returns
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withSeededRandom } from "./layers_model.ts";
 * const a = withSeededRandom(7, () => [Math.random(), Math.random()]);
 * const b = withSeededRandom(7, () => [Math.random(), Math.random()]);
 * assert(a.join() === b.join());
 * ```
 */
export function withSeededRandom<T>(seed: number | Rng, f: () => T): T {
  const rng = typeof seed === "number" ? makeRng(seed) : seed;
  const saved = Math.random;
  Math.random = () => rng.next();
  try {
    const out = f();
    if (out instanceof Promise) throw new TypeError("withSeededRandom: the function must be synchronous");
    return out;
  } finally {
    Math.random = saved;
  }
}

/**
 * The [H, W, C] of a data set's images.
 *
 * @param data the loaded data set
 * @returns its image shape
 */
export function imageShape(data: Pick<ImageData, "train">): [number, number, number] {
  const [, h, w, c] = data.train.shape;
  return [h, w, c];
}

/** What the pack learns from one probe build of the model. */
interface Facts {
  /** `model.toJSON()` with layer and model names made positional. */
  readonly topology: unknown;
  /** Input shapes without the batch dimension (one per model input). */
  readonly inputs: readonly (readonly (number | null)[])[];
  /** Output shapes without the batch dimension. */
  readonly outputs: readonly (readonly (number | null)[])[];
  /** Class names of the layers, in order. */
  readonly layers: readonly string[];
  /** "probabilities" when the last layer ends in a softmax; "logits" when linear; else the activation's name. */
  readonly output: string;
}

const STOCHASTIC = /Dropout|GaussianNoise/;
const here = import.meta.url;

/** Replaces every string equal to a layer's (or the model's) name by a positional one. */
function positional(json: unknown, names: ReadonlyMap<string, string>): unknown {
  if (typeof json === "string") return names.get(json) ?? json;
  if (Array.isArray(json)) return json.map((v) => positional(v, names));
  if (typeof json === "object" && json !== null) {
    return Object.fromEntries(Object.entries(json).map(([k, v]) => [k, positional(v, names)]));
  }
  return json;
}

/** Whether the last layer's output is probabilities (softmax), logits (linear) or something else. */
function outputKind(model: tfl.LayersModel): string {
  const last = model.layers[model.layers.length - 1];
  if (!last) return "logits";
  if (last.getClassName() === "Softmax") return "probabilities";
  const activation = last.getConfig()["activation"];
  if (activation === undefined || activation === null || activation === "linear") return "logits";
  if (activation === "softmax") return "probabilities";
  return String(activation);
}

function factsOf(model: tfl.LayersModel): Facts {
  const names = new Map<string, string>([[model.name, "model"]]);
  model.layers.forEach((l, i) => names.set(l.name, `layer-${i}`));
  // Input layers of functional models are layers too, listed apart from `layers` in a Sequential.
  for (const [i, t] of (model.inputs ?? []).entries()) {
    const source = t.sourceLayer?.name;
    if (source && !names.has(source)) names.set(source, `input-${i}`);
  }
  return {
    topology: positional(model.toJSON(null, false), names),
    inputs: (model.inputs ?? []).map((t) => t.shape.slice(1)),
    outputs: (model.outputs ?? []).map((t) => t.shape.slice(1)),
    layers: model.layers.map((l) => l.getClassName()),
    output: outputKind(model),
  };
}

const show = (shape: readonly (number | null)[]) => `[${shape.map((d) => d ?? "?").join(", ")}]`;

/**
 * The problems of a model (as its probe build describes it) against a data
 * set and a posterior; empty when it fits.
 */
function problemsOf(facts: Facts, against: LayersCheck): string[] {
  const problems: string[] = [];
  if (facts.inputs.length !== 1) {
    problems.push(`the model has ${facts.inputs.length} inputs; expected one, the images`);
  } else if (against.inputShape) {
    const input = facts.inputs[0] as readonly (number | null)[];
    const want = against.inputShape;
    if (input.length !== want.length || input.some((d, i) => d !== want[i])) {
      problems.push(`model input shape is ${show(input)} but the data set's images are ${show(want)}`);
    }
  }
  if (facts.outputs.length !== 1) {
    problems.push(`the model has ${facts.outputs.length} outputs; expected one, the class scores`);
  } else {
    const output = facts.outputs[0] as readonly (number | null)[];
    if (output.length !== 1) {
      problems.push(`model output shape is ${show(output)}; expected [classes] (flatten before the last layer)`);
    } else if (output[0] !== against.classes) {
      problems.push(`model output has ${output[0]} units but the data set has ${against.classes} classes`);
    }
  }
  if (facts.output !== "probabilities" && facts.output !== "logits") {
    problems.push(
      `the model's last layer has activation ${facts.output}; expected softmax (probabilities) or linear (logits)`,
    );
  }
  const def = against.posterior;
  if (def) {
    if (!(layersPosteriors as readonly string[]).includes(def.name) || def.impl) {
      problems.push(
        `posterior "${def.name}" is not supported for a layers model (supported: ${layersPosteriors.join(", ")})`,
      );
    } else if (def.name === "mc-dropout") {
      if (def.consistent) {
        problems.push(
          "mc-dropout with consistent masks (joint samples, BatchBALD) is not supported for a layers model",
        );
      }
      if (!facts.layers.some((c) => STOCHASTIC.test(c))) {
        problems.push("mc-dropout needs a dropout layer in the model: without one its samples are all the same");
      }
      if (facts.layers.includes("BatchNormalization")) {
        problems.push(
          "mc-dropout runs the model with training: true, where BatchNormalization uses batch statistics " +
            "and moves its averages; use deterministic or deepEnsemble for this model",
        );
      }
    }
  }
  return problems;
}

/** Array names of a model's weights, in `getWeights()` order: `l<layer index>.<weight name>`. */
function weightNames(model: tfl.LayersModel): string[] {
  const names: string[] = [];
  const taken = new Set<string>();
  for (const [i, layer] of model.layers.entries()) {
    for (const w of layer.weights) {
      const base = `l${i}.${(w.originalName.split("/").pop() ?? "w").replace(/[^A-Za-z0-9_.-]/g, "_")}`;
      let name = base;
      for (let k = 1; taken.has(name.toLowerCase()); k++) name = `${base}.${k}`;
      taken.add(name.toLowerCase());
      names.push(name);
    }
  }
  return names;
}

/** The variables of a model's trainable weights, and those of its kernels (for weight decay). */
function trainables(model: tfl.LayersModel): { vars: tf.Variable[]; kernels: tf.Variable[] } {
  const vars: tf.Variable[] = [];
  const kernels: tf.Variable[] = [];
  for (const w of model.trainableWeights) {
    const v = w.read() as tf.Variable;
    vars.push(v);
    if (/kernel$/i.test(w.originalName)) kernels.push(v);
  }
  return { vars, kernels };
}

/** Log-probabilities [n, C] from the model's output. */
function logProbsOf(y: tf.Tensor, output: string): tf.Tensor2D {
  return tf.tidy(() =>
    (output === "probabilities" ? tf.logSoftmax(tf.log(tf.maximum(y, 1e-30))) : tf.logSoftmax(y)) as tf.Tensor2D
  );
}

/** Mean cross-entropy of a batch against one-hot targets. */
function crossEntropy(y: tf.Tensor, targets: tf.Tensor, output: string): tf.Scalar {
  if (output === "logits") return tf.losses.softmaxCrossEntropy(targets, y) as tf.Scalar;
  // As Keras' categorical cross-entropy on probabilities: clipped to [eps, 1 - eps].
  return tf.mean(tf.neg(tf.sum(tf.mul(targets, tf.log(tf.clipByValue(y, 1e-7, 1 - 1e-7))), -1))) as tf.Scalar;
}

/** Options of {@link trainLayers}. */
export interface TrainLayersOptions extends Omit<LayersTrainOptions, "init"> {
  /** Seeds the data order and the dropout masks. */
  readonly seed: number;
  /** "probabilities" (softmax output) or "logits". */
  readonly output: string;
  /** Called after each epoch with its mean loss and speed. */
  readonly onEpoch?: (epoch: number, loss: number, imagesPerSecond: number) => void;
}

/**
 * Trains a layers model in place by minibatch Adam on softmax cross-entropy
 * plus `weightDecay` times the sum of squared kernels, in a seeded data
 * order, with seeded dropout masks.
 *
 * @param model the model (its variables are updated)
 * @param x images [N, H, W, C], float32
 * @param labels class index per image
 * @param classes number of classes
 * @param opts hyper-parameters, seed and output kind
 * @returns the last epoch's mean loss and the throughput
 */
export async function trainLayers(
  model: tfl.LayersModel,
  x: tf.Tensor4D,
  labels: Int32Array,
  classes: number,
  opts: TrainLayersOptions,
): Promise<{ loss: number; imagesPerSecond: number }> {
  const n = x.shape[0];
  const order = makeRng(opts.seed);
  const masks = makeRng(deriveSeed(opts.seed, "dropout"));
  const { vars, kernels } = trainables(model);
  const optimizer = tf.train.adam(opts.learningRate);
  const targets = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, "int32"), classes));
  const start = performance.now();
  let loss = NaN;
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const epochStart = performance.now();
      const perm = shuffled(Array.from({ length: n }, (_, i) => i), order);
      const losses: tf.Scalar[] = [];
      for (let b = 0; b < n; b += opts.batchSize) {
        const idx = tf.tensor1d(perm.slice(b, b + opts.batchSize), "int32");
        try {
          const cost = withSeededRandom(masks, () =>
            optimizer.minimize(
              () => {
                const y = model.apply(tf.gather(x, idx), { training: true }) as tf.Tensor;
                const ce = crossEntropy(y, tf.gather(targets, idx), opts.output);
                if (opts.weightDecay === 0 || kernels.length === 0) return ce;
                const l2 = tf.addN(kernels.map((k) => tf.sum(tf.square(k))));
                return tf.add(ce, tf.mul(l2, opts.weightDecay)) as tf.Scalar;
              },
              true,
              vars,
            ));
          if (cost) losses.push(cost);
        } finally {
          idx.dispose();
        }
      }
      const mean = tf.tidy(() => tf.mean(tf.stack(losses)));
      loss = (await mean.data())[0] as number;
      mean.dispose();
      for (const l of losses) l.dispose();
      opts.onEpoch?.(epoch, loss, n / Math.max((performance.now() - epochStart) / 1000, 1e-9));
    }
  } finally {
    targets.dispose();
    optimizer.dispose();
  }
  const seconds = (performance.now() - start) / 1000;
  return { loss, imagesPerSecond: (n * opts.epochs) / Math.max(seconds, 1e-9) };
}

/** Penultimate-layer outputs of each model, flattened: a sub-model sharing its layers (never disposed on its own). */
const penultimates = new WeakMap<tfl.LayersModel, tfl.LayersModel>();

function embedder(model: tfl.LayersModel): (x: tf.Tensor) => tf.Tensor2D {
  return (x) =>
    tf.tidy(() => {
      let sub = penultimates.get(model);
      if (!sub) {
        const layer = model.layers[model.layers.length - 2];
        if (!layer) throw new Error("the model has a single layer: no layer before the last to embed with");
        sub = tfl.model({ inputs: model.inputs, outputs: layer.output as tfl.SymbolicTensor });
        penultimates.set(model, sub);
      }
      const f = sub.apply(x, { training: false }) as tf.Tensor;
      return tf.reshape(f, [f.shape[0] as number, -1]) as tf.Tensor2D;
    });
}

/**
 * The posterior of a layers model (or an ensemble's members) under one of
 * {@link layersPosteriors}. Owns nothing: the round owns the models.
 *
 * @param def the posterior
 * @param models the round's trained models (one, or the ensemble's members)
 * @param output "probabilities" or "logits"
 * @returns the posterior
 */
export function layersPosterior(def: PosteriorDef, models: readonly tfl.LayersModel[], output: string): Posterior {
  const first = models[0];
  if (!first) throw new Error("fit-posterior got no trained model");
  const embed = embedder(first);
  const pass = (m: tfl.LayersModel, x: tf.Tensor, training: boolean) =>
    logProbsOf(m.apply(x, { training }) as tf.Tensor, output);
  switch (def.name) {
    case "mc-dropout":
      return {
        samples: def.samples,
        logProbs: (x, rng) =>
          withSeededRandom(
            rng.seed(),
            () =>
              tf.tidy(() =>
                tf.stack(Array.from({ length: def.samples }, () => pass(first, x, true)), 1) as tf.Tensor3D
              ),
          ),
        embed,
        dispose: () => {},
      };
    case "deterministic":
      return {
        samples: 1,
        logProbs: (x) => tf.tidy(() => tf.expandDims(pass(first, x, false), 1) as tf.Tensor3D),
        embed,
        dispose: () => {},
      };
    case "ensemble":
      return {
        samples: models.length,
        logProbs: (x) => tf.tidy(() => tf.stack(models.map((m) => pass(m, x, false)), 1) as tf.Tensor3D),
        embed,
        dispose: () => {},
      };
    default:
      throw new Error(
        `posterior "${def.name}" is not supported for a layers model (supported: ${layersPosteriors.join(", ")})`,
      );
  }
}

/** Checks the training options as the config codecs do, naming the field. */
function checkTrain(train: LayersTrainOptions): void {
  const problems: string[] = [];
  const int = (name: keyof LayersTrainOptions) => {
    const v = train[name] as number;
    if (!Number.isInteger(v) || v < 1) problems.push(`train.${name}: expected an integer >= 1, got ${v}`);
  };
  int("epochs");
  int("batchSize");
  if (!(train.learningRate > 0) || !Number.isFinite(train.learningRate)) {
    problems.push(`train.learningRate: expected a number > 0, got ${train.learningRate}`);
  }
  if (!(train.weightDecay >= 0) || !Number.isFinite(train.weightDecay)) {
    problems.push(`train.weightDecay: expected a number >= 0, got ${train.weightDecay}`);
  }
  if (train.init !== "scratch" && train.init !== "previous") {
    problems.push(`train.init: expected "scratch" or "previous", got ${JSON.stringify(train.init)}`);
  }
  if (problems.length > 0) throw new RangeError(`layersModel: ${problems.join("; ")}`);
}

/**
 * The model pack of a TensorFlow.js layers model: plug it into `imageRound`
 * as its `model`.
 *
 * @param build makes the (untrained) model; called once per training, per
 *   restore from the cache and once to describe it, each time under a seeded
 *   `Math.random`. Its first layer needs an `inputShape`.
 * @param train epochs, batch size, learning rate, weight decay and `init`
 * @returns the pack
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { layersModel } from "./layers_model.ts";
 * const pack = layersModel(
 *   () => tfl.sequential({ layers: [
 *     tfl.layers.flatten({ inputShape: [28, 28, 1] }),
 *     tfl.layers.dropout({ rate: 0.5 }),
 *     tfl.layers.dense({ units: 10, activation: "softmax" }),
 *   ] }),
 *   { epochs: 5, batchSize: 32, learningRate: 1e-3, weightDecay: 0, init: "scratch" },
 * );
 * assert(pack.init === "scratch");
 * ```
 */
export function layersModel(build: () => tfl.LayersModel, train: LayersTrainOptions): LayersModelPack {
  checkTrain(train);
  const definedIn = callerModule();
  const modules = [here, ...(definedIn && definedIn !== here ? [definedIn] : [])];
  const options = {
    epochs: train.epochs,
    batchSize: train.batchSize,
    learningRate: train.learningRate,
    weightDecay: train.weightDecay,
    init: train.init,
  };
  const make = (seed: number): tfl.LayersModel => {
    const model = withSeededRandom(seed, build);
    if (!(model instanceof tfl.LayersModel)) {
      throw new TypeError("layersModel: build() must return a tf.LayersModel (tf.sequential or tf.model)");
    }
    return model;
  };
  let known: Facts | undefined;
  const facts = (): Facts => {
    if (!known) {
      const probe = make(0);
      try {
        if (!probe.inputs?.length) {
          throw new Error("layersModel: the model has no input shape: give its first layer an inputShape");
        }
        known = factsOf(probe);
      } finally {
        probe.dispose();
      }
    }
    return known;
  };
  const problems = (against: LayersCheck) => problemsOf(facts(), against);
  const check = (against: LayersCheck) => {
    const found = problems(against);
    if (found.length > 0) throw new Error(`layersModel: ${found.join("; ")}`);
  };

  const retrain = (seeds: { readonly init: number; readonly train: number }): Stage<
    RetrainInput<TrainedLayers>,
    TrainedLayers
  > => {
    const name = "retrain/layers-adam";
    const { output, topology } = facts();
    return {
      kind: "retrain",
      name,
      version: 1,
      params: { topology, train: options, initSeed: seeds.init, trainSeed: seeds.train },
      code: build.toString(),
      modules,
      run: ({ data, labelled, from, pseudo }, ctx) =>
        TE.tryCatch(
          () => retrainRun({ data, labelled, from, pseudo }, ctx),
          (e) => stageError(name, (e as Error).message ?? String(e), e),
        ),
      codec: {
        encode: async (out) => {
          const names = weightNames(out.model);
          const weights = out.model.getWeights();
          const arrays: Record<string, { data: Float32Array | Int32Array; shape: number[] }> = {};
          for (const [i, w] of weights.entries()) {
            const values = await w.data();
            if (!(values instanceof Float32Array) && !(values instanceof Int32Array)) {
              throw new Error(`weight ${names[i]} has dtype ${w.dtype}: only float32 and int32 weights are stored`);
            }
            arrays[names[i] as string] = { data: values, shape: [...w.shape] };
          }
          return {
            json: { imagesPerSecond: out.imagesPerSecond, loss: Number.isFinite(out.loss) ? out.loss : null, names },
            arrays,
          };
        },
        decode: (entry) => {
          const json = entry.json as { imagesPerSecond: number; loss: number | null };
          const model = make(seeds.init);
          try {
            restoreWeights(model, entry.arrays);
          } catch (e) {
            model.dispose();
            throw e;
          }
          return { model, imagesPerSecond: json.imagesPerSecond, loss: json.loss ?? NaN };
        },
      },
      release: (out) => {
        out.model.dispose();
      },
      tensors: (out) => out.model.weights.length,
    };

    async function retrainRun(
      input: {
        readonly data: ImageData;
        readonly labelled: LabelledSet;
        readonly from?: TrainedLayers | undefined;
        readonly pseudo?: PseudoLabels | undefined;
      },
      ctx: StageContext,
    ): Promise<TrainedLayers> {
      const { data, labelled, from, pseudo } = input;
      check({ classes: data.classes, inputShape: imageShape(data) });
      const extra = pseudo?.indices ?? [];
      if (pseudo && pseudo.labels.length !== extra.length) {
        throw new Error(`${extra.length} pseudo-labelled items but ${pseudo.labels.length} labels`);
      }
      const model = make(seeds.init);
      // Training a copy leaves the previous round's model as it was cached.
      if (from) model.setWeights(from.model.getWeights());
      const items = extra.length > 0 ? [...labelled.labelled, ...extra] : labelled.labelled;
      const x = imagesToTensor(data.train, items);
      const y = Int32Array.from(labelled.labelled, (i) => data.train.y[i] as number);
      const targets = extra.length > 0 ? Int32Array.from([...y, ...(pseudo?.labels ?? [])]) : y;
      try {
        const report = await trainLayers(model, x, targets, data.classes, {
          ...options,
          seed: seeds.train,
          output,
          onEpoch: (epoch, loss, ips) =>
            ctx.progress(
              `retrain epoch ${epoch + 1}/${options.epochs} loss ${loss.toFixed(3)} ${ips.toFixed(0)} img/s`,
            ),
        });
        return { model, imagesPerSecond: report.imagesPerSecond, loss: report.loss };
      } catch (e) {
        model.dispose();
        throw e;
      } finally {
        x.dispose();
      }
    }
  };

  const posterior = (def: PosteriorDef, seed: number): Stage<
    { readonly data: ImageData; readonly labelled: LabelledSet; readonly nets: readonly TrainedLayers[] },
    Posterior
  > => {
    const name = `fit-posterior/layers-${def.name}`;
    const fit = (nets: readonly TrainedLayers[]) => layersPosterior(def, nets.map((n) => n.model), facts().output);
    return {
      kind: "fit-posterior",
      name,
      version: 1,
      params: { ...def.params, seed },
      modules: [here, ...(def.definedIn ? [def.definedIn] : [])],
      run: ({ nets }) => TE.fromEither(E.tryCatch(() => fit(nets), (e) => stageError(name, (e as Error).message, e))),
      // Nothing to store but its kind: the posterior is a pure function of the models.
      codec: {
        encode: () => ({ json: { kind: def.name } }),
        decode: async (_entry, input) => fit((await input()).nets),
      },
      release: (out) => out.dispose(),
    };
  };

  return {
    retrain,
    posterior,
    speed: (t) => t.imagesPerSecond,
    init: train.init,
    check,
    problems,
  };
}

/** Sets a freshly built model's weights from cache arrays written by the retrain stage's codec. */
function restoreWeights(
  model: tfl.LayersModel,
  arrays: Readonly<Record<string, { readonly data: ArrayLike<number>; readonly shape: readonly number[] }>>,
): void {
  const names = weightNames(model);
  const current = model.getWeights();
  const tensors: tf.Tensor[] = [];
  try {
    for (const [i, name] of names.entries()) {
      const a = arrays[name];
      const want = (current[i] as tf.Tensor).shape;
      if (!a) throw new Error(`cache entry lacks the weights ${name}`);
      if (a.shape.length !== want.length || a.shape.some((d, k) => d !== want[k])) {
        throw new Error(`cache entry's ${name} has shape ${show(a.shape)}, the model's ${show(want)}`);
      }
      const dtype = a.data instanceof Int32Array ? "int32" : "float32";
      tensors.push(tf.tensor(a.data as Float32Array | Int32Array, [...a.shape], dtype));
    }
    model.setWeights(tensors);
  } finally {
    for (const t of tensors) t.dispose();
  }
}
