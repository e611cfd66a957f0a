import { assertEquals } from "../tests/asserts.ts";
import type { RoundRecord } from "../pipeline/run/results.ts";
import { labelsTable, labelsToTarget } from "./labels_to_target.ts";

const r = (acquisition: string, seed: number, round: number, labelled: number, accuracy: number): RoundRecord =>
  ({ experiment: "x", acquisition, seed, round, labelled, accuracy, nll: 0 }) as unknown as RoundRecord;

Deno.test("labels to a target: the first round at or above it, per seed; a seed that never gets there has no mean", () => {
  const records = [
    r("bald", 0, 1, 30, 0.91),
    r("bald", 0, 0, 20, 0.5),
    r("bald", 0, 2, 40, 0.89),
    r("bald", 1, 0, 20, 0.6),
    r("bald", 1, 1, 30, 0.8),
    r("bald", 1, 2, 40, 0.9),
    r("random", 0, 0, 20, 0.5),
    r("random", 0, 1, 30, 0.7),
  ];
  const t = labelsToTarget(records, 0.9);
  assertEquals(t.get("bald")?.get(0), { ranTo: 40, reached: 30 });
  assertEquals(t.get("bald")?.get(1), { ranTo: 40, reached: 40 });
  assertEquals(t.get("random")?.get(0), { ranTo: 30 });
  const table = labelsTable(records, [0.9]).split("\n");
  // mean 35, sample std sqrt(((30-35)^2 + (40-35)^2) / 1) = 7.07
  assertEquals(table[4], "| bald | 35 ± 7 | seed 0: 30, seed 1: 40 |");
  assertEquals(table[5], "| random | — | seed 0: not reached by 30 |");
});
