/**
 * Test error at one labelled count as a table of acquisitions (rows) by grid
 * variants (columns), mean ± std over seeds: the layout of Zeng et al.'s
 * Tables 2 and 3, from a results folder's `rounds.jsonl`. A column is named by
 * one field of the variant (`--column preset` turns
 * `model={preset:BNN-1,classes:10,rhoInit:-3}` into `BNN-1`); a cell that
 * some seed did not reach reads "n/a (k of n seeds)", or with `--partial` (a
 * study still running) the mean of the seeds it has, "(k of n seeds)".
 * Without `rounds.jsonl` (a study not finished), the records come from the
 * folder's ledger of finished runs (`finished-runs.jsonl`).
 *
 * With `--paper FILE` (the paper's table as CSV, in the same layout: see
 * `bench/order_vs_paper.ts`), the table is followed by the study's orderings
 * beside the paper's; with `--versus COLUMN` each column against that one, and
 * with `--pairs A:B,C:D` each chosen pair (ours and the paper's differences).
 *
 * Usage: `deno run -A bench/error_table.ts <results dir> --labelled 500 [--column preset] [--partial] [--paper FILE [--versus COLUMN] [--pairs A:B,...]] [--out FILE]`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { meanStd, readRounds, type RoundRecord } from "../pipeline/run/results.ts";
import { FINISHED_RUNS_FILE, readFinishedRuns } from "../pipeline/run/finished_runs.ts";
import {
  type ErrorTable,
  orderMarkdown,
  orderVsPaper,
  parsePairs,
  parsePaperTable,
  versusColumn,
  versusMarkdown,
  versusPairs,
} from "./order_vs_paper.ts";

export type { ErrorTable };

/**
 * The name of a variant's column: the value of `field` inside it (as the
 * results write variants, `key=value` or `{key:value,...}`), or the whole
 * variant when `field` is absent or not found.
 *
 * @param variant the record's variant, e.g. `model={preset:BNN-1,classes:10}`
 * @param field the field whose value names the column
 * @returns the column's name
 */
export function columnOf(variant: string | undefined, field?: string): string {
  if (variant === undefined) return "";
  if (field === undefined) return variant;
  const escaped = field.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const match = new RegExp(`(?:^|[{,])${escaped}[:=]([^,}]*)`).exec(variant);
  return match?.[1] ?? variant;
}

/**
 * Collects the test error at `labelled` labels per acquisition, column and seed.
 *
 * @param records the rounds of a results folder
 * @param labelled the labelled count to read
 * @param field the variant field that names the columns
 * @returns the table's cells
 */
export function errorTable(records: readonly RoundRecord[], labelled: number, field?: string): ErrorTable {
  const rows: string[] = [], columns: string[] = [], seeds = new Set<number>();
  const cells = new Map<string, Map<string, Map<number, number>>>();
  for (const r of records) {
    seeds.add(r.seed);
    const column = columnOf(r.variant, field);
    if (!rows.includes(r.acquisition)) rows.push(r.acquisition);
    if (!columns.includes(column)) columns.push(column);
    if (r.labelled !== labelled) continue;
    const row = cells.get(r.acquisition) ?? new Map<string, Map<number, number>>();
    const cell = row.get(column) ?? new Map<number, number>();
    cell.set(r.seed, 100 * (1 - r.accuracy));
    row.set(column, cell);
    cells.set(r.acquisition, row);
  }
  return { rows, columns, cells, seeds: [...seeds].sort((a, b) => a - b) };
}

/**
 * The table as markdown: "mean ± std" (sample std) where every seed reached
 * the count, the single value with one seed.
 *
 * @param table from {@link errorTable}
 * @param partial show the seeds a cell has when some are missing (a study still running), "not run yet" for none
 * @returns markdown lines
 */
export function errorMarkdown(table: ErrorTable, partial = false): string {
  const lines = [
    `| acquisition | ${table.columns.join(" | ")} |`,
    `| --- |${table.columns.map(() => " ---: |").join("")}`,
  ];
  for (const row of table.rows) {
    const cells = table.columns.map((column) => {
      const values = [...(table.cells.get(row)?.get(column)?.values() ?? [])];
      const missing = values.length < table.seeds.length;
      const count = `(${values.length} of ${table.seeds.length} seeds)`;
      if (missing && (!partial || values.length === 0)) return partial ? "not run yet" : `n/a ${count}`;
      const [mean, std] = meanStd(values);
      const text = values.length === 1 ? `${mean.toFixed(2)}%` : `${mean.toFixed(2)} ± ${std.toFixed(2)}%`;
      return missing ? `${text} ${count}` : text;
    });
    lines.push(`| ${row} | ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

/**
 * The records of a results folder: its `rounds.jsonl`, or, for a study not
 * finished, the runs in its ledger (`finished-runs.jsonl`), saying so on stderr.
 *
 * @param dir the results folder
 * @returns every round record
 * @throws Error when the folder has neither file with a run in it
 */
export async function readStudyRecords(dir: string): Promise<RoundRecord[]> {
  return await readRounds(`${dir}/rounds.jsonl`).catch(async (e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    const runs = [...(await readFinishedRuns(dir, console.error)).values()];
    if (runs.length === 0) throw new Error(`${dir}: neither rounds.jsonl nor ${FINISHED_RUNS_FILE} with a run in it`);
    console.error(`${dir}: no rounds.jsonl (not finished); ${runs.length} finished runs from ${FINISHED_RUNS_FILE}`);
    return runs.flatMap((r) => r.records);
  });
}

if (import.meta.main) {
  const args = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      labelled: { type: "string" },
      column: { type: "string" },
      paper: { type: "string" },
      versus: { type: "string" },
      pairs: { type: "string" },
      out: { type: "string" },
      partial: { type: "boolean", default: false },
    },
  });
  const dir = args.positionals[0];
  const labelled = Number(args.values.labelled);
  if (!dir || !Number.isInteger(labelled) || labelled <= 0) {
    throw new Error(
      "usage: deno run -A bench/error_table.ts <results dir> --labelled N [--column FIELD] [--partial] [--paper FILE [--versus COLUMN] [--pairs A:B,...]] [--out FILE] " +
        `(got dir ${dir ?? "none"}, --labelled ${args.values.labelled ?? "none"})`,
    );
  }
  if ((args.values.versus || args.values.pairs) && !args.values.paper) {
    throw new Error(
      "--versus and --pairs need --paper: they set columns against each other beside the paper's differences",
    );
  }
  const records = await readStudyRecords(dir);
  const table = errorTable(records, labelled, args.values.column);
  let text = errorMarkdown(table, args.values.partial);
  if (args.values.paper) {
    const paper = parsePaperTable(await Deno.readTextFile(args.values.paper), args.values.paper);
    const orders = orderVsPaper(table, paper, args.values.partial);
    text += `\n\n${orderMarkdown(orders, "acquisition", args.values.column ?? "column")}`;
    const rows = paper.rows.filter((r) => table.rows.includes(r));
    if (args.values.versus) {
      const lines = versusColumn(table, paper, args.values.versus, args.values.partial);
      text += `\n\n${versusMarkdown(lines, rows, args.values.column ?? "column")}`;
    }
    if (args.values.pairs) {
      const lines = versusPairs(table, paper, parsePairs(args.values.pairs), args.values.partial);
      text += `\n\n${versusMarkdown(lines, rows, args.values.column ?? "column")}`;
    }
  }
  console.log(text);
  if (args.values.out) await Deno.writeTextFile(args.values.out, text + "\n");
}
