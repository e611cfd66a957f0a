/**
 * The whole sweep's progress, whatever executes its jobs: rounds and runs
 * done over all workers, with an ETA from the rounds' rate so far. Each
 * worker prints its own lines (prefixed with its name); this adds one line
 * for the sweep at most every `intervalMs`, and always when a run ends.
 *
 * @module
 */
import { formatDuration, type Progress } from "../run/progress.ts";

/** Counts a sweep's rounds and runs; see the module doc. */
export class SweepProgress {
  #total: number;
  #runs = 0;
  #last = -Infinity;
  readonly #t0 = performance.now();
  /** Rounds counted per job (a job retried elsewhere starts again from 0). */
  readonly #counted = new Map<number, number>();
  readonly #workers = new Set<string>();

  /**
   * @param progress where lines go
   * @param plannedRounds each job's planned rounds (stop rules may end a run sooner)
   * @param intervalMs the least time between two round lines
   * @param restored jobs not run because their results were already there
   *   (their planned rounds given as 0): counted as done runs, not in the rate
   */
  constructor(
    readonly progress: Progress,
    readonly plannedRounds: readonly number[],
    readonly intervalMs = 10_000,
    restored: ReadonlySet<number> = new Set(),
  ) {
    this.#total = plannedRounds.reduce((a, b, i) => a + (restored.has(i) ? 0 : b), 0);
    this.#runs = restored.size;
  }

  /** Rounds done over all jobs. */
  get rounds(): number {
    let n = 0;
    for (const c of this.#counted.values()) n += c;
    return n;
  }

  /** The sweep's line now: "sweep: 14/630 rounds, 1/6 runs, 2 workers, 3m elapsed, ETA 12m". */
  line(): string {
    const done = this.rounds;
    const elapsed = (performance.now() - this.#t0) / 1000;
    const eta = done > 0 ? formatDuration((elapsed / done) * Math.max(0, this.#total - done)) : "?";
    return `sweep: ${done}/${this.#total} rounds, ${this.#runs}/${this.plannedRounds.length} runs, ` +
      `${this.#workers.size} worker(s), ${formatDuration(elapsed)} elapsed, ETA ${eta}`;
  }

  /** Round `round` (0-based) of job `index` is done, by `worker`. */
  round(index: number, round: number, worker: string): void {
    this.#workers.add(worker);
    this.#counted.set(index, Math.max(this.#counted.get(index) ?? 0, round + 1));
    if (performance.now() - this.#last >= this.intervalMs) this.#print();
  }

  /** Job `index` started again from its first round (its worker died; the queue or pool retries it). */
  restarted(index: number): void {
    this.#counted.delete(index);
  }

  /** Job `index` is done with `rounds` rounds (fewer than planned when a stop rule fired). */
  runDone(index: number, rounds: number, worker: string): void {
    this.#workers.add(worker);
    this.#runs++;
    this.#total -= Math.max(0, (this.plannedRounds[index] ?? rounds) - rounds);
    this.#counted.set(index, rounds);
    this.#print();
  }

  #print(): void {
    this.#last = performance.now();
    this.progress.line(this.line());
  }
}
