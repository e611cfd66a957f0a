/**
 * Loader for a user's own text classification data set: a CSV (or TSV) file
 * with a header row, or a JSONL file with one JSON object per line, each row
 * holding a text and its label(s).
 *
 * ```text
 * text,label                          {"text": "Great phone", "label": "pos"}
 * "Great phone, would buy",pos        {"text": "Broke in a day", "label": "neg"}
 * ```
 *
 * Multi-label rows list their labels separated by `|` in CSV, or as a JSON
 * array of strings in JSONL. CSV is parsed with `csv-parse`.
 *
 * @module
 */

import { parse as parseCsv } from "csv-parse/sync";
import { computeContentHash } from "./files.ts";
import type { MultiLabelTextDataset, TextDataset } from "./types.ts";
import {
  baseName,
  checkTestFraction,
  compareStrings,
  describeUserFiles,
  holdOutMask,
  readUserFile,
  stripExtension,
  type UserFile,
  userFormatError,
} from "./user_files.ts";

/** File formats {@link loadTextTable} reads. */
export type TextTableFormat = "csv" | "tsv" | "jsonl";

/** Options of {@link loadTextTable}. */
export interface TextTableOptions {
  /** Short name of the data set; default: the training file's base name without extension. */
  readonly name?: string | undefined;
  /**
   * File of the test split, in the same format; without it `testFraction`
   * of the rows is held out.
   */
  readonly testPath?: string | undefined;
  /**
   * Fraction held out as the test split when there is no `testPath` (default
   * 0.2, in `[0, 1)`): of each class for single-label data, of all rows for
   * multi-label data; chosen by a hash of the row number.
   */
  readonly testFraction?: number | undefined;
  /** Name of the text column (CSV) or field (JSONL); default `"text"`. */
  readonly textColumn?: string | undefined;
  /** Name of the label column (CSV) or field (JSONL); default `"label"`. */
  readonly labelColumn?: string | undefined;
  /** Rows have any number of labels (default `false`: exactly one). */
  readonly multiLabel?: boolean | undefined;
  /** Separator of the labels of a multi-label CSV cell (default `"|"`). */
  readonly labelSeparator?: string | undefined;
  /**
   * Format; default from the training file's extension: `.csv`, `.tsv` /
   * `.tab` (tab-separated) or `.jsonl` / `.ndjson`.
   */
  readonly format?: TextTableFormat | undefined;
}

/** One data row of a table. */
interface Row {
  /** 1-based number of the data row (the CSV header is not counted). */
  readonly row: number;
  /** 1-based line of the file where the row starts. */
  readonly line: number;
  readonly text: string;
  readonly labels: readonly string[];
}

/** Column names and label parsing, resolved from the options. */
interface TableSpec {
  readonly format: TextTableFormat;
  readonly textColumn: string;
  readonly labelColumn: string;
  readonly multiLabel: boolean;
  readonly separator: string;
}

function why(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The file's text: UTF-8 (a BOM is dropped); invalid bytes are an error. */
function decodeText(file: UserFile): string {
  try {
    return utf8.decode(file.data);
  } catch {
    return userFormatError(file.path, "it is not valid UTF-8 text", "Save it as UTF-8.");
  }
}

function formatOf(path: string, format: TextTableFormat | undefined): TextTableFormat {
  if (format !== undefined) {
    if (format !== "csv" && format !== "tsv" && format !== "jsonl") {
      throw new RangeError(`format must be "csv", "tsv" or "jsonl", got ${JSON.stringify(format)}`);
    }
    return format;
  }
  const ext = /\.([^./\\]+)$/.exec(path)?.[1]?.toLowerCase();
  if (ext === "csv") return "csv";
  if (ext === "tsv" || ext === "tab") return "tsv";
  if (ext === "jsonl" || ext === "ndjson") return "jsonl";
  return userFormatError(
    path,
    "its format cannot be told from its name (not .csv, .tsv or .jsonl)",
    'Rename it or set the format option ("csv", "tsv" or "jsonl").',
  );
}

/** Where a row is, for messages. */
function at(row: number, line: number, format: TextTableFormat): string {
  return format === "jsonl" ? `line ${line}` : `row ${row} (line ${line})`;
}

/** Splits, trims and de-duplicates the labels of a multi-label CSV cell. */
function splitLabels(cell: string, separator: string): string[] {
  const out: string[] = [];
  for (const part of cell.split(separator)) {
    const label = part.trim();
    if (label !== "" && !out.includes(label)) out.push(label);
  }
  return out;
}

/** Checks the text and label of one row and makes it a {@link Row}. */
function makeRow(
  file: string,
  spec: TableSpec,
  row: number,
  line: number,
  text: string,
  labels: string[],
): Row {
  const where = at(row, line, spec.format);
  if (text.trim() === "") userFormatError(file, `${where} has an empty ${spec.textColumn}`);
  if (!spec.multiLabel) {
    const label = labels[0]?.trim() ?? "";
    if (label === "") userFormatError(file, `${where} has an empty ${spec.labelColumn}`);
    return { row, line, text, labels: [label] };
  }
  return { row, line, text, labels };
}

function readCsv(file: UserFile, spec: TableSpec): Row[] {
  // csv-parse counts lines wrongly across "\r\n"; "\n" alone is counted right.
  const input = decodeText(file).replaceAll("\r\n", "\n");
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsv(input, {
      delimiter: spec.format === "tsv" ? "\t" : ",",
      info: true,
      skip_empty_lines: true,
      bom: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (e) {
    return userFormatError(file.path, `it is not valid ${spec.format.toUpperCase()} (${why(e)})`);
  }
  const header = records[0]?.record.map((h) => h.trim());
  if (header === undefined) userFormatError(file.path, "it is empty (it has no header row)");
  const column = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) {
      userFormatError(
        file.path,
        `its header row (line ${records[0]!.info.lines}) has no "${name}" column; its columns are ` +
          header.map((h) => JSON.stringify(h)).join(", "),
        "Name the columns in the header row, or set the textColumn / labelColumn options.",
      );
    }
    return i;
  };
  const ti = column(spec.textColumn);
  const li = column(spec.labelColumn);
  const rows: Row[] = [];
  for (let r = 1; r < records.length; r++) {
    const { record, info } = records[r]!;
    // info.lines is the line the record ends on; quoted fields may span lines.
    const inner = record.reduce((n, f) => n + (f.match(/\n/g)?.length ?? 0), 0);
    const text = record[ti] ?? "";
    const cell = record[li] ?? "";
    const labels = spec.multiLabel ? splitLabels(cell, spec.separator) : [cell];
    rows.push(makeRow(file.path, spec, r, info.lines - inner, text, labels));
  }
  return rows;
}

function readJsonl(file: UserFile, spec: TableSpec): Row[] {
  const lines = decodeText(file).split("\n");
  const rows: Row[] = [];
  for (let i = 0; i < lines.length; i++) {
    const source = lines[i]!.replace(/\r$/, "");
    if (source.trim() === "") continue;
    const line = i + 1;
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (e) {
      userFormatError(file.path, `line ${line} is not valid JSON (${why(e)})`, "Each line must be one JSON object.");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      userFormatError(file.path, `line ${line} is not a JSON object`, "Each line must be one JSON object.");
    }
    const obj = value as Record<string, unknown>;
    const field = (name: string) => {
      if (!(name in obj)) userFormatError(file.path, `line ${line} has no "${name}" field`);
      return obj[name];
    };
    const text = field(spec.textColumn);
    if (typeof text !== "string") {
      userFormatError(file.path, `line ${line}: "${spec.textColumn}" is not a string`);
    }
    const raw = field(spec.labelColumn);
    const scalar = (v: unknown) => (typeof v === "string" ? v.trim() : typeof v === "number" ? String(v) : undefined);
    let labels: string[];
    if (spec.multiLabel) {
      const list = Array.isArray(raw) ? raw.map(scalar) : undefined;
      if (list === undefined || list.some((l) => l === undefined || l === "")) {
        userFormatError(
          file.path,
          `line ${line}: "${spec.labelColumn}" is not a JSON array of label strings`,
          'Write the labels as e.g. ["sports", "politics"].',
        );
      }
      labels = [...new Set(list as string[])];
    } else {
      const label = scalar(raw);
      if (label === undefined) {
        userFormatError(file.path, `line ${line}: "${spec.labelColumn}" is not a string or number`);
      }
      labels = [label];
    }
    rows.push(makeRow(file.path, spec, rows.length + 1, line, text, labels));
  }
  return rows;
}

function readRows(file: UserFile, spec: TableSpec): Row[] {
  return spec.format === "jsonl" ? readJsonl(file, spec) : readCsv(file, spec);
}

/**
 * Loads a text classification data set from a CSV, TSV or JSONL file.
 *
 * CSV/TSV files need a header row naming the columns; JSONL files hold one
 * JSON object per line (blank lines are skipped). Every row needs a
 * non-empty text and, for single-label data, a non-empty label (labels are
 * trimmed; JSON numbers are taken as their decimal text). Multi-label rows
 * list their labels separated by `labelSeparator` in CSV, or as a JSON array
 * in JSONL; a row may have none. Files are UTF-8; in CSV, `\r\n` line ends
 * become `\n`, also inside quoted fields.
 *
 * The label names are the distinct labels of the training file, sorted; a
 * label of the test file (`testPath`) that the training file lacks is an
 * error. Without `testPath`, `testFraction` is held out by a hash of the row
 * number (stratified by class for single-label data).
 *
 * @param trainPath the training file (or the whole data set, without `testPath`)
 * @param opts columns, multi-label, test file or fraction, format, name
 * @returns a `TextDataset`, or with `multiLabel: true` a
 *   `MultiLabelTextDataset` whose `ids` are the row numbers in their file
 * @throws {DataError} `missing` when a file does not exist; `format` naming
 *   the file and the row or line when it cannot be parsed, a column is
 *   missing, a text or label is empty, or a test label is unknown
 */
export function loadTextTable(
  trainPath: string,
  opts: TextTableOptions & { readonly multiLabel: true },
): Promise<MultiLabelTextDataset>;
export function loadTextTable(
  trainPath: string,
  opts?: TextTableOptions & { readonly multiLabel?: false | undefined },
): Promise<TextDataset>;
export function loadTextTable(
  trainPath: string,
  opts?: TextTableOptions,
): Promise<TextDataset | MultiLabelTextDataset>;
export async function loadTextTable(
  trainPath: string,
  opts: TextTableOptions = {},
): Promise<TextDataset | MultiLabelTextDataset> {
  const spec: TableSpec = {
    format: formatOf(trainPath, opts.format),
    textColumn: opts.textColumn ?? "text",
    labelColumn: opts.labelColumn ?? "label",
    multiLabel: opts.multiLabel === true,
    separator: opts.labelSeparator ?? "|",
  };
  if (spec.separator === "") throw new RangeError("labelSeparator must not be empty");
  const fraction = opts.testPath === undefined ? checkTestFraction(opts.testFraction) : undefined;
  const trainFile = await readUserFile(trainPath, "training file");
  const testFile = opts.testPath === undefined ? undefined : await readUserFile(opts.testPath, "test file");
  const trainRows = readRows(trainFile, spec);
  if (trainRows.length === 0) userFormatError(trainPath, "it holds no rows");
  const labelNames = [...new Set(trainRows.flatMap((r) => r.labels))].sort(compareStrings);
  const labelIndex = new Map(labelNames.map((l, i) => [l, i]));
  let trainPart: readonly Row[];
  let testPart: readonly Row[];
  if (testFile !== undefined) {
    testPart = readRows(testFile, spec);
    for (const r of testPart) {
      const unknown = r.labels.find((l) => !labelIndex.has(l));
      if (unknown !== undefined) {
        userFormatError(
          testFile.path,
          `${at(r.row, r.line, spec.format)} has the label "${unknown}", which the training file ${trainPath} ` +
            "does not have",
        );
      }
    }
    trainPart = trainRows;
  } else {
    const groups = spec.multiLabel ? undefined : trainRows.map((r) => labelIndex.get(r.labels[0]!)!);
    const mask = holdOutMask(trainRows.map((r) => String(r.row)), groups, fraction!);
    trainPart = trainRows.filter((_, i) => mask[i] === 0);
    testPart = trainRows.filter((_, i) => mask[i] === 1);
  }
  const files = testFile === undefined ? [trainFile] : [trainFile, testFile];
  const described = describeUserFiles(files);
  const params: Record<string, string | number | boolean> = {
    loader: "text-table/1",
    format: spec.format,
    textColumn: spec.textColumn,
    labelColumn: spec.labelColumn,
    multiLabel: spec.multiLabel,
    train: trainFile.sha256,
  };
  if (spec.multiLabel && spec.format !== "jsonl") params.labelSeparator = spec.separator;
  if (testFile !== undefined) params.test = testFile.sha256;
  else params.testFraction = fraction!;
  const name = opts.name ?? stripExtension(baseName(trainPath));
  const contentHash = await computeContentHash("text-table", params, described);
  if (!spec.multiLabel) {
    const split = (rows: readonly Row[]) => ({
      texts: rows.map((r) => r.text),
      y: Int32Array.from(rows, (r) => labelIndex.get(r.labels[0]!)!),
    });
    return {
      kind: "text",
      name,
      train: split(trainPart),
      test: split(testPart),
      labelNames,
      contentHash,
      files: described,
    };
  }
  const L = labelNames.length;
  const split = (rows: readonly Row[]) => {
    const y = new Uint8Array(rows.length * L);
    rows.forEach((r, i) => {
      for (const l of r.labels) y[i * L + labelIndex.get(l)!] = 1;
    });
    return { texts: rows.map((r) => r.text), y, ids: Int32Array.from(rows, (r) => r.row) };
  };
  return {
    kind: "multilabel",
    name,
    train: split(trainPart),
    test: split(testPart),
    labelNames,
    contentHash,
    files: described,
  };
}
