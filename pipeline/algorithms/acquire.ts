/**
 * Picking the items to label from scored pool candidates.
 *
 * @module
 */

/** The outcome of an acquisition: pool items chosen, best first. */
export interface Acquired {
  readonly indices: number[];
  readonly scores: number[];
}

/**
 * Top-k: the k candidates with the highest scores. Ties go to the candidate
 * listed first; NaN scores rank below every number.
 *
 * @param stage name of the calling stage, for messages
 * @param candidates pool indices, one per score
 * @param scores one score per candidate
 * @param k how many to pick
 * @param warn receives a warning when fewer than k candidates exist
 * @returns the chosen pool indices and their scores
 * @throws Error when every score is NaN, or when candidates repeat
 */
export function topK(
  stage: string,
  candidates: ArrayLike<number>,
  scores: ArrayLike<number>,
  k: number,
  warn: (msg: string) => void,
): Acquired {
  if (candidates.length !== scores.length) {
    throw new Error(`${stage}: ${candidates.length} candidates but ${scores.length} scores`);
  }
  if (new Set(Array.from(candidates)).size !== candidates.length) {
    throw new Error(`${stage}: candidate list holds an item twice`);
  }
  let finite = 0;
  for (let i = 0; i < scores.length; i++) if (!Number.isNaN(scores[i])) finite++;
  if (scores.length > 0 && finite === 0) {
    throw new Error(`${stage}: every score is NaN (${scores.length} candidates)`);
  }
  if (candidates.length < k) {
    warn(`${stage}: pool holds ${candidates.length} items, fewer than the batch of ${k}: taking all`);
  }
  const order = Array.from({ length: candidates.length }, (_, i) => i);
  const key = (i: number) => {
    const s = scores[i] as number;
    return Number.isNaN(s) ? -Infinity : s;
  };
  order.sort((a, b) => key(b) - key(a) || a - b);
  const chosen = order.slice(0, Math.min(k, order.length));
  return {
    indices: chosen.map((i) => candidates[i] as number),
    scores: chosen.map((i) => scores[i] as number),
  };
}
