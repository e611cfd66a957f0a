/**
 * Posteriors at run time: what the fit-posterior stage produces and the
 * score and evaluate stages sample from. A built-in posterior is known by
 * name; a user-defined one brings a {@link PosteriorImpl} in its
 * `PosteriorDef.impl` (see `definePosterior`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { PosteriorDef } from "../dsl/strategy.ts";
import type { StageContext } from "../dsl/stage.ts";
import type { Entry, EntryInput } from "./cache/mod.ts";
import { applyLayers, features, mcLogProbs, type Net } from "./net.ts";
import type { Rng } from "./rng.ts";
import type { ImageArray } from "./train.ts";

/** A fitted posterior predictive, sampled T times per item. */
export interface Posterior {
  /** T: samples per item. */
  readonly samples: number;
  /**
   * Log-probabilities [n, T, C] for a batch of inputs [n, ...]; draws its
   * randomness from `rng`. The caller disposes the result.
   */
  logProbs(x: tf.Tensor, rng: Rng): tf.Tensor3D;
  /** Frees what the posterior owns (not the fitted net: the AL loop owns that). */
  dispose(): void;
}

/** What fit-posterior receives: the round's trained net(s) and its training data. */
export interface FitInput {
  /** The round's net (the first of `members`). */
  readonly net: Net;
  /** Every net trained this round for the posterior: `PosteriorDef.nets` of them (1 unless an ensemble). */
  readonly members: readonly Net[];
  readonly images: ImageArray & { readonly y: Int32Array };
  readonly labelled: readonly number[];
  readonly classes: number;
  /** Seeds anything the fit draws. */
  readonly seed: number;
}

/**
 * The tensor code of a posterior. `save` and `load` let the runner cache it;
 * without them the fit runs every time (fine when it only wraps the net).
 */
export interface PosteriorImpl {
  fit(input: FitInput, ctx: StageContext): Promise<Posterior>;
  save?(posterior: Posterior): Promise<EntryInput> | EntryInput;
  load?(entry: Entry, input: FitInput): Posterior;
}

/**
 * The MC-dropout posterior over a net: the layers before the first dropout
 * run once per item, the stochastic rest T times.
 *
 * @param net the fitted net
 * @param samples T
 * @returns the posterior (owning nothing beyond the net)
 */
export function mcDropoutPosterior(net: Net, samples: number): Posterior {
  return {
    samples,
    logProbs: (x, rng) => tf.tidy(() => mcLogProbs(net, features(net, x), samples, rng)),
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
    dispose: () => {},
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
  "mc-dropout": (def) => wrapper("mc-dropout", ({ net }) => mcDropoutPosterior(net, def.samples)),
  // The plain net, dropout off: one sample (the non-Bayesian baseline).
  "deterministic": () => wrapper("deterministic", ({ net }) => ensemblePosterior([net])),
  "ensemble": () => wrapper("ensemble", ({ members }) => ensemblePosterior(members)),
};

/**
 * The implementation of a posterior value: its own, or the built-in one of its name.
 *
 * @param def the posterior
 * @returns its implementation
 * @throws Error for a name with no built-in and no `impl`
 */
export function posteriorImpl(def: PosteriorDef): PosteriorImpl {
  if (def.impl) return def.impl;
  const builtin = builtins[def.name];
  if (builtin) return builtin(def);
  throw new Error(`posterior "${def.name}" is not built in and brings no impl (use definePosterior)`);
}
