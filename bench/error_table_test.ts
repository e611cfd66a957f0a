import { assertEquals } from "../tests/asserts.ts";
import { readRounds, type RoundRecord } from "../pipeline/run/results.ts";
import { columnOf, errorMarkdown, errorTable } from "./error_table.ts";

const r = (acquisition: string, variant: string, seed: number, labelled: number, accuracy: number): RoundRecord =>
  ({ experiment: "x", acquisition, variant, seed, round: 0, labelled, accuracy, nll: 0 }) as unknown as RoundRecord;

Deno.test("columnOf names a column by one field of the variant, or keeps the variant", () => {
  assertEquals(columnOf("model={preset:BNN-1,classes:10,rhoInit:-3}", "preset"), "BNN-1");
  assertEquals(columnOf("model={preset:BNN-1,classes:10,rhoInit:-3}", "rhoInit"), "-3");
  assertEquals(columnOf("train.klWeight=0.01", "train.klWeight"), "0.01");
  assertEquals(columnOf("model={preset:CNN}", "missing"), "model={preset:CNN}");
  assertEquals(columnOf(undefined, "preset"), "");
});

Deno.test("errorTable: error at one count, mean ± sample std over seeds, n/a where a seed is missing", () => {
  const v = (p: string) => `model={preset:${p},classes:10}`;
  const records = [
    r("random", v("BNN"), 0, 500, 0.9), // 10% error
    r("random", v("BNN"), 1, 500, 0.94), // 6%
    r("random", v("BNN"), 0, 460, 0.5), // another count: ignored
    r("random", v("CNN"), 0, 500, 0.95),
    r("vr", v("BNN"), 0, 500, 0.97),
    r("vr", v("BNN"), 1, 500, 0.99),
  ];
  const table = errorTable(records, 500, "preset");
  assertEquals(table.rows, ["random", "vr"]);
  assertEquals(table.columns, ["BNN", "CNN"]);
  assertEquals(table.seeds, [0, 1]);
  // By hand: BNN random 10 and 6: mean 8, sample std sqrt((4 + 4) / 1) = 2.83; vr 3 and 1: mean 2, std 1.41.
  assertEquals(errorMarkdown(table).split("\n"), [
    "| acquisition | BNN | CNN |",
    "| --- | ---: | ---: |",
    "| random | 8.00 ± 2.83% | n/a (1 of 2 seeds) |",
    "| vr | 2.00 ± 1.41% | n/a (0 of 2 seeds) |",
  ]);
  // A study still running: the seeds a cell has, and which cells have none.
  assertEquals(errorMarkdown(table, true).split("\n").slice(2), [
    "| random | 8.00 ± 2.83% | 5.00% (1 of 2 seeds) |",
    "| vr | 2.00 ± 1.41% | not run yet |",
  ]);
});

Deno.test("errorTable on the committed default-size Zeng result: 1 - accuracy at 40 labels", async () => {
  const records = await readRounds("results/bnn-layer-positioning/rounds.jsonl");
  const table = errorTable(records, 40, "preset");
  assertEquals(table.columns, ["BNN", "BNN-1", "BNN-2", "BNN-3", "BNN1", "BNN2", "BNN3", "CNN"]);
  // summary.md of that folder: CNN + random at 40 labels is 73.2% accurate, BNN-1 + variation ratios 67.0%.
  assertEquals(table.cells.get("random")?.get("CNN")?.get(0)?.toFixed(1), "26.8");
  assertEquals(table.cells.get("variation-ratios")?.get("BNN-1")?.get(0)?.toFixed(1), "33.0");
});
