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

Deno.test("summary: each strategy against random, ahead or behind by more than the seeds' spread", () => {
  const records = [
    // At 20 labels all equal; at 30 bald is ahead: 0.80 ± 0.01414 vs 0.70 ± 0.01414 (gap 0.10 > 0.028);
    // at 40 the gap (0.02) is inside the spread (0.014 + 0.071).
    ...[0, 1].map((s) => rec("bald", s, 20, 0.5)),
    rec("bald", 0, 30, 0.79),
    rec("bald", 1, 30, 0.81),
    rec("bald", 0, 40, 0.85),
    rec("bald", 1, 40, 0.87),
    ...[0, 1].map((s) => rec("random", s, 20, 0.5)),
    rec("random", 0, 30, 0.69),
    rec("random", 1, 30, 0.71),
    rec("random", 0, 40, 0.79),
    rec("random", 1, 40, 0.89),
    // A strategy behind random at 30 labels: 0.60 ± 0 vs 0.70 ± 0.014; its shared initial round (20 labels,
    // the same accuracies as random's) is no comparison, so its largest gap is the one at 30, not 0 at 20.
    ...[0, 1].map((s) => rec("worse", s, 20, 0.5)),
    ...[0, 1].map((s) => rec("worse", s, 30, 0.6)),
  ];
  const md = summaryMarkdown(records, []);
  assert(
    md.includes(
      "- bald vs random: ahead by more than the seeds' spread at 30 images; largest gap +10.0 points at 30 " +
        "(80.0 ± 1.4 vs 70.0 ± 1.4).",
    ),
    md,
  );
  assert(
    md.includes(
      "- worse vs random: ahead by more than the seeds' spread at no count, behind by more at 30 images; " +
        "largest gap -10.0 points at 30 (60.0 ± 0.0 vs 70.0 ± 1.4).",
    ),
    md,
  );
  // Without a random strategy there is no such section.
  assert(!summaryMarkdown(records.filter((r) => r.acquisition !== "random"), []).includes("Against random"));
});
