/**
 * Posteriors at run time: what the fit-posterior stage produces and the
 * score and evaluate stages sample from. A built-in posterior is known by
 * name; a user-defined one brings a {@link PosteriorImpl} in its
 * `PosteriorDef.impl` (see `definePosterior`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { PosteriorDef, Rows } from "../../dsl/strategy.ts";
import { callerModule } from "../../dsl/origin.ts";
import type { StageContext } from "../../dsl/stage.ts";
import type { Entry, EntryInput } from "../run/cache/mod.ts";
import { applyLayers, features, mcLogProbs, type Net } from "./net.ts";
import type { Rng } from "./rng.ts";
import { type ImageArray, imagesToTensor } from "./train.ts";
import { fitVognHead, type VognHead, vognHeadLogProbs } from "./vogn.ts";
import {
  disposeVognNet,
  fitVognNet,
  type KernelBias,
  penultimateWith,
  sampleVognWeights,
  type VognNet,
  vognNetLogProbs,
} from "./vogn_net.ts";
import { deriveSeed } from "./rng.ts";

/** A fitted posterior predictive, sampled T times per item. */
export interface Posterior {
  /** T: samples per item. */
  readonly samples: number;
  /**
   * Log-probabilities [n, T, C] for a batch of inputs [n, ...]; draws its
   * randomness from `rng`. The caller disposes the result.
   */
  logProbs(x: tf.Tensor, rng: Rng): tf.Tensor3D;
  /**
   * Deterministic embeddings [n, D] of the inputs (penultimate-layer features,
   * dropout off, mean weights), for geometric rules such as core-set and
   * BADGE. Optional for user posteriors.
   */
  embed?(x: tf.Tensor): tf.Tensor2D;
  /** Frees what the posterior owns (not the fitted net: the AL loop owns that). */
  dispose(): void;
}

/** What fit-posterior receives: the round's trained net(s) and its training data. */
export interface FitInput {
  /** The round's net (the first of `members`). */
  readonly net: Net;
  /** Every net trained this round for the posterior: `PosteriorDef.nets` of them (1 unless an ensemble). */
  readonly members: readonly Net[];
  /** The train split: images [N, H, W, C] as bytes and a label per image (`y`), pool items included. */
  readonly images: ImageArray & { readonly y: Int32Array };
  /** The labelled items (indices into `images`) the nets were trained on. */
  readonly labelled: readonly number[];
  /** C: number of classes. */
  readonly classes: number;
  /** Seeds anything the fit draws. */
  readonly seed: number;
}

/**
 * The tensor code of a posterior. `save` and `load` let the runner cache it;
 * without them the fit runs every time (fine when it only wraps the net).
 */
export interface PosteriorImpl {
  /** Fits the posterior around the round's net(s), e.g. a head on their features; `ctx` reports progress. */
  fit(input: FitInput, ctx: StageContext): Promise<Posterior>;
  /** Turns a posterior `fit` returned into a cache entry: JSON and named typed arrays. */
  save?(posterior: Posterior): Promise<EntryInput> | EntryInput;
  /** Rebuilds a saved posterior from its cache entry and the same round's fit input (its nets). */
  load?(entry: Entry, input: FitInput): Posterior;
}

/**
 * Penultimate-layer features of a net (every layer but the last, dropout off,
 * mean weights), flattened to [n, D].
 *
 * @param net the net
 * @param x inputs
 * @returns the features
 */
export function penultimate(net: Net, x: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const f = applyLayers(net, x, 0, net.spec.layers.length - 1, { kind: "off" });
    return tf.reshape(f, [f.shape[0] as number, -1]) as tf.Tensor2D;
  });
}

/**
 * The MC-dropout posterior over a net: the layers before the first dropout
 * run once per item, the stochastic rest T times.
 *
 * @param net the fitted net
 * @param samples T
 * @param consistentSeed when given, sample t uses the same dropout masks (and
 *   Bayesian weight draws) for every item in every call (BatchBALD needs this)
 * @returns the posterior (owning nothing beyond the net)
 */
export function mcDropoutPosterior(net: Net, samples: number, consistentSeed?: number): Posterior {
  const opts = consistentSeed === undefined ? {} : { consistentSeed };
  return {
    samples,
    logProbs: (x, rng) => tf.tidy(() => mcLogProbs(net, features(net, x), samples, rng, opts)),
    embed: (x) => penultimate(net, x),
    dispose: () => {},
  };
}

/**
 * A deep ensemble's predictive (Lakshminarayanan et al. 2017; for AL, Beluch
 * et al. 2018): each member's deterministic softmax is one sample, so T is
 * the number of members.
 *
 * @param members the trained nets
 * @returns the posterior (owning nothing beyond the nets)
 */
export function ensemblePosterior(members: readonly Net[]): Posterior {
  return {
    samples: members.length,
    logProbs: (x) =>
      tf.tidy(() => {
        const each = members.map((m) =>
          tf.logSoftmax(applyLayers(m, x, 0, m.spec.layers.length, { kind: "off" }) as tf.Tensor2D)
        );
        return tf.stack(each, 1) as tf.Tensor3D;
      }),
    embed: (x) => penultimate(members[0] as Net, x),
    dispose: () => {},
  };
}

/** Options of the VOGN head posterior, as its params carry them (`vognHead` fills every one). */
export interface VognHeadParams {
  readonly samples: number;
  readonly priorPrecision: number;
  readonly temperature: number;
  readonly epochs: number;
  readonly learningRate: number;
  readonly batchSize: number;
  readonly mcSamples: number;
}

/**
 * Concatenates row chunks.
 *
 * @param parts chunks of rows, in order
 * @param d the row length
 * @returns one matrix
 */
export function joinRows(parts: readonly Rows[], d: number): Rows {
  const data = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0));
  let offset = 0;
  for (const p of parts) {
    data.set(p.data, offset);
    offset += p.data.length;
  }
  return { data, d };
}

/**
 * Applies `embed` to some images in chunks of 256 and reads the [n, D]
 * results back to JS, so that memory is bounded by the chunk.
 *
 * @param embed images [n, H, W, C] -> [n, D]
 * @param images where the items are
 * @param indices which items
 * @returns [indices.length, D] rows
 */
export async function embedRows(
  embed: (x: tf.Tensor) => tf.Tensor2D,
  images: ImageArray,
  indices: readonly number[],
): Promise<Rows> {
  const parts: Rows[] = [];
  for (let s = 0; s < indices.length; s += 256) {
    const t = tf.tidy(() => embed(imagesToTensor(images, indices.slice(s, s + 256))));
    try {
      parts.push({ data: (await t.data()) as Float32Array, d: t.shape[1] });
    } finally {
      t.dispose();
    }
  }
  return joinRows(parts, parts[0]?.d ?? 0);
}

/** The head of each VOGN posterior, for `save` (module-wide: impls are rebuilt from their def). */
const heads = new WeakMap<Posterior, VognHead>();

/**
 * Last-layer posterior: the round's net gives deterministic features, and a
 * diagonal Gaussian over a fresh softmax head is fitted on the labelled
 * features with VOGN (Khan et al. 2018; Osawa et al. 2019), the pipeline of
 * the NLP part of the Bayesian-learning-rule talk in `000_*.txt`. Sampling is
 * cheap: the backbone runs once per item, the T heads are one matMul.
 */
function vognHeadImpl(params: VognHeadParams): PosteriorImpl {
  const make = (net: Net, head: VognHead): Posterior => ({
    samples: params.samples,
    logProbs: (x, rng) => tf.tidy(() => vognHeadLogProbs(penultimate(net, x), head, params.samples, rng)),
    embed: (x) => penultimate(net, x),
    dispose: () => {},
  });
  return {
    fit: async ({ net, images, labelled, classes, seed }, ctx) => {
      const { data, d } = await embedRows((x) => penultimate(net, x), images, labelled);
      const labels = Int32Array.from(labelled, (i) => images.y[i] as number);
      const head = fitVognHead(data, labelled.length, d, labels, classes, {
        priorPrecision: params.priorPrecision,
        temperature: params.temperature,
        epochs: params.epochs,
        learningRate: params.learningRate,
        batchSize: params.batchSize,
        mcSamples: params.mcSamples,
        seed,
        onEpoch: (epoch, loss) => ctx.progress(`vogn head epoch ${epoch + 1}/${params.epochs} nll ${loss.toFixed(3)}`),
      });
      const posterior = make(net, head);
      heads.set(posterior, head);
      return posterior;
    },
    save: (posterior) => {
      const head = heads.get(posterior);
      if (!head) throw new Error("vogn-head: not a posterior this implementation fitted");
      return {
        json: { kind: "vogn-head", d: head.d, classes: head.classes },
        arrays: {
          mean: { data: head.mean, shape: [head.d + 1, head.classes] },
          precision: { data: head.precision, shape: [head.d + 1, head.classes] },
        },
      };
    },
    load: (entry, { net }) => {
      const json = entry.json as { d: number; classes: number };
      const mean = entry.arrays["mean"]?.data;
      const precision = entry.arrays["precision"]?.data;
      if (!(mean instanceof Float32Array) || !(precision instanceof Float32Array)) {
        throw new Error("vogn-head entry lacks float32 mean and precision arrays");
      }
      const head: VognHead = { d: json.d, classes: json.classes, mean, precision };
      const posterior = make(net, head);
      heads.set(posterior, head);
      return posterior;
    },
  };
}

/** Options of the whole-net VOGN posterior, as its params carry them (`vogn` fills every one). */
export interface VognNetParams {
  readonly samples: number;
  readonly priorPrecision: number;
  readonly temperature: number;
  readonly epochs: number;
  readonly learningRate: number;
  readonly batchSize: number;
  readonly mcSamples: number;
  readonly init: "scratch" | "net";
}

const vognNets = new WeakMap<Posterior, VognNet>();

/**
 * The whole net trained by VOGN on the labelled set (see `vogn_net.ts`):
 * sample t is one whole net drawn from the Gaussian, fixed by the fit's seed,
 * so every item and chunk sees the same T nets. The T draws are made once and
 * held until the posterior is disposed.
 */
function vognNetImpl(params: VognNetParams): PosteriorImpl {
  const make = (vnet: VognNet, seed: number): Posterior => {
    const drawSeed = deriveSeed(seed, "vogn.draws");
    const draws = Array.from({ length: params.samples }, (_, t) => sampleVognWeights(vnet, t, drawSeed));
    const posterior: Posterior = {
      samples: params.samples,
      logProbs: (x) => vognNetLogProbs(vnet, x, draws),
      embed: (x) => tf.tidy(() => penultimateWith(vnet.spec, vnet.mean, x)),
      dispose: () => {
        for (const d of draws) for (const l of d) if (l) tf.dispose([l.kernel, l.bias]);
        disposeVognNet(vnet);
      },
    };
    vognNets.set(posterior, vnet);
    return posterior;
  };
  const layerArrays = async (vnet: VognNet) => {
    const arrays: Record<string, { data: Float32Array; shape: number[] }> = {};
    for (const [i, layer] of vnet.mean.entries()) {
      if (!layer) continue;
      const prec = vnet.precision[i] as KernelBias;
      for (const which of ["kernel", "bias"] as const) {
        arrays[`l${i}.${which}.mean`] = { data: await layer[which].data() as Float32Array, shape: layer[which].shape };
        arrays[`l${i}.${which}.precision`] = {
          data: await prec[which].data() as Float32Array,
          shape: prec[which].shape,
        };
      }
    }
    return arrays;
  };
  return {
    fit: async ({ net, images, labelled, classes, seed }, ctx) => {
      const x = imagesToTensor(images, labelled);
      const labels = Int32Array.from(labelled, (i) => images.y[i] as number);
      try {
        const vnet = await fitVognNet(net.spec, x, labels, classes, {
          priorPrecision: params.priorPrecision,
          temperature: params.temperature,
          epochs: params.epochs,
          learningRate: params.learningRate,
          batchSize: params.batchSize,
          mcSamples: params.mcSamples,
          seed,
          ...(params.init === "net" ? { initFrom: net } : {}),
          onEpoch: (epoch, nll, ips) =>
            ctx.progress(`vogn epoch ${epoch + 1}/${params.epochs} nll ${nll.toFixed(3)} ${ips.toFixed(0)} img/s`),
        });
        return make(vnet, seed);
      } finally {
        x.dispose();
      }
    },
    save: async (posterior) => {
      const vnet = vognNets.get(posterior);
      if (!vnet) throw new Error("vogn: not a posterior this implementation fitted");
      return { json: { kind: "vogn" }, arrays: await layerArrays(vnet) };
    },
    load: (entry, { net, seed }) => {
      const tensor = (name: string) => {
        const a = entry.arrays[name];
        if (!a || !(a.data instanceof Float32Array)) throw new Error(`vogn entry lacks the float32 array ${name}`);
        return tf.tensor(a.data, a.shape);
      };
      const layers = (what: "mean" | "precision") =>
        net.weights.map((
          w,
          i,
        ) => (w ? { kernel: tensor(`l${i}.kernel.${what}`), bias: tensor(`l${i}.bias.${what}`) } : null));
      return make({ spec: net.spec, mean: layers("mean"), precision: layers("precision") }, seed);
    },
  };
}

/** A posterior that is a pure function of the nets: nothing to store but its kind. */
function wrapper(kind: string, make: (input: FitInput) => Posterior): PosteriorImpl {
  return {
    fit: (input) => Promise.resolve(make(input)),
    save: () => ({ json: { kind } }),
    load: (_entry, input) => make(input),
  };
}

const builtins: Record<string, (def: PosteriorDef) => PosteriorImpl> = {
  "mc-dropout": (def) =>
    wrapper(
      "mc-dropout",
      ({ net, seed }) => mcDropoutPosterior(net, def.samples, def.params["consistent"] ? seed : undefined),
    ),
  // Same sampler: every stochastic layer of the net (Gaussian weights, and dropout if any) is drawn T times.
  "bayes-by-backprop": (def) =>
    wrapper(
      "bayes-by-backprop",
      ({ net, seed }) => mcDropoutPosterior(net, def.samples, def.params["consistent"] ? seed : undefined),
    ),
  // The plain net, dropout off: one sample (the non-Bayesian baseline).
  "deterministic": () => wrapper("deterministic", ({ net }) => ensemblePosterior([net])),
  "ensemble": () => wrapper("ensemble", ({ members }) => ensemblePosterior(members)),
  "vogn-head": (def) => vognHeadImpl(def.params as unknown as VognHeadParams),
  "vogn": (def) => vognNetImpl(def.params as unknown as VognNetParams),
};

/**
 * The implementation of a posterior value: its own, or the built-in one of its name.
 *
 * @param def the posterior
 * @returns its implementation
 * @throws Error for a name with no built-in and no `impl`
 */
export function posteriorImpl(def: PosteriorDef): PosteriorImpl {
  if (def.impl) return def.impl as PosteriorImpl;
  const builtin = builtins[def.name];
  if (builtin) return builtin(def);
  throw new Error(`posterior "${def.name}" is not built in and brings no impl (use definePosterior)`);
}

/**
 * Defines a posterior with its own tensor code (see {@link PosteriorImpl}).
 * The module that calls this is hashed into the keys of its stages.
 *
 * @param def name, samples T, the implementation, and optionally version and params
 * @returns the posterior value
 */
export function definePosterior(def: {
  readonly name: string;
  readonly samples: number;
  readonly impl: PosteriorImpl;
  readonly version?: number;
  readonly params?: Readonly<Record<string, unknown>>;
}): PosteriorDef {
  const definedIn = callerModule();
  return {
    _tag: "posterior",
    ...(definedIn ? { definedIn } : {}),
    name: def.name,
    version: def.version ?? 1,
    params: { ...(def.params ?? {}), samples: def.samples },
    samples: def.samples,
    impl: def.impl,
  };
}
