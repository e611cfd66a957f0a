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
import { features, mcLogProbs, type Net } from "./net.ts";
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

/** What fit-posterior receives: the round's trained net and its training data. */
export interface FitInput {
  readonly net: Net;
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

const mcDropoutImpl = (samples: number): PosteriorImpl => ({
  fit: ({ net }) => Promise.resolve(mcDropoutPosterior(net, samples)),
  save: () => ({ json: { kind: "mc-dropout", samples } }),
  load: (_entry, { net }) => mcDropoutPosterior(net, samples),
});

/**
 * The implementation of a posterior value: its own, or the built-in one of its name.
 *
 * @param def the posterior
 * @returns its implementation
 * @throws Error for a name with no built-in and no `impl`
 */
export function posteriorImpl(def: PosteriorDef): PosteriorImpl {
  if (def.impl) return def.impl;
  if (def.name === "mc-dropout") return mcDropoutImpl(def.samples);
  throw new Error(`posterior "${def.name}" is not built in and brings no impl (use definePosterior)`);
}
