/**
 * One run at a time per results folder.
 *
 * `lockResultsDir(dir)` creates `dir` and takes an exclusive lock on it: the
 * file `dir/.run.lock`, holding who took it (`{pid, host, since, start, token}`).
 * `release()` removes it (and `dir` too, if the lock created it and nothing was
 * written there: a run that fails early leaves no empty folder).
 * A second run fails at once with a {@link ResultsBusyError} naming the holder,
 * or with `wait: true` polls until the folder is free. A lock never outlives its
 * holder for long:
 *
 * - same host: taken over at once when the holder's pid no longer exists (or is
 *   a zombie, or is a new process that reused the pid: the start time in
 *   `/proc/<pid>/stat` differs);
 * - another host (a shared file system): the holder touches the file every
 *   `heartbeatMs` (5 s); a lock whose mtime is older than `staleMs` (30 s) is
 *   taken over. On the same host the pid alone decides, so a live run whose
 *   event loop is busy for longer than that keeps its lock.
 *
 * Atomicity: the record is written to a private temporary file, then
 * hard-linked to `.run.lock` (`link` fails if the name exists, so exactly one
 * racer wins, and the file never appears empty); on a file system without hard
 * links, `Deno.open(path, { createNew: true })` is the fallback (then a reader may
 * see an empty file for an instant, which counts as held until `staleMs`).
 * Removing a lock (a takeover, or `release`) happens only under a second,
 * short-lived exclusive file, `.run.lock.guard`, after checking that the lock's
 * contents are still what was judged: so two racers taking over one dead lock
 * cannot remove each other's new lock, and a process never removes a lock it
 * does not hold. The holder's heartbeat also checks that the file is still its
 * own and reports `onCompromised` otherwise.
 *
 * Why not npm `proper-lockfile` (4.1.2)? It does work under Deno's npm
 * compatibility (tried: lock, `ELOCKED` for a second taker, release, takeover
 * after `stale` when the holder was killed with SIGKILL, and its signal-exit hook
 * removing the lock on SIGINT). But what is asked here would be built around it
 * rather than on it: its lock is an empty directory removed with `rmdir`, so the
 * holder's pid, host and start time (for the message and the dead-pid check)
 * would live in a second file that is not atomic with the lock; its only
 * staleness is mtime, which on the same host would take the lock from a live run
 * whose event loop is blocked for `stale` ms, so its stale handling would have to
 * be turned off and redone here; and its stale takeover (`rmdir`, then `mkdir`)
 * lets two racers both believe they hold the lock until the next heartbeat. What
 * would remain of it is `mkdir` and a heartbeat timer, plus three dependencies
 * (signal-exit among them, which hooks some fifteen signals of the process).
 *
 * @module
 */
import process from "node:process";

/** The lock's file name inside the results folder. */
export const LOCK_FILE = ".run.lock";

/** Who holds a lock: the contents of `.run.lock`. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** When the lock was taken (ISO 8601, seconds). */
  readonly since: string;
  /** The process's start time (`/proc/<pid>/stat` field 22) where known, to tell a reused pid. */
  readonly start?: string;
  /** Unique per acquisition: tells this lock from a later one of the same process. */
  readonly token: string;
}

/** A results folder is locked by a run that is alive (or whose heartbeat is not yet stale). */
export class ResultsBusyError extends Error {
  /**
   * @param dir the folder
   * @param holder who holds it, when its record could be read
   */
  constructor(readonly dir: string, readonly holder: LockHolder | undefined) {
    super(
      `results folder ${dir} is in use by another run (${describeHolder(holder)}); ` +
        "wait for it to finish or choose another folder with --out",
    );
    this.name = "ResultsBusyError";
  }
}

/** Options of {@link lockResultsDir}. */
export interface ResultsLockOptions {
  /** Poll until the folder is free instead of failing (default false). */
  readonly wait?: boolean;
  /** Poll interval with `wait` (default 500 ms). */
  readonly pollMs?: number;
  /** A lock from another host whose mtime is older than this is taken over (default 30 000 ms). */
  readonly staleMs?: number;
  /** How often this holder touches its lock file (default 5 000 ms; keep it well under other runs' `staleMs`). */
  readonly heartbeatMs?: number;
  /** Told when a dead run's lock is taken over (default: a `WARNING` line on stderr). */
  readonly onWarning?: (message: string) => void;
  /** Told when this holder finds its lock file gone or replaced (default: `onWarning`). */
  readonly onCompromised?: (message: string) => void;
}

/** A held lock. `await using lock = await lockResultsDir(dir)` releases it at the end of the block. */
export interface ResultsLock extends AsyncDisposable {
  /** The locked folder, as given. */
  readonly dir: string;
  /** The lock file. */
  readonly path: string;
  /** This lock's record. */
  readonly holder: LockHolder;
  /**
   * Removes the lock file if it is still this lock's, and the folder too if this
   * lock created it and it is empty; later calls do nothing.
   */
  release(): Promise<void>;
  /**
   * The same with synchronous file operations, for exit paths (nothing else of
   * this process runs between it and the exit); it skips the guard file, which
   * matters only if another host judges this lock stale in the same microseconds.
   */
  releaseSync(): void;
}

const held = new Set<ResultsLock>();

/**
 * Creates `dir` if needed and locks it for this process.
 *
 * @param dir the results folder
 * @param opts see {@link ResultsLockOptions}
 * @returns the lock; release it with `release()` (or `await using`)
 * @throws ResultsBusyError when another live run holds it (unless `wait`)
 */
export async function lockResultsDir(dir: string, opts: ResultsLockOptions = {}): Promise<ResultsLock> {
  const warn = opts.onWarning ?? ((m: string) => console.error(`WARNING ${m}`));
  const staleMs = opts.staleMs ?? 30_000;
  const host = Deno.hostname();
  const start = processStart(Deno.pid)?.start;
  const created = await Deno.stat(dir).then(() => false, () => true);
  const path = `${dir}/${LOCK_FILE}`;
  for (;;) {
    await Deno.mkdir(dir, { recursive: true }); // each time: a run that released may have removed it
    const holder: LockHolder = {
      pid: Deno.pid,
      host,
      since: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      ...(start !== undefined ? { start } : {}),
      token: crypto.randomUUID(),
    };
    const text = JSON.stringify(holder) + "\n";
    let won: boolean;
    try {
      won = await createExclusive(path, text, holder.token);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue; // the folder was removed meanwhile
      throw e;
    }
    if (won) {
      const beat = opts.heartbeatMs ?? 5_000;
      const lock = new HeldLock(dir, path, holder, text, beat, created, opts.onCompromised ?? warn);
      held.add(lock);
      return lock;
    }
    const seen = await inspect(path);
    if (seen === undefined) continue; // released meanwhile: try again
    const gone = whyGone(seen, host, staleMs);
    if (gone !== undefined) {
      if (await removeIfUnchanged(path, seen.text)) {
        warn(
          `results folder ${dir}: took over the lock of a run that is gone (${describeHolder(seen.holder)}: ${gone})`,
        );
      }
      continue;
    }
    if (!opts.wait) throw new ResultsBusyError(dir, seen.holder);
    await new Promise((resolve) => setTimeout(resolve, opts.pollMs ?? 500));
  }
}

/** Releases every lock this process holds. */
export async function releaseHeldLocks(): Promise<void> {
  await Promise.allSettled([...held].map((lock) => lock.release()));
}

/** Releases every lock this process holds, synchronously: for exit paths (see `parent_watch.ts`). */
export function releaseHeldLocksSync(): void {
  for (const lock of [...held]) lock.releaseSync();
}

class HeldLock implements ResultsLock {
  #text: string;
  #timer: ReturnType<typeof setInterval>;
  #beat: Promise<void> | undefined;
  #released: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    readonly path: string,
    readonly holder: LockHolder,
    text: string,
    heartbeatMs: number,
    private readonly removeDir: boolean,
    private readonly onCompromised: (message: string) => void,
  ) {
    this.#text = text;
    this.#timer = setInterval(() => {
      this.#beat ??= this.#touch().finally(() => this.#beat = undefined);
    }, heartbeatMs);
    Deno.unrefTimer(this.#timer);
  }

  /** Touches the lock file, after checking that it is still this lock's. */
  async #touch(): Promise<void> {
    if (this.#released) return;
    try {
      let now: string | undefined;
      try {
        now = await Deno.readTextFile(this.path);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) return; // transient: next beat
      }
      if (this.#released) return;
      if (now !== this.#text) {
        clearInterval(this.#timer);
        this.onCompromised(
          `results folder ${this.dir}: this run's lock was ${
            now === undefined ? "removed" : "replaced by another run's"
          }; another run may now be writing the same folder`,
        );
        return;
      }
      const t = new Date();
      await Deno.utime(this.path, t, t);
    } catch {
      // transient (e.g. a slow network file system): next beat
    }
  }

  release(): Promise<void> {
    if (this.#released === undefined) {
      clearInterval(this.#timer);
      held.delete(this);
      const beat = this.#beat ?? Promise.resolve();
      this.#released = beat.then(async () => {
        await removeIfUnchanged(this.path, this.#text);
        if (this.removeDir) await Deno.remove(this.dir).catch(() => {}); // only if still empty
      });
    }
    return this.#released;
  }

  releaseSync(): void {
    if (this.#released !== undefined) return;
    clearInterval(this.#timer);
    held.delete(this);
    this.#released = Promise.resolve();
    try {
      if (Deno.readTextFileSync(this.path) === this.#text) Deno.removeSync(this.path);
    } catch {
      // gone already
    }
    if (this.removeDir) {
      try {
        Deno.removeSync(this.dir); // only if still empty
      } catch {
        // not empty
      }
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}

/** "pid 1234 on host h, since …" */
function describeHolder(holder: LockHolder | undefined): string {
  return holder ? `pid ${holder.pid} on host ${holder.host}, since ${holder.since}` : "holder unknown";
}

/** Creates `path` with `text` unless it exists; true when created. */
async function createExclusive(path: string, text: string, token: string): Promise<boolean> {
  const tmp = `${path}.${token}.tmp`;
  await Deno.writeTextFile(tmp, text);
  try {
    await Deno.link(tmp, path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    // No hard links here: exclusive create, then write.
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { createNew: true, write: true });
    } catch (e2) {
      if (e2 instanceof Deno.errors.AlreadyExists) return false;
      throw e2;
    }
    try {
      await file.write(new TextEncoder().encode(text));
    } finally {
      file.close();
    }
    return true;
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

interface Seen {
  readonly text: string;
  readonly holder: LockHolder | undefined;
  readonly mtimeMs: number;
}

/** Reads a lock file; undefined when it does not exist. */
async function inspect(path: string): Promise<Seen | undefined> {
  try {
    const stat = await Deno.stat(path);
    const text = await Deno.readTextFile(path);
    return { text, holder: parseHolder(text), mtimeMs: stat.mtime?.getTime() ?? Date.now() };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (typeof v.pid === "number" && typeof v.host === "string" && typeof v.since === "string") return v as LockHolder;
  } catch {
    // empty (being written) or not ours
  }
  return undefined;
}

/** Why a seen lock's holder is gone, or undefined when it may be alive. */
function whyGone(seen: Seen, host: string, staleMs: number): string | undefined {
  const h = seen.holder;
  if (h !== undefined && h.host === host) {
    const now = processStart(h.pid);
    if (now === undefined) return isAlive(h.pid) ? undefined : `process ${h.pid} no longer exists`;
    if (now.zombie) return `process ${h.pid} has exited`;
    if (h.start !== undefined && now.start !== h.start) return `process ${h.pid} no longer exists (pid reused)`;
    return undefined;
  }
  const age = Date.now() - seen.mtimeMs;
  return age > staleMs ? `no heartbeat for ${Math.round(age / 1000)} s` : undefined;
}

/** Linux: a process's start time and whether it is a zombie; undefined without `/proc/<pid>`. */
function processStart(pid: number): { start: string; zombie: boolean } | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // "pid (comm) state ppid …": comm may hold spaces and parentheses; fields restart after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = fields[19];
    return start === undefined ? undefined : { start, zombie: fields[0] === "Z" || fields[0] === "X" };
  } catch {
    return undefined;
  }
}

/** Whether a pid exists: `/proc/<pid>` where this process sees its own there, else signal 0. */
function isAlive(pid: number): boolean {
  if (processStart(Deno.pid) !== undefined) return false; // /proc works, and /proc/<pid> was missing: gone
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

/**
 * Removes `path` if its contents are still `expected`; true when removed. Every
 * removal of a lock file (a takeover or a release) happens under the guard file
 * `<path>.guard`, and a lock file is only ever created where none exists, so
 * the contents cannot change between the check and the removal.
 */
async function removeIfUnchanged(path: string, expected: string): Promise<boolean> {
  let releaseGuard: (() => Promise<void>) | undefined;
  try {
    releaseGuard = await takeGuard(`${path}.guard`);
    if (await Deno.readTextFile(path) !== expected) return false; // not the one judged: leave it alone
    await Deno.remove(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  } finally {
    await releaseGuard?.();
  }
}

/** A guard older than this whose holder is on another host is broken (it is held for a few file operations). */
const GUARD_STALE_MS = 2_000;

/** Takes the guard file (waiting while a live process holds it); resolves with its release. */
async function takeGuard(guard: string): Promise<() => Promise<void>> {
  const host = Deno.hostname();
  const start = processStart(Deno.pid)?.start;
  for (;;) {
    const token = crypto.randomUUID();
    const record = { pid: Deno.pid, host, since: new Date().toISOString(), ...(start ? { start } : {}), token };
    const text = JSON.stringify(record) + "\n";
    if (await createExclusive(guard, text, token)) {
      return async () => {
        if (await Deno.readTextFile(guard).catch(() => undefined) === text) await Deno.remove(guard).catch(() => {});
      };
    }
    const seen = await inspect(guard);
    if (seen !== undefined && whyGone(seen, host, GUARD_STALE_MS) !== undefined) await breakAside(guard, seen.text);
    else await new Promise((resolve) => setTimeout(resolve, 5 + 20 * Math.random()));
  }
}

/**
 * Removes a dead process's guard file if its contents are still `expected`:
 * renames it to a private name, and puts it back if it turns out to be another
 * (a live) guard. Only a holder dying inside the guard leads here.
 */
async function breakAside(path: string, expected: string): Promise<void> {
  const aside = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.rename(path, aside);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  if (await Deno.readTextFile(aside).catch(() => undefined) !== expected) {
    try {
      await Deno.link(aside, path); // fails if yet another process took the guard meanwhile
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) await Deno.rename(aside, path).catch(() => {});
    }
  }
  await Deno.remove(aside).catch(() => {});
}
