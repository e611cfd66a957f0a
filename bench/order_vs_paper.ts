/**
 * Does a study order things as the paper does? Reads a results folder's test
 * error at one labelled count (as `bench/error_table.ts` does) and a CSV of
 * the paper's table in the same layout (a header `acquisition,<column>,...`,
 * then one row per acquisition, error in %; lines starting with `#` are
 * comments, e.g. the table's source), and prints, in markdown:
 *
 * - for each acquisition, the columns from lowest to highest error, ours and
 *   the paper's, with Kendall's τ_b between our means and the paper's values;
 * - the same for each column across acquisitions;
 * - every pair the paper orders strictly, classed as ours "same order" or
 *   "opposite", each "beyond the spread" when our two mean ± std intervals
 *   do not overlap, and the opposite pairs beyond the spread listed by name.
 *
 * With a reference column (`--versus BNN`), it also prints each other column
 * against it under each acquisition: our mean difference, whether it is
 * beyond the spread, and the paper's difference, which tests claims such as
 * "BNN-1, BNN-2 and BNN-3 all outperformed the BNN".
 *
 * Only cells whose every seed finished are compared (with `--partial`, any
 * cell with a seed, and a single seed is never "beyond the spread"); pairs the
 * paper ties are not counted.
 *
 * Used by `bench/error_table.ts --paper FILE`, which prints this after its table.
 *
 * @module
 */
import { parse as parseCsv } from "csv-parse/sync";
import { meanStd } from "../pipeline/run/results.ts";

/** A study's test error (%) per acquisition, column and seed, as `bench/error_table.ts` collects it. */
export interface ErrorTable {
  readonly rows: readonly string[];
  readonly columns: readonly string[];
  /** Error (%) by row, then column, then seed. */
  readonly cells: ReadonlyMap<string, ReadonlyMap<string, ReadonlyMap<number, number>>>;
  /** The seeds present anywhere in the records. */
  readonly seeds: readonly number[];
}

/** A paper's table: error (%) by row (acquisition), then column. */
export interface PaperTable {
  readonly rows: readonly string[];
  readonly columns: readonly string[];
  readonly values: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

/**
 * Parses a paper's table from CSV text. Cells may carry a trailing `%`.
 *
 * @param text the CSV (header `acquisition,<column>,...`; `#` lines are comments)
 * @param file the file's name, for errors
 * @returns the table
 * @throws Error naming file:line and column for a cell that is not a number; csv-parse's, with its line, for a row of the wrong length
 */
export function parsePaperTable(text: string, file: string): PaperTable {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    // csv-parse counts lines wrongly across "\r\n"; "\n" alone is counted right.
    records = parseCsv(text.replaceAll("\r\n", "\n"), {
      info: true,
      comment: "#",
      comment_no_infix: true,
      skip_empty_lines: true,
      trim: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (e) {
    throw new Error(`${file}: not valid CSV (${e instanceof Error ? e.message : String(e)})`);
  }
  const header = records[0];
  if (header === undefined || header.record.length < 2) {
    throw new Error(`${file}: needs a header row "acquisition,<column>,..." and at least one column`);
  }
  const columns = header.record.slice(1);
  const rows: string[] = [];
  const values = new Map<string, Map<string, number>>();
  for (const { record, info } of records.slice(1)) {
    const where = `${file}:${info.lines}`;
    const row = record[0]!;
    const cells = new Map<string, number>();
    columns.forEach((column, i) => {
      const cell = record[i + 1]!.replace(/%$/, "");
      const value = Number(cell);
      if (cell === "" || !Number.isFinite(value)) {
        throw new Error(
          `${where}: column "${column}" of row "${row}" is ${JSON.stringify(record[i + 1])}, not a number`,
        );
      }
      cells.set(column, value);
    });
    rows.push(row);
    values.set(row, cells);
  }
  return { rows, columns, values };
}

/**
 * Kendall's τ_b between two paired lists (ties in either allowed): the
 * concordant minus the discordant pairs over the geometric mean of the pairs
 * untied in each list. NaN when either list is all ties (or has under 2 items).
 *
 * @param x first values
 * @param y second values, paired with `x`
 * @returns τ_b in [-1, 1], or NaN
 */
export function kendallTauB(x: readonly number[], y: readonly number[]): number {
  let concordant = 0, discordant = 0, untiedX = 0, untiedY = 0;
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) {
      const sx = Math.sign(x[i]! - x[j]!), sy = Math.sign(y[i]! - y[j]!);
      if (sx !== 0) untiedX++;
      if (sy !== 0) untiedY++;
      if (sx * sy > 0) concordant++;
      else if (sx * sy < 0) discordant++;
    }
  }
  return (concordant - discordant) / Math.sqrt(untiedX * untiedY);
}

/** One pair the paper orders strictly, and how our means order it. */
export interface PairVerdict {
  /** The row (or column) the pair lies in. */
  readonly within: string;
  /** The paper's lower-error item, then its higher-error one. */
  readonly lower: string;
  readonly higher: string;
  readonly paper: readonly [number, number];
  /** Our mean and std for `lower`, then `higher`. */
  readonly ours: readonly [readonly [number, number], readonly [number, number]];
  readonly sameOrder: boolean;
  /** Our two mean ± std intervals do not overlap (never with a single seed on either side: it has no spread). */
  readonly beyondSpread: boolean;
}

/** The comparison along one line of the table (a row, or a column). */
export interface LineOrder {
  readonly name: string;
  /** Items from lowest to highest error: ours (by mean), the paper's. */
  readonly ours: readonly string[];
  readonly paper: readonly string[];
  readonly tau: number;
  readonly pairs: readonly PairVerdict[];
}

/** Our mean and std over a cell's seeds, and how many seeds it has. */
type Cell = [number, number, number];

function compareLine(name: string, items: readonly string[], ours: Map<string, Cell>, paper: Map<string, number>) {
  const shared = items.filter((i) => ours.has(i) && paper.has(i));
  const byOurs = [...shared].sort((a, b) => ours.get(a)![0] - ours.get(b)![0]);
  const byPaper = [...shared].sort((a, b) => paper.get(a)! - paper.get(b)!);
  const pairs: PairVerdict[] = [];
  for (let i = 0; i < shared.length; i++) {
    for (let j = i + 1; j < shared.length; j++) {
      const [a, b] = [shared[i]!, shared[j]!];
      if (paper.get(a) === paper.get(b)) continue;
      const [lower, higher] = paper.get(a)! < paper.get(b)! ? [a, b] : [b, a];
      const [ml, sl, nl] = ours.get(lower)!, [mh, sh, nh] = ours.get(higher)!;
      pairs.push({
        within: name,
        lower,
        higher,
        paper: [paper.get(lower)!, paper.get(higher)!],
        ours: [[ml, sl], [mh, sh]],
        sameOrder: ml < mh,
        beyondSpread: nl > 1 && nh > 1 && Math.abs(mh - ml) > sl + sh,
      });
    }
  }
  const tau = kendallTauB(shared.map((s) => ours.get(s)![0]), shared.map((s) => paper.get(s)!));
  return { name, ours: byOurs, paper: byPaper, tau, pairs };
}

/**
 * Compares our table with the paper's, row by row and column by column.
 *
 * @param table ours, from {@link errorTable}
 * @param paper the paper's, from {@link parsePaperTable}
 * @param partial compare cells that have some of the seeds (a study still running)
 * @returns the comparisons by row, then by column
 */
export function orderVsPaper(
  table: ErrorTable,
  paper: PaperTable,
  partial = false,
): { byRow: LineOrder[]; byColumn: LineOrder[] } {
  const cell = (row: string, column: string): Cell | undefined => {
    const values = [...(table.cells.get(row)?.get(column)?.values() ?? [])];
    if (values.length === 0 || (!partial && values.length < table.seeds.length)) return undefined;
    return [...meanStd(values), values.length];
  };
  const rows = paper.rows.filter((r) => table.rows.includes(r));
  const columns = paper.columns.filter((c) => table.columns.includes(c));
  const collect = (pick: (item: string) => Cell | undefined, items: readonly string[]) =>
    new Map(items.flatMap((i): [string, Cell][] => {
      const c = pick(i);
      return c === undefined ? [] : [[i, c]];
    }));
  const byRow = rows.map((row) =>
    compareLine(row, columns, collect((c) => cell(row, c), columns), new Map(paper.values.get(row)!))
  );
  const byColumn = columns.map((column) =>
    compareLine(
      column,
      rows,
      collect((r) => cell(r, column), rows),
      new Map(rows.map((r) => [r, paper.values.get(r)!.get(column)!])),
    )
  );
  return { byRow, byColumn };
}

function pairCounts(pairs: readonly PairVerdict[]): string {
  const n = (f: (p: PairVerdict) => boolean) => pairs.filter(f).length;
  return `${n((p) => p.sameOrder)} (${n((p) => p.sameOrder && p.beyondSpread)}) / ` +
    `${n((p) => !p.sameOrder)} (${n((p) => !p.sameOrder && p.beyondSpread)}) of ${pairs.length}`;
}

/**
 * The comparison as markdown.
 *
 * @param result from {@link orderVsPaper}
 * @param rowLabel what the rows are (e.g. "acquisition"), columnLabel what the columns are
 * @returns markdown
 */
export function orderMarkdown(
  result: { byRow: LineOrder[]; byColumn: LineOrder[] },
  rowLabel = "acquisition",
  columnLabel = "column",
): string {
  const tau = (t: number) => (Number.isNaN(t) ? "n/a" : t.toFixed(2));
  const section = (lines: LineOrder[], label: string, of: string) => [
    `| ${label} | ours, lowest error first | paper's | Kendall's τ_b | paper's pairs: same order (beyond spread) / opposite (beyond spread) |`,
    "| --- | --- | --- | ---: | --- |",
    ...lines.map((l) =>
      `| ${l.name} | ${l.ours.join(" < ")} | ${l.paper.join(" < ")} | ${tau(l.tau)} | ${pairCounts(l.pairs)} |`
    ),
    "",
    `All ${of}: ${pairCounts(lines.flatMap((l) => l.pairs))}.`,
  ];
  const all = [...result.byRow, ...result.byColumn].flatMap((l) => l.pairs);
  const against = all.filter((p) => !p.sameOrder && p.beyondSpread);
  const pct = ([m, s]: readonly [number, number]) => `${m.toFixed(2)} ± ${s.toFixed(2)}%`;
  return [
    `Each ${rowLabel}: the ${columnLabel}s in order`,
    "",
    ...section(result.byRow, rowLabel, `${columnLabel} pairs within an ${rowLabel}`),
    "",
    `Each ${columnLabel}: the ${rowLabel}s in order`,
    "",
    ...section(result.byColumn, columnLabel, `${rowLabel} pairs within a ${columnLabel}`),
    "",
    against.length === 0
      ? "No pair is in the opposite order beyond the spread."
      : `In the opposite order beyond the spread (${against.length}):`,
    ...against.map((p) =>
      `- ${p.within}: paper ${p.lower} ${p.paper[0]}% < ${p.higher} ${p.paper[1]}%; ours ${p.lower} ${
        pct(p.ours[0])
      }, ${p.higher} ${pct(p.ours[1])}`
    ),
  ].join("\n");
}

/** One column against the reference column under one row (acquisition). */
export interface VersusCell {
  readonly row: string;
  /** Our mean error of the column minus the reference's (percentage points; negative: the column is better). */
  readonly ours: number;
  /** Our two mean ± std intervals do not overlap (never with a single seed on either side). */
  readonly beyondSpread: boolean;
  /** The paper's error of the column minus the reference's. */
  readonly paper: number;
}

/** A column against a reference column under every row both tables have. */
export interface VersusLine {
  readonly column: string;
  readonly reference: string;
  readonly cells: readonly VersusCell[];
}

/**
 * Each column of the paper's table that we have, against one reference
 * column, under each row.
 *
 * @param table ours, from {@link errorTable}
 * @param paper the paper's, from {@link parsePaperTable}
 * @param reference the column the others are set against (e.g. "BNN")
 * @param partial compare cells that have some of the seeds (a study still running)
 * @returns one line per other column; a row is left out where either side lacks the cell
 * @throws Error when the reference is not a column of both tables
 */
export function versusColumn(
  table: ErrorTable,
  paper: PaperTable,
  reference: string,
  partial = false,
): VersusLine[] {
  const others = paper.columns.filter((c) => c !== reference && table.columns.includes(c));
  return versusPairs(table, paper, others.map((c) => [c, reference]), partial, "--versus");
}

/**
 * Chosen pairs of columns, the first against the second, under each row:
 * e.g. the poster's "Bayesian layers near the output are better than near the
 * input" sets BNN-1 (Bayesian Dense2 only) against BNN1 (Bayesian Conv1 only).
 *
 * @param table ours, from {@link errorTable}
 * @param paper the paper's, from {@link parsePaperTable}
 * @param pairs each [column, reference]
 * @param partial compare cells that have some of the seeds (a study still running)
 * @param option the command-line option the pairs came from, for errors
 * @returns one line per pair; a row is left out where either side lacks the cell
 * @throws Error naming the first column that is not a column of both tables (with partial: of the paper's)
 */
export function versusPairs(
  table: ErrorTable,
  paper: PaperTable,
  pairs: readonly (readonly [string, string])[],
  partial = false,
  option = "--pairs",
): VersusLine[] {
  for (const name of pairs.flat()) {
    // A study still running may not have reached a column yet: with partial, its line shows "not run yet".
    const notRunYet = partial && paper.columns.includes(name);
    if (!notRunYet && (!table.columns.includes(name) || !paper.columns.includes(name))) {
      throw new Error(
        `${option} ${name}: not a column of both tables (ours: ${table.columns.join(", ")}; paper's: ${
          paper.columns.join(", ")
        })`,
      );
    }
  }
  const cell = (row: string, column: string): Cell | undefined => {
    const values = [...(table.cells.get(row)?.get(column)?.values() ?? [])];
    if (values.length === 0 || (!partial && values.length < table.seeds.length)) return undefined;
    return [...meanStd(values), values.length];
  };
  const rows = paper.rows.filter((r) => table.rows.includes(r));
  return pairs.map(([column, reference]) => ({
    column,
    reference,
    cells: rows.flatMap((row): VersusCell[] => {
      const [ours, base] = [cell(row, column), cell(row, reference)];
      if (ours === undefined || base === undefined) return [];
      return [{
        row,
        ours: ours[0] - base[0],
        beyondSpread: ours[2] > 1 && base[2] > 1 && Math.abs(ours[0] - base[0]) > ours[1] + base[1],
        paper: paper.values.get(row)!.get(column)! - paper.values.get(row)!.get(reference)!,
      }];
    }),
  }));
}

/**
 * Parses `--pairs A:B,C:D` into [column, reference] pairs.
 *
 * @param text the option's value
 * @returns the pairs
 * @throws Error naming the item that is not `column:reference`
 */
export function parsePairs(text: string): [string, string][] {
  return text.split(",").map((item) => {
    const parts = item.split(":").map((s) => s.trim());
    if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
      throw new Error(`--pairs: "${item}" is not column:reference (e.g. --pairs BNN-1:BNN1,BNN-2:BNN2)`);
    }
    return [parts[0]!, parts[1]!];
  });
}

/**
 * The comparison as markdown: one row per line, one cell per acquisition,
 * then for each line how many acquisitions have its column better than its
 * reference, ours and the paper's.
 *
 * @param lines from {@link versusColumn} or {@link versusPairs}
 * @param rows the acquisitions, in the order to show them
 * @param columnLabel what the columns are (e.g. "preset")
 * @returns markdown
 */
export function versusMarkdown(
  lines: readonly VersusLine[],
  rows: readonly string[],
  columnLabel = "column",
): string {
  const signed = (x: number) => `${x > 0 ? "+" : x < 0 ? "−" : "±"}${Math.abs(x).toFixed(2)}`;
  const text = (c: VersusCell | undefined) =>
    c === undefined
      ? "not run yet"
      : `${signed(c.ours)}${c.beyondSpread ? " (beyond spread)" : ""}; paper ${signed(c.paper)}${
        c.paper === 0 ? " (paper tied)" : Math.sign(c.ours) === Math.sign(c.paper) ? "" : " (other side)"
      }`;
  const count = (cells: readonly VersusCell[]) => {
    const better = cells.filter((c) => c.ours < 0);
    return `${better.length} (${better.filter((c) => c.beyondSpread).length}) of ${cells.length} / ` +
      `${cells.filter((c) => c.paper < 0).length} of ${cells.length}`;
  };
  const references = [...new Set(lines.map((l) => l.reference))];
  const one = references.length === 1 ? references[0]! : undefined;
  const [title, name, better] = one !== undefined
    ? [
      `Each ${columnLabel} against ${one}: its error minus ${one}'s, in points (negative: lower error than ${one}), ours and the paper's`,
      (l: VersusLine) => l.column,
      `better than ${one}`,
    ]
    : [
      `Each pair of ${columnLabel}s: the first's error minus the second's, in points (negative: the first has the lower error), ours and the paper's`,
      (l: VersusLine) => `${l.column} − ${l.reference}`,
      "first better",
    ];
  return [
    title,
    "",
    `| ${one !== undefined ? columnLabel : "pair"} | ${
      rows.join(" | ")
    } | ${better} under: ours (beyond spread) / paper's |`,
    `| --- |${rows.map(() => " --- |").join("")} --- |`,
    ...lines.map((l) =>
      `| ${name(l)} | ${rows.map((r) => text(l.cells.find((c) => c.row === r))).join(" | ")} | ${count(l.cells)} |`
    ),
    "",
    `"(other side)": our difference and the paper's have opposite signs; "(paper tied)": the paper has the two equal.`,
  ].join("\n");
}
