/**
 * Counting the scores that are not numbers a rule can rank (NaN, ±Infinity),
 * so the score stage can say how many there were and what becomes of them.
 *
 * @module
 */

/** How many scores were NaN, +Infinity and -Infinity. */
export interface NonFiniteCounts {
  nan: number;
  posInf: number;
  negInf: number;
}

/**
 * Counts the NaN and infinite scores of a chunk, adding to `into`.
 *
 * @param scores one chunk's scores
 * @param into running counts (updated and returned); fresh ones when omitted
 * @returns the counts
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { countNonFinite } from "./score_check.ts";
 * const c = countNonFinite([1, NaN, Infinity, -Infinity, NaN]);
 * assert(c.nan === 2 && c.posInf === 1 && c.negInf === 1);
 * ```
 */
export function countNonFinite(
  scores: ArrayLike<number>,
  into: NonFiniteCounts = { nan: 0, posInf: 0, negInf: 0 },
): NonFiniteCounts {
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    if (Number.isNaN(s)) into.nan++;
    else if (s === Infinity) into.posInf++;
    else if (s === -Infinity) into.negInf++;
  }
  return into;
}

/**
 * The warning the score stage prints when some scores were NaN or infinite,
 * or undefined when all were finite. Top-k ranks NaN as -Infinity (below
 * every finite score, ties to the candidate listed first) and power
 * acquisition puts NaN and non-positive scores last, so both take NaN and
 * -Infinity last and +Infinity first.
 *
 * @param score the score's name
 * @param counts what {@link countNonFinite} counted
 * @param total scores computed
 * @returns e.g. `score "bald": 3 of 200 scores are NaN, 1 infinite (+Infinity); ...`
 */
export function nonFiniteWarning(score: string, counts: NonFiniteCounts, total: number): string | undefined {
  const infinite = counts.posInf + counts.negInf;
  if (counts.nan === 0 && infinite === 0) return undefined;
  const signs = counts.negInf === 0
    ? "+Infinity"
    : counts.posInf === 0
    ? "-Infinity"
    : `${counts.posInf} +Infinity, ${counts.negInf} -Infinity`;
  const what = counts.nan > 0
    ? `${counts.nan} of ${total} scores are NaN${infinite > 0 ? `, ${infinite} infinite (${signs})` : ""}`
    : `${infinite} of ${total} scores are infinite (${signs})`;
  return `score "${score}": ${what}; top-k and power acquisition take NaN and -Infinity last and +Infinity first`;
}
