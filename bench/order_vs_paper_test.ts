import { assertAlmostEquals, assertEquals, assertRejects } from "../tests/asserts.ts";
import type { RoundRecord } from "../pipeline/run/results.ts";
import { errorTable } from "./error_table.ts";
import {
  kendallTauB,
  orderMarkdown,
  orderVsPaper,
  parsePairs,
  parsePaperTable,
  versusColumn,
  versusMarkdown,
  versusPairs,
} from "./order_vs_paper.ts";

const r = (acquisition: string, preset: string, seed: number, accuracy: number): RoundRecord =>
  ({
    experiment: "x",
    acquisition,
    variant: `model={preset:${preset},classes:10}`,
    seed,
    round: 0,
    labelled: 500,
    accuracy,
    nll: 0,
  }) as unknown as RoundRecord;

Deno.test("kendallTauB: concordant minus discordant pairs over the untied pairs, by hand", () => {
  // Pairs of [1,2,3] vs [1,3,2]: (0,1) and (0,2) concordant, (1,2) discordant: (2 - 1) / 3.
  assertAlmostEquals(kendallTauB([1, 2, 3], [1, 3, 2]), 1 / 3, 1e-12);
  assertEquals(kendallTauB([1, 2, 3], [3, 2, 1]), -1);
  // A tie in x: pair (0,1) counts for neither; 2 concordant; untied 2 in x, 3 in y: 2 / sqrt(6).
  assertAlmostEquals(kendallTauB([1, 1, 2], [1, 2, 3]), 2 / Math.sqrt(6), 1e-12);
  assertEquals(Number.isNaN(kendallTauB([1, 1], [1, 2])), true);
});

Deno.test("parsePaperTable: comments, % signs, and errors naming file:line and cell", async () => {
  const table = parsePaperTable("# source: a poster\nacquisition,A,B\nrandom,6.6%,5.5\n\nvr, 3.5 ,2.4\n", "t.csv");
  assertEquals(table.rows, ["random", "vr"]);
  assertEquals(table.columns, ["A", "B"]);
  assertEquals([...table.values.get("vr")!], [["A", 3.5], ["B", 2.4]]);
  await assertRejects(
    () => parsePaperTable("# a comment\nacquisition,A,B\nrandom,6.6,five\n", "t.csv"),
    /^t\.csv:3: column "B" of row "random" is "five", not a number$/,
  );
  await assertRejects(
    () => parsePaperTable("acquisition,A,B\nrandom,6.6\n", "t.csv"),
    /^t\.csv: not valid CSV \(.*2 on line 2\)$/,
  );
});

const records = [
  r("random", "A", 0, 0.9),
  r("random", "A", 1, 0.88),
  r("random", "B", 0, 0.95),
  r("random", "B", 1, 0.93),
  r("random", "C", 0, 0.885),
  r("random", "C", 1, 0.875),
  r("vr", "A", 0, 0.96),
  r("vr", "A", 1, 0.96),
  r("vr", "B", 0, 0.955),
  r("vr", "B", 1, 0.945),
  r("vr", "C", 0, 0.97),
];

Deno.test("orderVsPaper: each pair the paper orders, same or opposite, beyond the spread or not", () => {
  // Ours (error %, seeds 0 and 1): random A 10, 12 (11 ± 1.41), B 5, 7 (6 ± 1.41), C 11.5, 12.5 (12 ± 0.71);
  // vr A 4, 4 (4 ± 0), B 4.5, 5.5 (5 ± 0.71); C missing seed 1.
  const paper = parsePaperTable("acquisition,A,B,C\nrandom,6,5,7\nvr,3,2,2\n", "p.csv");
  const { byRow, byColumn } = orderVsPaper(errorTable(records, 500, "preset"), paper);
  const random = byRow[0]!;
  assertEquals(random.ours, ["B", "A", "C"]);
  assertEquals(random.paper, ["B", "A", "C"]);
  assertEquals(random.tau, 1);
  // B < A: 6 vs 11, gap 5 > 1.41 + 1.41: beyond. A < C: 11 vs 12, gap 1 < 1.41 + 0.71: within. B < C: beyond.
  assertEquals(random.pairs.map((p) => [p.lower, p.higher, p.sameOrder, p.beyondSpread]), [
    ["B", "A", true, true],
    ["A", "C", true, false],
    ["B", "C", true, true],
  ]);
  // vr: C has one seed of two, so it is left out; the paper has B < A, ours A 4 < B 5, gap 1 > 0 + 0.71: opposite beyond.
  const vr = byRow[1]!;
  assertEquals(vr.ours, ["A", "B"]);
  assertEquals(vr.tau, -1);
  assertEquals(vr.pairs.map((p) => [p.lower, p.higher, p.sameOrder, p.beyondSpread]), [["B", "A", false, true]]);
  // Column A: the paper has vr 3 < random 6, ours 4 < 11.
  assertEquals(byColumn[0]!.pairs.map((p) => [p.lower, p.higher, p.sameOrder]), [["vr", "random", true]]);
  // With partial, C's one seed (3%) joins: the paper ties B and C (2 and 2), so that pair is not counted.
  const partial = orderVsPaper(errorTable(records, 500, "preset"), paper, true).byRow[1]!;
  assertEquals(partial.ours, ["C", "A", "B"]);
  // C (one seed, 3%) against A (4 ± 0): the same order as the paper's, but one seed has no spread to be beyond.
  assertEquals(partial.pairs.map((p) => [p.lower, p.higher, p.sameOrder, p.beyondSpread]), [
    ["B", "A", false, true],
    ["C", "A", true, false],
  ]);
  const text = orderMarkdown({ byRow, byColumn }, "acquisition", "preset");
  assertEquals(text.includes("| random | B < A < C | B < A < C | 1.00 | 3 (2) / 0 (0) of 3 |"), true);
  assertEquals(text.includes("- vr: paper B 2% < A 3%; ours B 5.00 ± 0.71%, A 4.00 ± 0.00%"), true);
});

Deno.test("versusColumn: each column minus the reference, beyond the spread or not, beside the paper's difference", async () => {
  // The records above against column A. random: B 6 - A 11 = -5, gap 5 > 1.41 + 1.41: beyond; paper 5 - 6 = -1.
  // C 12 - 11 = +1, within (1 < 1.41 + 0.71); paper 7 - 6 = +1. vr: B 5 - A 4 = +1 > 0.71 + 0: beyond; paper
  // 2 - 3 = -1, the other side. vr C has one seed of two: left out (with partial, 3 - 4 = -1, never beyond).
  const paper = parsePaperTable("acquisition,A,B,C\nrandom,6,5,7\nvr,3,2,2\n", "p.csv");
  const table = errorTable(records, 500, "preset");
  const lines = versusColumn(table, paper, "A");
  const rounded = (x: number) => Math.round(x * 1e9) / 1e9;
  assertEquals(lines.map((l) => [l.column, l.cells.map((c) => [c.row, rounded(c.ours), c.beyondSpread, c.paper])]), [
    ["B", [["random", -5, true, -1], ["vr", 1, true, -1]]],
    ["C", [["random", 1, false, 1]]],
  ]);
  const partial = versusColumn(table, paper, "A", true)[1]!.cells[1]!;
  assertEquals([partial.row, rounded(partial.ours), partial.beyondSpread, partial.paper], ["vr", -1, false, -1]);
  const text = versusMarkdown(lines, ["random", "vr"], "preset");
  assertEquals(
    text.includes(
      "| B | −5.00 (beyond spread); paper −1.00 | +1.00 (beyond spread); paper −1.00 (other side) | 1 (1) of 2 / 2 of 2 |",
    ),
    true,
  );
  assertEquals(text.includes("| C | +1.00; paper +1.00 | not run yet | 0 (0) of 1 / 0 of 1 |"), true);
  await assertRejects(
    () => versusColumn(table, paper, "D"),
    /^--versus D: not a column of both tables \(ours: A, B, C; paper's: A, B, C\)$/,
  );
});

Deno.test("versusPairs: each chosen pair, first minus second, with its own reference; parsePairs names a bad item", async () => {
  // The records above. B − C: random 6 − 12 = −6, gap 6 > 1.41 + 0.71: beyond; paper 5 − 7 = −2; vr C has one
  // seed of two: left out. A − B: random 11 − 6 = +5, beyond; paper 6 − 5 = +1. vr 4 − 5 = −1, gap 1 > 0 + 0.71:
  // beyond; paper 3 − 2 = +1, the other side.
  const paper = parsePaperTable("acquisition,A,B,C\nrandom,6,5,7\nvr,3,2,2\n", "p.csv");
  const table = errorTable(records, 500, "preset");
  const pairs = parsePairs("B:C, A : B");
  assertEquals(pairs, [["B", "C"], ["A", "B"]]);
  const lines = versusPairs(table, paper, pairs);
  const rounded = (x: number) => Math.round(x * 1e9) / 1e9;
  assertEquals(
    lines.map((l) => [l.column, l.reference, l.cells.map((c) => [c.row, rounded(c.ours), c.beyondSpread, c.paper])]),
    [
      ["B", "C", [["random", -6, true, -2]]],
      ["A", "B", [["random", 5, true, 1], ["vr", -1, true, 1]]],
    ],
  );
  const text = versusMarkdown(lines, ["random", "vr"], "preset");
  assertEquals(text.includes("| pair | random | vr | first better under: ours (beyond spread) / paper's |"), true);
  assertEquals(
    text.includes("| B − C | −6.00 (beyond spread); paper −2.00 | not run yet | 1 (1) of 1 / 1 of 1 |"),
    true,
  );
  assertEquals(
    text.includes(
      "| A − B | +5.00 (beyond spread); paper +1.00 | −1.00 (beyond spread); paper +1.00 (other side) | 1 (1) of 2 / 0 of 2 |",
    ),
    true,
  );
  // Where the paper has the two equal, neither side is "the other side".
  const tied = parsePaperTable("acquisition,A,B,C\nrandom,6,6,7\nvr,3,2,2\n", "p.csv");
  const tiedText = versusMarkdown(versusPairs(table, tied, [["A", "B"]]), ["random", "vr"], "preset");
  assertEquals(tiedText.includes("| +5.00 (beyond spread); paper ±0.00 (paper tied) |"), true);
  await assertRejects(() => parsePairs("B:C,A"), /^--pairs: "A" is not column:reference/);
  await assertRejects(() => parsePairs("B:"), /^--pairs: "B:" is not column:reference/);
  await assertRejects(
    () => versusPairs(table, paper, [["B", "E"]]),
    /^--pairs E: not a column of both tables \(ours: A, B, C; paper's: A, B, C\)$/,
  );
  // A column the paper has and a running study has not reached yet: with partial, its line is empty ("not run yet").
  const wider = parsePaperTable("acquisition,A,B,C,D\nrandom,6,5,7,8\nvr,3,2,2,1\n", "p.csv");
  await assertRejects(() => versusPairs(table, wider, [["D", "A"]]), /^--pairs D: not a column of both tables/);
  assertEquals(versusPairs(table, wider, [["D", "A"]], true), [{ column: "D", reference: "A", cells: [] }]);
  await assertRejects(() => versusPairs(table, wider, [["E", "A"]], true), /^--pairs E: not a column of both tables/);
});
