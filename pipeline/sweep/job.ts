/**
 * A sweep's unit of work and what comes back from it.
 *
 * A **job** is one run of an experiment (a strategy × seed × grid point):
 * the experiment file, the selection flags that decide its numbers, the
 * run's index among the experiment's runs, and the hash of the code that
 * made the job. Whatever executes it (a local worker process, a queue
 * worker on another machine, a SLURM array task), a job is run by
 * `runJob` in `pipeline/cli/worker.ts` with the same interpreter as a
 * one-process run, so its records are the same. The submitter writes the
 * results folder from the jobs' results, in run order; workers never write
 * it.
 *
 * Jobs travel as JSON (through a pipe, Redis, or a file) and are decoded
 * strictly on arrival.
 *
 * @module
 */
import * as t from "io-ts";
import { isLeft } from "fp-ts/Either.js";
import { formatDecodeErrors, strictFields } from "../../dsl/codecs.ts";
import { sha256HexOfText } from "../run/cache/_sha256.ts";

const selectionCodec = strictFields(t.intersection([
  t.type({
    file: t.string,
    full: t.boolean,
    backend: t.string,
    refresh: t.array(t.string),
  }),
  t.partial({
    exportName: t.string,
    part: t.number,
    seeds: t.array(t.number),
    rounds: t.number,
  }),
]));

/** The codec of a job (the format version is `v`). */
export const JobCodec = strictFields(t.type({
  v: t.literal(1),
  /** The sweep it belongs to: the hash of its experiment selection and code. */
  sweep: t.string,
  /** The run's index among the experiment's runs. */
  index: t.number,
  /** How many runs the experiment has (the submitter's count). */
  count: t.number,
  /** The run's label ("bald seed 0"). */
  label: t.string,
  /** The experiment's name (progress lines). */
  experiment: t.string,
  selection: selectionCodec,
  /** sha256 of the experiment file's module graph and the library's (see `experimentCodeHash`). */
  codeHash: t.string,
}));

/** One job of a sweep. */
export type Job = t.TypeOf<typeof JobCodec>;

const countsCodec = t.record(t.string, t.number);

/** The codec of a job's result. */
export const JobResultCodec = strictFields(t.type({
  v: t.literal(1),
  sweep: t.string,
  index: t.number,
  /** The run's records, in round order (`RoundRecord`s). */
  records: t.array(t.UnknownRecord),
  executed: countsCodec,
  hits: countsCodec,
  seconds: countsCodec,
  dataKey: t.string,
  wallSeconds: t.number,
  worker: strictFields(t.type({ id: t.string, host: t.string, pid: t.number, backend: t.string, threads: t.number })),
}));

/** What a job gives back. */
export type JobResult = t.TypeOf<typeof JobResultCodec>;

/**
 * Decodes a job or a result that arrived from outside.
 *
 * @param codec {@link JobCodec} or {@link JobResultCodec}
 * @param value the parsed JSON
 * @param where where it came from, for the message
 * @returns the value
 * @throws Error naming every bad field
 */
export function decodeOrThrow<A>(codec: t.Type<A, unknown, unknown>, value: unknown, where: string): A {
  const decoded = codec.decode(value);
  if (isLeft(decoded)) {
    throw new Error(`${where}: not a valid ${codec.name}: ${formatDecodeErrors(decoded.left).join("; ")}`);
  }
  return decoded.right;
}

/**
 * Makes the jobs of a sweep: one per run, all carrying the same selection and code hash.
 *
 * @param experiment the experiment's name
 * @param runs the runs' labels, in order
 * @param selection the flags that decide the numbers
 * @param codeHash the submitter's code hash
 * @returns the jobs, in run order
 */
export async function makeJobs(
  experiment: string,
  runs: readonly string[],
  selection: Job["selection"],
  codeHash: string,
): Promise<Job[]> {
  const sweep = (await sha256HexOfText(JSON.stringify({ experiment, selection, codeHash, runs }))).slice(0, 16);
  return runs.map((label, index) => ({
    v: 1,
    sweep,
    index,
    count: runs.length,
    label,
    experiment,
    selection,
    codeHash,
  }));
}

/** Counters summed over jobs' results. */
export function sumCounts(results: readonly JobResult[], key: "executed" | "hits" | "seconds"): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) for (const [k, n] of Object.entries(r[key])) out[k] = (out[k] ?? 0) + n;
  return out;
}
