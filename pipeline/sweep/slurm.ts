/**
 * The cluster executor: a SLURM job array (`deno task exp … --executor slurm`).
 *
 * The submitter writes, in `<results>/.sweep/`:
 * - `jobs.json`: the sweep's jobs, one per run;
 * - `array.sh`: an `sbatch` script whose array task K runs
 *   `deno task worker --jobs jobs.json --task $SLURM_ARRAY_TASK_ID` on the
 *   shared cache; its result goes to `results/K.json` (written through a
 *   temporary file and a rename, so a killed task leaves nothing half
 *   written, and a task whose result exists does nothing: resubmitting the
 *   array reruns only what is missing);
 * - with `--submit`, it submits the array (`sbatch --parsable`) and waits for
 *   the results; without, it prints the `sbatch` command, and
 *   `deno task exp … --executor slurm --attach` writes the results folder
 *   once every task has finished.
 *
 * Tasks write only their own result file; the results folder itself is
 * written by the submitter alone.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { decodeOrThrow, type Job, JobCodec, type JobResult, JobResultCodec } from "./job.ts";
import { writeTextAtomic } from "../run/results.ts";

/** Where a sweep's files go inside the results folder. */
export function sweepDir(outDir: string): string {
  return `${outDir}/.sweep`;
}

/** Options of {@link writeArray}. */
export interface ArrayOptions {
  /** The worker's command line (absolute paths), before `--jobs`. */
  readonly worker: readonly string[];
  /** The directory tasks start in (the checkout). */
  readonly cwd: string;
  /** Lines added as `#SBATCH <line>` (from `--sbatch`, e.g. `partition=gpu`, written `#SBATCH --partition=gpu`). */
  readonly sbatch: readonly string[];
  /** The job array's name. */
  readonly name: string;
}

const quote = (s: string) => /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * Writes `jobs.json` and `array.sh` for a sweep.
 *
 * @param dir the sweep's folder ({@link sweepDir})
 * @param jobs its jobs
 * @param opts the worker command, working directory and `#SBATCH` lines
 * @returns the path of `array.sh`
 */
export async function writeArray(dir: string, jobs: readonly Job[], opts: ArrayOptions): Promise<string> {
  const abs = resolve(dir);
  await Deno.mkdir(`${abs}/results`, { recursive: true });
  await Deno.mkdir(`${abs}/logs`, { recursive: true });
  await writeTextAtomic(`${abs}/jobs.json`, JSON.stringify(jobs, null, 1) + "\n");
  const script = [
    "#!/bin/bash",
    `#SBATCH --job-name=${quote(`dbal-${opts.name}`)}`,
    `#SBATCH --array=0-${jobs.length - 1}`,
    `#SBATCH --output=${quote(`${abs}/logs/%a.log`)}`,
    "#SBATCH --ntasks=1",
    ...opts.sbatch.map((line) => `#SBATCH ${line.startsWith("-") ? line : `--${line}`}`),
    "# Written by deno task exp --executor slurm: task K runs job K of jobs.json on the shared cache.",
    "set -eu",
    `cd ${quote(opts.cwd)}`,
    `exec ${[...opts.worker, "--jobs", `${abs}/jobs.json`].map(quote).join(" ")} --task "$SLURM_ARRAY_TASK_ID"`,
    "",
  ].join("\n");
  await writeTextAtomic(`${abs}/array.sh`, script);
  await Deno.chmod(`${abs}/array.sh`, 0o755);
  return `${abs}/array.sh`;
}

/**
 * One array task: runs job `task` of the jobs file and writes its result
 * (nothing when the result is there already).
 *
 * @param file `jobs.json`
 * @param task the task's index
 * @param run runs a job
 */
export async function runJobFileTask(
  file: string,
  task: number,
  run: (job: Job) => Promise<JobResult>,
): Promise<void> {
  const list = JSON.parse(await Deno.readTextFile(file)) as unknown;
  if (!Array.isArray(list)) throw new Error(`${file}: expected a list of jobs`);
  if (task < 0 || task >= list.length) throw new Error(`${file}: task ${task} is out of range (0..${list.length - 1})`);
  const job = decodeOrThrow(JobCodec, list[task], `${file}[${task}]`);
  const out = `${dirname(file)}/results/${task}.json`;
  if (await Deno.stat(out).then(() => true, () => false)) {
    console.error(`task ${task}: its result is already in ${out}; nothing to do`);
    return;
  }
  const result = await run(job);
  await Deno.mkdir(dirname(out), { recursive: true });
  await writeTextAtomic(out, JSON.stringify(result) + "\n");
}

/**
 * The results of a sweep's tasks so far.
 *
 * @param dir the sweep's folder
 * @param jobs its jobs
 * @returns each job's result, or undefined where its task has not finished
 */
export async function readArrayResults(dir: string, jobs: readonly Job[]): Promise<(JobResult | undefined)[]> {
  return await Promise.all(jobs.map(async (job) => {
    const path = `${dir}/results/${job.index}.json`;
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch {
      return undefined;
    }
    const result = decodeOrThrow(JobResultCodec, JSON.parse(text), path);
    if (result.sweep !== job.sweep) throw new Error(`${path}: the result of another sweep (${result.sweep})`);
    return result;
  }));
}
