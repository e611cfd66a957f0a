/**
 * Progress lines on stderr: at most one every `intervalMs` unless forced.
 *
 * @module
 */

/** A throttled progress printer. */
export interface Progress {
  /** Prints now. */
  readonly line: (message: string) => void;
  /** Prints if the last line was long enough ago. */
  readonly tick: (message: string) => void;
}

/**
 * Makes a progress printer.
 *
 * @param prefix put before every line, e.g. the experiment name
 * @param write where lines go (stderr by default)
 * @param intervalMs minimum time between throttled lines
 * @returns the printer
 */
export function makeProgress(
  prefix: string,
  write: (text: string) => void = (t) => Deno.stderr.writeSync(new TextEncoder().encode(t)),
  intervalMs = 2000,
): Progress {
  let last = 0;
  const line = (message: string) => {
    last = performance.now();
    write(`[${prefix}] ${message}\n`);
  };
  return {
    line,
    tick: (message) => {
      if (performance.now() - last >= intervalMs) line(message);
    },
  };
}

/**
 * Formats seconds as a short duration ("1h02m", "3m05s", "12s").
 *
 * @param seconds the duration
 * @returns the text
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}
