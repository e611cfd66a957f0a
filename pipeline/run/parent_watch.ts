/**
 * Stops this process when the process that launched it is gone.
 *
 * `deno task exp …` runs the experiment as a child process (`deno run -A
 * pipeline/cli/cli.ts`); killing the `deno task` process with SIGKILL leaves that
 * child running, still writing its results folder. {@link exitWhenOrphaned}
 * polls `Deno.ppid` (the live parent pid): when it changes (the child was
 * reparented to init or a subreaper), it prints one line on stderr, runs the
 * cleanup it was given (e.g. releasing the results lock) and exits with code 1.
 *
 * The poll timer is unref'd, so it never keeps the process alive; like any
 * timer it fires only when the event loop turns, so a long synchronous stretch
 * delays the exit to its end. A parent that dies before the watch starts is not
 * seen (the watch compares with the parent pid it finds at its start).
 *
 * @module
 */

/** Options of {@link exitWhenOrphaned}. */
export interface OrphanWatchOptions {
  /** How often to look at the parent pid (default 250 ms). */
  readonly intervalMs?: number;
  /**
   * Run before exiting; its errors are ignored. Best synchronous (then nothing
   * else of this process runs between it and the exit); a promise it returns is
   * awaited at most `cleanupTimeoutMs`.
   */
  readonly cleanup?: () => unknown;
  /** The most time `cleanup` gets (default 5 000 ms). */
  readonly cleanupTimeoutMs?: number;
}

/** The line printed on stderr before exiting. */
export const ORPHANED_MESSAGE = "dbal: the launching process is gone; stopping";

/**
 * Exits (code 1) soon after this process's parent dies.
 *
 * @param opts see {@link OrphanWatchOptions}
 * @returns stops the watch (idempotent)
 */
export function exitWhenOrphaned(opts: OrphanWatchOptions = {}): () => void {
  const parent = Deno.ppid;
  let stopped = false;
  const timer = setInterval(() => {
    if (!stopped && Deno.ppid !== parent) void stopNow();
  }, opts.intervalMs ?? 250);
  Deno.unrefTimer(timer);
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  const stopNow = async () => {
    stop();
    try {
      console.error(ORPHANED_MESSAGE);
    } catch {
      // stderr may be a pipe whose reader died with the parent
    }
    let pending: unknown;
    try {
      pending = opts.cleanup?.();
    } catch {
      // exit all the same
    }
    if (pending instanceof Promise) {
      const limit = opts.cleanupTimeoutMs ?? 5_000;
      await Promise.race([pending.catch(() => {}), new Promise((resolve) => setTimeout(resolve, limit))]);
    }
    Deno.exit(1);
  };
  return stop;
}
