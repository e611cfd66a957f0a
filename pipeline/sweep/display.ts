/**
 * The local pool's progress display. On a terminal: one line per worker (its
 * latest progress line) and the sweep's line below them, redrawn in place;
 * warnings and anything that is not a progress line are printed above the
 * block and stay. Elsewhere (a log file, CI): every line as it comes, each
 * worker's prefixed with its name, and the sweep's line now and then.
 *
 * @module
 */

/** Where the display writes, and whether that is a terminal (and how wide). */
export interface DisplaySink {
  readonly write: (text: string) => void;
  readonly terminal: boolean;
  readonly columns: () => number;
}

/** The default sink: stderr. */
export function stderrSink(): DisplaySink {
  const encoder = new TextEncoder();
  return {
    write: (text) => Deno.stderr.writeSync(encoder.encode(text)),
    terminal: Deno.stderr.isTerminal(),
    columns: () => {
      try {
        const { columns } = Deno.consoleSize();
        return columns >= 20 ? columns : 120; // a pseudo-terminal may report 0
      } catch {
        return 120;
      }
    },
  };
}

/** See the module doc. */
export class SweepDisplay {
  readonly #workers = new Map<string, string>();
  #sweep = "";
  #drawn = 0;
  #last = 0;
  #pending: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly sink: DisplaySink = stderrSink(), readonly intervalMs = 100) {}

  /** Whether workers' lines come through {@link SweepDisplay.worker} (a terminal) or go straight to stderr. */
  get terminal(): boolean {
    return this.sink.terminal;
  }

  /** A line from worker `id`'s stderr. */
  worker(id: string, line: string): void {
    if (!this.terminal) {
      this.sink.write(line + "\n");
      return;
    }
    // Progress lines look like "[experiment w1] ...": anything else (warnings, errors, a user's prints) stays.
    if (!/^\[[^\]]+\] /.test(line) || /WARNING|error/i.test(line)) this.permanent(line);
    else {
      this.#workers.set(id, line);
      this.#schedule();
    }
  }

  /** The sweep's own line (rounds, runs, ETA). */
  sweep(line: string): void {
    if (!this.terminal) {
      this.sink.write(line + "\n");
      return;
    }
    this.#sweep = line;
    this.#schedule();
  }

  /** A line printed above the block, to stay. */
  permanent(line: string): void {
    if (!this.terminal) {
      this.sink.write(line + "\n");
      return;
    }
    this.#draw([line]);
  }

  /** A worker is gone: its line leaves the block. */
  remove(id: string): void {
    this.#workers.delete(id);
    if (this.terminal) this.#schedule();
  }

  /** Draws the block one last time and leaves it on screen. */
  close(): void {
    if (this.#pending !== undefined) clearTimeout(this.#pending);
    this.#pending = undefined;
    if (this.terminal && this.#drawn > 0) this.#draw([]);
    this.#drawn = 0;
  }

  /** The block's lines now (the workers' in name order, then the sweep's), cut to the terminal's width. */
  block(): string[] {
    const width = Math.max(20, this.sink.columns() - 1);
    const cut = (s: string) => (s.length > width ? s.slice(0, width - 1) + "…" : s);
    const names = [...this.#workers.keys()].sort();
    return [...names.map((n) => cut(this.#workers.get(n) as string)), ...(this.#sweep ? [cut(this.#sweep)] : [])];
  }

  #schedule(): void {
    const wait = this.intervalMs - (performance.now() - this.#last);
    if (wait <= 0) this.#draw([]);
    else {
      this.#pending ??= setTimeout(() => {
        this.#pending = undefined;
        this.#draw([]);
      }, wait);
    }
  }

  /** Erases the block, prints `above`, and draws the block again. */
  #draw(above: readonly string[]): void {
    this.#last = performance.now();
    const lines = this.block();
    let text = this.#drawn > 0 ? `\x1b[${this.#drawn}F` : ""; // to the start of the block's first line
    for (const l of above) text += `\x1b[2K${l}\n`;
    for (const l of lines) text += `\x1b[2K${l}\n`;
    // Lines left over from a taller block are cleared.
    const extra = this.#drawn - above.length - lines.length;
    for (let i = 0; i < extra; i++) text += "\x1b[2K\n";
    if (extra > 0) text += `\x1b[${extra}F`;
    this.sink.write(text);
    this.#drawn = lines.length;
  }
}
