import { assert } from "../../tests/asserts.ts";
import { type RoundRecord, summaryMarkdown } from "./results.ts";

/** A round record with only what the summary reads. */
const rec = (acquisition: string, seed: number, labelled: number, accuracy: number) =>
  ({ acquisition, seed, labelled, accuracy, round: labelled / 10 }) as unknown as RoundRecord;

Deno.test("summary: labels to 90% and 95% per seed, averaged over the seeds that reach them", () => {
  const records = [
    // Seed 0 reaches 90% at 30 labels and 95% at 40; seed 1 reaches 90% at 40 and 95% never.
    rec("bald", 0, 20, 0.8),
    rec("bald", 0, 30, 0.91),
    rec("bald", 0, 40, 0.96),
    rec("bald", 1, 20, 0.7),
    rec("bald", 1, 30, 0.85),
    rec("bald", 1, 40, 0.93),
    // Neither seed of random gets to 90%.
    rec("random", 0, 20, 0.5),
    rec("random", 0, 30, 0.6),
    rec("random", 1, 20, 0.55),
    rec("random", 1, 30, 0.89),
  ];
  const md = summaryMarkdown(records, []);
  // bald to 90%: seeds need 30 and 40: mean 35, sample std sqrt(((30-35)^2 + (40-35)^2) / 1) = 7.07 -> "35 ± 7".
  // bald to 95%: only seed 0, at 40 labels -> "40 (1 of 2 seeds)".
  assert(md.includes("| 35 ± 7 | 40 (1 of 2 seeds) |"), md);
  assert(md.includes("| random | 52.5 ± 3.5 | 74.5 ± 20.5 |  | not reached | not reached |"), md);
});
