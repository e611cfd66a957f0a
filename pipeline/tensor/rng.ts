/**
 * Seeded pseudo-random numbers for everything the pipeline draws itself
 * (initial labelled sets, pool subsets, shuffles, tensor seeds), so that a
 * seed fixes a run.
 *
 * @module
 */

/** A stream of uniform numbers in [0, 1) with a few helpers. */
export interface Rng {
  /** Next uniform number in [0, 1). */
  next(): number;
  /** Integer uniform in [0, n). */
  int(n: number): number;
  /** A 31-bit integer, for seeding tfjs random ops. */
  seed(): number;
}

/**
 * Makes a seeded generator (splitmix32 mixing of a 32-bit counter).
 *
 * @param seed any integer; equal seeds give equal streams
 * @returns the generator
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const a = makeRng(1), b = makeRng(1);
 * assert(a.next() === b.next());
 * ```
 */
export function makeRng(seed: number): Rng {
  let state = (seed | 0) ^ 0x9e3779b9;
  const nextU32 = (): number => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  return {
    next: () => nextU32() / 4294967296,
    int: (n) => Math.floor((nextU32() / 4294967296) * n),
    seed: () => nextU32() >>> 1,
  };
}

/**
 * Derives a child seed from a parent seed and a label, so that independent
 * parts of a run (e.g. "init" and "dropout") draw independent streams.
 *
 * @param seed the parent seed
 * @param label what the child stream is for
 * @returns a 31-bit seed
 */
export function deriveSeed(seed: number, label: string): number {
  // FNV-1a over the label, mixed with the seed.
  let h = 0x811c9dc5 ^ (seed | 0);
  for (let i = 0; i < label.length; i++) {
    h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  }
  return makeRng(h).seed();
}

/**
 * Fisher-Yates shuffle of a copy of `items`.
 *
 * @param items the values to shuffle
 * @param rng the generator to draw from
 * @returns a new, shuffled array
 */
export function shuffled<T>(items: ArrayLike<T>, rng: Rng): T[] {
  const out = Array.from(items);
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return out;
}
