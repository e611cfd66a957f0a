/**
 * Cache codecs shared by the image and text packs: how stage outputs that are
 * index lists, splits, scores and JSON values become cache entries.
 *
 * @module
 */
import type { PseudoLabels } from "../../dsl/strategy.ts";
import type { Entry, EntryInput } from "../run/cache/mod.ts";
import type { Scored } from "../tensor/stages.ts";

/** How a stage's output is stored in and restored from the cache (a stage's `codec`). */
export interface Codec<I, O> {
  /** Turns the output into a cache entry: JSON and named typed arrays. */
  readonly encode: (out: O) => Promise<EntryInput> | EntryInput;
  /** Rebuilds the output; gets the stage's input, e.g. to reattach a net. */
  readonly decode: (entry: Entry, input: () => I) => O;
}

/**
 * A float32 array of a cache entry, or an error naming it.
 *
 * @param entry the entry
 * @param name the array's name
 * @returns the array
 */
export function floatArray(entry: { arrays: Readonly<Record<string, { data: unknown }>> }, name: string): Float32Array {
  const data = entry.arrays[name]?.data;
  if (!(data instanceof Float32Array)) throw new Error(`cache entry lacks the float32 array ${name}`);
  return data;
}

/**
 * A codec for outputs that are plain JSON (metrics).
 *
 * @returns the codec
 */
export function jsonCodec<T>(): Codec<unknown, T> {
  return { encode: (out) => ({ json: out }), decode: (entry) => entry.json as T };
}

/** Pool items picked by an acquisition. */
export const indicesCodec: Codec<unknown, number[]> = {
  encode: (out) => ({ json: {}, arrays: { indices: { data: Int32Array.from(out), shape: [out.length] } } }),
  decode: (entry) => Array.from(entry.arrays["indices"]?.data ?? []),
};

/** Pseudo-labelled items and their labels (CEAL). */
export const pseudoCodec: Codec<unknown, PseudoLabels> = {
  encode: (out) => ({
    json: {},
    arrays: {
      indices: { data: Int32Array.from(out.indices), shape: [out.indices.length] },
      labels: { data: Int32Array.from(out.labels), shape: [out.labels.length] },
    },
  }),
  decode: (entry) => ({
    indices: Array.from(entry.arrays["indices"]?.data ?? []),
    labels: Array.from(entry.arrays["labels"]?.data ?? []),
  }),
};

/** A warm start: the labelled items and the pool. */
export const splitCodec: Codec<unknown, { labelled: number[]; pool: number[] }> = {
  encode: (out) => ({
    json: {},
    arrays: {
      labelled: { data: Int32Array.from(out.labelled), shape: [out.labelled.length] },
      pool: { data: Int32Array.from(out.pool), shape: [out.pool.length] },
    },
  }),
  decode: (entry) => ({
    labelled: Array.from(entry.arrays["labelled"]?.data ?? []),
    pool: Array.from(entry.arrays["pool"]?.data ?? []),
  }),
};

/** Scored candidates, with whatever extra arrays the acquisition rule asked to keep. */
export const scoredCodec: Codec<unknown, Scored> = {
  encode: (out) => ({
    json: {
      ...(out.logProbs ? { logProbs: { n: out.logProbs.n, t: out.logProbs.t, c: out.logProbs.c } } : {}),
      ...(out.embeddings ? { embeddingsD: out.embeddings.d } : {}),
      ...(out.labelledEmbeddings ? { labelledEmbeddingsD: out.labelledEmbeddings.d } : {}),
      ...(out.meanProbs ? { meanProbsD: out.meanProbs.d } : {}),
      ...(out.labelledLogProbs
        ? { labelledLogProbs: { n: out.labelledLogProbs.n, t: out.labelledLogProbs.t, c: out.labelledLogProbs.c } }
        : {}),
    },
    arrays: {
      candidates: { data: Int32Array.from(out.candidates), shape: [out.candidates.length] },
      scores: { data: out.scores, shape: [out.scores.length] },
      ...(out.logProbs ? { logProbs: { data: out.logProbs.data, shape: [out.logProbs.data.length] } } : {}),
      ...(out.embeddings ? { embeddings: { data: out.embeddings.data, shape: [out.embeddings.data.length] } } : {}),
      ...(out.labelledEmbeddings
        ? { labelledEmbeddings: { data: out.labelledEmbeddings.data, shape: [out.labelledEmbeddings.data.length] } }
        : {}),
      ...(out.meanProbs ? { meanProbs: { data: out.meanProbs.data, shape: [out.meanProbs.data.length] } } : {}),
      ...(out.labelledLogProbs
        ? { labelledLogProbs: { data: out.labelledLogProbs.data, shape: [out.labelledLogProbs.data.length] } }
        : {}),
      ...(out.labelledLabels
        ? { labelledLabels: { data: out.labelledLabels, shape: [out.labelledLabels.length] } }
        : {}),
    },
  }),
  decode: (entry) => {
    const json = entry.json as {
      logProbs?: { n: number; t: number; c: number };
      embeddingsD?: number;
      labelledEmbeddingsD?: number;
      meanProbsD?: number;
      labelledLogProbs?: { n: number; t: number; c: number };
    };
    const floats = (name: string) => floatArray(entry, name);
    return {
      candidates: Array.from(entry.arrays["candidates"]?.data ?? []),
      scores: Float64Array.from(entry.arrays["scores"]?.data ?? []),
      ...(json.logProbs ? { logProbs: { ...json.logProbs, data: floats("logProbs") } } : {}),
      ...(json.embeddingsD !== undefined ? { embeddings: { data: floats("embeddings"), d: json.embeddingsD } } : {}),
      ...(json.labelledEmbeddingsD !== undefined
        ? { labelledEmbeddings: { data: floats("labelledEmbeddings"), d: json.labelledEmbeddingsD } }
        : {}),
      ...(json.meanProbsD !== undefined ? { meanProbs: { data: floats("meanProbs"), d: json.meanProbsD } } : {}),
      ...(json.labelledLogProbs
        ? {
          labelledLogProbs: { ...json.labelledLogProbs, data: floats("labelledLogProbs") },
          labelledLabels: Int32Array.from(entry.arrays["labelledLabels"]?.data ?? []),
        }
        : {}),
    };
  },
};
