/**
 * The embedded executor: a pool of worker processes on this machine
 * (`deno task exp … --workers N`, the default with one per core).
 *
 * Each worker is `deno task worker --stdio`: a long-lived process fed one
 * job at a time through its stdin, answering through its stdout (lines that
 * start with {@link MARK}; anything else a user's code prints there is passed
 * on to stderr). Jobs go to whichever worker is free, so short runs do not
 * wait behind long ones. A worker that dies mid-job (killed, out of memory)
 * is replaced and its job given to the next free worker, up to `attempts`
 * times; a job that fails (a stage's error, bad data) fails the sweep with
 * its message at once, since running it again would fail the same way.
 *
 * @module
 */
import { decodeOrThrow, type Job, JobCodec, type JobResult, JobResultCodec } from "./job.ts";
import type { RoundRecord } from "../run/results.ts";

/** The start of every protocol line on a stdio worker's stdout. */
export const MARK = "\u001edbal ";

type WorkerMessage =
  | { readonly type: "round"; readonly index: number; readonly record: RoundRecord }
  | { readonly type: "done"; readonly result: unknown }
  | { readonly type: "failed"; readonly index: number; readonly message: string };

/**
 * Splits a byte stream into lines (without their newlines).
 *
 * @param stream the bytes, UTF-8
 * @returns each line as it is complete, then the unterminated rest if any
 */
export async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, nl);
      rest = rest.slice(nl + 1);
    }
  }
  if (rest !== "") yield rest;
}

/**
 * The worker side: reads jobs (one JSON per line) from stdin until it
 * closes, runs each, and reports rounds and the result on stdout.
 *
 * @param run runs a job (`runJob`)
 */
export async function serveStdio(
  run: (job: Job, onRound: (record: RoundRecord) => void) => Promise<JobResult>,
): Promise<void> {
  const out = (m: WorkerMessage) => Deno.stdout.writeSync(new TextEncoder().encode(MARK + JSON.stringify(m) + "\n"));
  for await (const line of lines(Deno.stdin.readable)) {
    if (line.trim() === "") continue;
    let job: Job;
    try {
      job = decodeOrThrow(JobCodec, JSON.parse(line), "stdin");
    } catch (e) {
      out({ type: "failed", index: -1, message: (e as Error).message });
      continue;
    }
    try {
      const result = await run(job, (record) => out({ type: "round", index: job.index, record }));
      out({ type: "done", result });
    } catch (e) {
      out({ type: "failed", index: job.index, message: (e as Error).message });
    }
  }
}

/** Options of {@link runLocalPool}. */
export interface LocalPoolOptions {
  /** How many worker processes. */
  readonly workers: number;
  /** The worker's command line after `deno`: `run -A …/worker.ts --stdio` and its machine flags. */
  readonly command: (id: string) => string[];
  /** Extra environment of the workers (e.g. `DBAL_WASM_THREADS=1`). */
  readonly env?: Record<string, string>;
  /** How many times a job is started before a dying worker fails the sweep (default 3). */
  readonly attempts?: number;
  readonly onRound?: (job: Job, record: RoundRecord, worker: string) => void;
  /** Told when a job has its result (awaited before the worker gets its next job). */
  readonly onDone?: (job: Job, result: JobResult) => void | Promise<void>;
  /** Told when a worker died and its job goes back to the pool. */
  readonly onRetry?: (job: Job, worker: string, why: string) => void;
  /** Told when a worker process starts (tests kill one). */
  readonly onSpawn?: (worker: string, pid: number) => void;
  /** Receives each line of the workers' stderr (default: their stderr is this process's). */
  readonly onStderr?: (worker: string, line: string) => void;
  /** Told when a worker process has exited. */
  readonly onExit?: (worker: string) => void;
}

/**
 * Runs jobs on a pool of local worker processes.
 *
 * @param jobs the sweep's jobs
 * @param opts pool size, worker command, callbacks
 * @returns the results, in the jobs' order
 * @throws Error with the failing job's message, or when a job's workers kept dying
 */
export async function runLocalPool(jobs: readonly Job[], opts: LocalPoolOptions): Promise<JobResult[]> {
  const attempts = opts.attempts ?? 3;
  const pending = [...jobs];
  const tries = new Map<number, number>();
  // By position in `jobs` (a sweep may hand over only some of its runs: their indices have gaps).
  const position = new Map(jobs.map((job, p) => [job.index, p]));
  const results: (JobResult | undefined)[] = jobs.map(() => undefined);
  const children = new Set<Deno.ChildProcess>();
  let failure: Error | undefined;
  let spawned = 0;
  const stopAll = () => {
    for (const c of children) {
      try {
        c.kill("SIGTERM");
      } catch {
        // gone
      }
    }
  };
  const fail = (e: Error) => {
    failure ??= e;
    stopAll();
  };

  const worker = async (slot: number): Promise<void> => {
    while (pending.length > 0 && failure === undefined) {
      const id = `w${slot}${spawned >= opts.workers ? `.${spawned}` : ""}`;
      spawned++;
      const child = new Deno.Command(Deno.execPath(), {
        args: opts.command(id),
        ...(opts.env ? { env: opts.env } : {}),
        stdin: "piped",
        stdout: "piped",
        stderr: opts.onStderr ? "piped" : "inherit",
      }).spawn();
      children.add(child);
      const relayed = opts.onStderr
        ? (async () => {
          for await (const line of lines(child.stderr)) opts.onStderr?.(id, line);
        })().catch(() => {})
        : Promise.resolve();
      opts.onSpawn?.(id, child.pid);
      const writer = child.stdin.getWriter();
      const messages = lines(child.stdout);
      let job: Job | undefined;
      try {
        while (failure === undefined && (job = pending.shift()) !== undefined) {
          tries.set(job.index, (tries.get(job.index) ?? 0) + 1);
          await writer.write(new TextEncoder().encode(JSON.stringify(job) + "\n"));
          const outcome = await follow(messages, job, id);
          if (outcome.kind === "done") {
            results[position.get(job.index) ?? -1] = outcome.result;
            try {
              await opts.onDone?.(job, outcome.result);
            } catch (e) {
              fail(e as Error);
            }
            job = undefined;
          } else if (outcome.kind === "failed") {
            fail(new Error(outcome.message));
            job = undefined;
          } else break; // the worker died
        }
      } catch {
        // the pipe broke: the worker died
      }
      await writer.close().catch(() => {});
      const status = await child.status;
      await relayed;
      children.delete(child);
      opts.onExit?.(id);
      if (job !== undefined && failure === undefined) {
        const why = `worker ${id} ${status.signal ? `was killed (${status.signal})` : `exited (${status.code})`}`;
        if ((tries.get(job.index) ?? 0) >= attempts) {
          fail(new Error(`job ${job.index + 1}/${job.count} (${job.label}): ${why} on each of ${attempts} tries`));
        } else {
          opts.onRetry?.(job, id, why);
          pending.unshift(job);
        }
      }
    }
  };

  const follow = async (
    messages: AsyncGenerator<string>,
    job: Job,
    id: string,
  ): Promise<{ kind: "done"; result: JobResult } | { kind: "failed"; message: string } | { kind: "died" }> => {
    for (;;) {
      const next = await messages.next();
      if (next.done) return { kind: "died" };
      if (!next.value.startsWith(MARK)) {
        if (opts.onStderr) opts.onStderr(id, next.value); // a user's code printed to stdout
        else console.error(next.value);
        continue;
      }
      const m = JSON.parse(next.value.slice(MARK.length)) as WorkerMessage;
      if (m.type === "round") opts.onRound?.(job, m.record, id);
      else if (m.type === "done") {
        return { kind: "done", result: decodeOrThrow(JobResultCodec, m.result, `worker ${id}`) };
      } else return { kind: "failed", message: m.message };
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.min(opts.workers, jobs.length) }, (_, k) => worker(k)));
  } finally {
    stopAll();
  }
  if (failure) throw failure;
  return results.map((r, i) => {
    if (!r) throw new Error(`job ${(jobs[i]?.index ?? i) + 1} has no result`);
    return r;
  });
}
