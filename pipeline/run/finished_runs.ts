/**
 * The finished-runs ledger of a results folder: `finished-runs.jsonl`, one
 * line per run that has finished, with the run's key and its round records.
 *
 * A study that outlives a session is resumed on whatever machine the next
 * session gets, and the stage cache of the last machine may be gone; the
 * results folder is what travels (it is committed as the study goes). So the
 * runner appends each run to this ledger the moment it finishes, and a later
 * run of the same experiment into the same folder takes a run's records from
 * it, instead of running it, when the run's key is the same.
 *
 * A run's key ({@link runKey}) is the hash of the keys of every step its
 * rounds would evaluate, in order, so it covers what the stage keys cover
 * (params, seeds, code, backend, kernel set, data) for every round: a changed
 * stage, seed or round count changes it, and the run is run again. The ledger
 * is removed once the results folder's `rounds.jsonl` is written.
 *
 * A run killed while appending leaves at most a torn last line; it is
 * dropped (with a warning) on the next read, and nothing finished is lost.
 *
 * @module
 */
import { sha256HexOfText } from "./cache/_sha256.ts";
import type { RoundRecord } from "./results.ts";

/** The ledger's file name inside a results folder. */
export const FINISHED_RUNS_FILE = "finished-runs.jsonl";

/** One line of the ledger. */
export interface FinishedRun {
  /** The format version. */
  readonly v: 1;
  /** {@link runKey} of the run. */
  readonly runKey: string;
  /** The run's label ("bald seed 0"), for people reading the file. */
  readonly label: string;
  /** The run's records, in round order. */
  readonly records: readonly RoundRecord[];
  /** How long the run took where it ran. */
  readonly wallSeconds: number;
}

/**
 * The key of a run: sha256 of its label and the keys of each round's steps.
 *
 * @param label the run's label
 * @param roundKeys for each round, the keys of the steps its record is read from
 * @returns 64 hex digits
 */
export function runKey(label: string, roundKeys: readonly (readonly string[])[]): Promise<string> {
  return sha256HexOfText(JSON.stringify({ v: 1, label, rounds: roundKeys }));
}

/**
 * Reads a results folder's ledger.
 *
 * @param dir the results folder
 * @param warn told about a torn last line (dropped)
 * @returns the finished runs by run key; empty when there is no ledger
 * @throws Error naming the file and line of a line that is not a ledger entry
 */
export async function readFinishedRuns(
  dir: string,
  warn: (message: string) => void = () => {},
): Promise<Map<string, FinishedRun>> {
  const path = `${dir}/${FINISHED_RUNS_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return new Map();
    throw e;
  }
  const lines = text.split("\n");
  const torn = lines.pop(); // after the last newline: "" unless a write was cut short
  if (torn !== undefined && torn.trim() !== "") {
    warn(`${path}:${lines.length + 1}: an unfinished last line (a run killed while writing it); it is dropped`);
    await Deno.writeTextFile(`${path}.${Deno.pid}.tmp`, lines.map((l) => l + "\n").join(""));
    await Deno.rename(`${path}.${Deno.pid}.tmp`, path);
  }
  const runs = new Map<string, FinishedRun>();
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "") continue;
    const where = `${path}:${i + 1}`;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch (e) {
      throw new Error(`${where}: malformed JSON line (${(e as Error).message})`);
    }
    runs.set(checkEntry(entry, where).runKey, entry as FinishedRun);
  }
  return runs;
}

function checkEntry(entry: unknown, where: string): FinishedRun {
  const e = entry as Partial<FinishedRun> | null;
  const bad = (field: string, want: string) => new Error(`${where}: field "${field}" must be ${want}`);
  if (typeof e !== "object" || e === null || Array.isArray(e)) throw new Error(`${where}: not a JSON object`);
  if (e.v !== 1) throw bad("v", "1 (the ledger's format version)");
  if (typeof e.runKey !== "string" || !/^[0-9a-f]{64}$/.test(e.runKey)) throw bad("runKey", "64 hex digits");
  if (typeof e.label !== "string") throw bad("label", "a string");
  if (typeof e.wallSeconds !== "number") throw bad("wallSeconds", "a number");
  if (!Array.isArray(e.records) || e.records.length === 0) throw bad("records", "a non-empty list of round records");
  for (const [k, r] of e.records.entries()) {
    const rec = r as Partial<RoundRecord> | null;
    if (typeof rec !== "object" || rec === null || typeof rec.round !== "number" || typeof rec.accuracy !== "number") {
      throw bad(`records[${k}]`, "a round record (with round and accuracy)");
    }
  }
  return e as FinishedRun;
}

/**
 * Appends a finished run to a results folder's ledger (one write of one line).
 *
 * @param dir the results folder (created if missing)
 * @param run the entry
 */
export async function appendFinishedRun(dir: string, run: Omit<FinishedRun, "v">): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const entry: FinishedRun = { v: 1, ...run };
  await Deno.writeTextFile(`${dir}/${FINISHED_RUNS_FILE}`, JSON.stringify(entry) + "\n", { append: true });
}
