/**
 * Result files of an experiment: one JSONL line per round (for programs), a
 * markdown summary and an SVG learning curve (for people). Files are written
 * to a temporary name and renamed, so a killed run never leaves a half-written
 * result in place of an older complete one.
 *
 * @module
 */

/** One line of `rounds.jsonl`. */
export interface RoundRecord {
  readonly experiment: string;
  /** The strategy's name (the curve it belongs to). */
  readonly acquisition: string;
  /** The grid point, when the experiment has a grid. */
  readonly variant?: string;
  readonly seed: number;
  readonly round: number;
  readonly labelled: number;
  readonly accuracy: number;
  readonly nll: number;
  /** Other metrics of the round's evaluation (F1, top-5, ...), when it has any. */
  readonly metrics?: Readonly<Record<string, number>>;
  /** Pool items acquired after this round's evaluation (train-set indices). */
  readonly acquired: readonly number[];
  readonly seconds: Readonly<Record<string, number>>;
  /** Stage kinds of this round restored from the cache instead of run. */
  readonly cacheHits: readonly string[];
  readonly trainImagesPerSecond: number;
  /** `tf.memory().numTensors` at the start of the round, less the net carried from the last round (leak check). */
  readonly numTensors: number;
  readonly backend: string;
  /** Pool items pseudo-labelled after this round for the next round's nets (CEAL). */
  readonly pseudoLabelled?: number;
  /** How many of those pseudo-labels equal the true label (a diagnostic; never used for training). */
  readonly pseudoCorrect?: number;
}

/**
 * Writes a file atomically: to `<path>.<pid>.tmp`, then renamed over `path`.
 *
 * @param path destination
 * @param text contents
 */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(tmp, text);
  await Deno.rename(tmp, path);
}

/**
 * Reads a JSONL file of round records.
 *
 * @param path the file
 * @returns the records
 * @throws Error naming the file and line of a malformed record
 */
export async function readRounds(path: string): Promise<RoundRecord[]> {
  const text = await Deno.readTextFile(path);
  return text.split("\n").flatMap((line, i) => {
    if (line.trim() === "") return [];
    try {
      return [JSON.parse(line) as RoundRecord];
    } catch (e) {
      throw new Error(`${path}:${i + 1}: malformed JSON line (${(e as Error).message})`);
    }
  });
}

interface Curve {
  readonly acquisition: string;
  /** labelled count -> accuracies over seeds */
  readonly points: Map<number, number[]>;
  /** seed -> its rounds, by labelled count */
  readonly bySeed: Map<number, RoundRecord[]>;
}

function curves(records: readonly RoundRecord[]): Curve[] {
  const byAcq = new Map<string, Curve>();
  for (const r of records) {
    const series = r.variant ? `${r.acquisition} [${r.variant}]` : r.acquisition;
    const c = byAcq.get(series) ?? { acquisition: series, points: new Map(), bySeed: new Map() };
    byAcq.set(series, c);
    c.points.set(r.labelled, [...(c.points.get(r.labelled) ?? []), r.accuracy]);
    c.bySeed.set(r.seed, [...(c.bySeed.get(r.seed) ?? []), r]);
  }
  return [...byAcq.values()];
}

/**
 * Mean and sample standard deviation (n - 1; 0 for a single value).
 *
 * @param xs the values, at least one
 * @returns [mean, std]
 */
export function meanStd(xs: readonly number[]): [number, number] {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.length > 1 ? xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1) : 0;
  return [m, Math.sqrt(v)];
}

/**
 * Labels each seed needed before its test accuracy first reached `target`,
 * averaged over the seeds that reached it (as Gal et al. 2017, Table 1):
 * "145", "145 ± 12" over several seeds, "150 (2 of 3 seeds)" when some never
 * reached it, "not reached" when none did.
 *
 * @param curve one strategy's rounds
 * @param target accuracy in [0, 1]
 * @returns the table cell
 */
function labelsToReach(curve: Curve, target: number): string {
  const reached: number[] = [];
  for (const rounds of curve.bySeed.values()) {
    const first = [...rounds].sort((a, b) => a.labelled - b.labelled).find((r) => r.accuracy >= target);
    if (first) reached.push(first.labelled);
  }
  if (reached.length === 0) return "not reached";
  const [m, s] = meanStd(reached);
  const value = reached.length > 1 ? `${m.toFixed(0)} ± ${s.toFixed(0)}` : m.toFixed(0);
  return reached.length < curve.bySeed.size ? `${value} (${reached.length} of ${curve.bySeed.size} seeds)` : value;
}

/** How a report names what was labelled. */
export interface ReportOptions {
  /** The labelled items: "images" (default) or "documents". */
  readonly items?: string;
}

/** The order of the metrics the packs report (text: ranking metrics, then F1, then the documents evaluated). */
const METRIC_ORDER = ["top1", "top5", "recall", "microF1", "macroF1", "documents"];

/** A number as a table cell: values all in [0, 1] in percent, integers as such, others with 3 decimals. */
function metricCell(xs: readonly number[], percent: boolean): string {
  if (xs.length === 0) return "";
  const [m, s] = meanStd(xs);
  if (xs.every((x) => x === xs[0]) && !percent) return String(xs[0]);
  const f = (v: number) =>
    percent ? (100 * v).toFixed(1) : xs.every(Number.isInteger) && Number.isInteger(v) ? String(v) : v.toFixed(3);
  return xs.length > 1 ? `${f(m)} ± ${f(s)}` : f(m);
}

/**
 * A table of every other metric of the rounds (the `metrics` map, and the
 * NLL where it is finite): one row per strategy and labelled count, mean ±
 * std over seeds; metrics that are fractions are in percent.
 */
function metricsTable(records: readonly RoundRecord[], items: string): string[] {
  const names: string[] = [];
  for (const r of records) for (const k of Object.keys(r.metrics ?? {})) if (!names.includes(k)) names.push(k);
  if (names.length === 0) return [];
  // Known metrics in their usual order (a record restored from the cache lists its metrics sorted), then the rest.
  const rank = (k: string) => (METRIC_ORDER.includes(k) ? METRIC_ORDER.indexOf(k) : METRIC_ORDER.length);
  names.sort((a, b) => rank(a) - rank(b) || (rank(a) === METRIC_ORDER.length ? a.localeCompare(b) : 0));
  const values = (r: RoundRecord, k: string) => (k === "nll" ? r.nll : r.metrics?.[k]);
  if (records.some((r) => Number.isFinite(r.nll))) names.push("nll");
  const percent = new Map(
    names.map((k) => [k, records.every((r) => !((values(r, k) ?? 0) < 0 || (values(r, k) ?? 0) > 1))]),
  );
  percent.set("nll", false);
  const rows: string[] = [];
  for (const c of curves(records)) {
    const byLabelled = new Map<number, RoundRecord[]>();
    for (const rs of c.bySeed.values()) {
      for (const r of rs) byLabelled.set(r.labelled, [...(byLabelled.get(r.labelled) ?? []), r]);
    }
    for (const n of [...byLabelled.keys()].sort((a, b) => a - b)) {
      const rs = byLabelled.get(n) ?? [];
      const cells = names.map((k) =>
        metricCell(
          rs.map((r) => values(r, k)).filter((v): v is number => typeof v === "number" && Number.isFinite(v)),
          percent.get(k) ?? false,
        )
      );
      rows.push(`| ${c.acquisition} | ${n} | ${cells.join(" | ")} | ${rs.length} |`);
    }
  }
  return [
    `Every metric by strategy and number of labelled ${items}; mean ± std over seeds (fractions in %).`,
    "",
    `| strategy | labelled | ${names.join(" | ")} | seeds |`,
    `| --- | ---: | ${names.map(() => "---:").join(" | ")} | ---: |`,
    ...rows,
    "",
  ];
}

/** The values sorted, as one string: equal for two lists with the same values in any order. */
const sortedKey = (v: readonly number[]) => [...v].sort((a, b) => a - b).join();

/**
 * Each strategy against the random baseline (a strategy named "random", of
 * the same variant): the labelled counts where its mean accuracy is ahead of
 * random's by more than the two spreads together (mean gap > std + std over
 * seeds, both with at least 2 seeds there), and the largest gap. Counts where
 * both have the same accuracies (the shared initial round) are left out.
 * Empty when there is no random strategy.
 */
function versusRandom(cs: readonly Curve[], items: string): string[] {
  const lines: string[] = [];
  for (const c of cs) {
    if (c.acquisition === "random" || c.acquisition.startsWith("random [")) continue;
    // A series "name [variant]" is compared with "random [variant]" where there is one.
    const variant = /( \[.*\])$/.exec(c.acquisition)?.[1] ?? "";
    const base = cs.find((b) => b.acquisition === `random${variant}`) ?? cs.find((b) => b.acquisition === "random");
    if (!base) continue;
    const ahead: number[] = [], behind: number[] = [];
    let best: { n: number; gap: number; cell: string } | undefined;
    for (const [n, xs] of [...c.points.entries()].sort((a, b) => a[0] - b[0])) {
      const ys = base.points.get(n);
      if (!ys || xs.length < 2 || ys.length < 2) continue;
      // The same accuracies seed for seed: the rounds both strategies share (the initial labelled set).
      if (sortedKey(xs) === sortedKey(ys)) continue;
      const [m, s] = meanStd(xs), [mr, sr] = meanStd(ys);
      const gap = m - mr;
      if (gap > s + sr) ahead.push(n);
      if (-gap > s + sr) behind.push(n);
      if (!best || gap > best.gap) {
        const pct = (v: number, e: number) => `${(100 * v).toFixed(1)} ± ${(100 * e).toFixed(1)}`;
        best = { n, gap, cell: `${pct(m, s)} vs ${pct(mr, sr)}` };
      }
    }
    if (!best) continue;
    const where = (ns: number[]) => (ns.length === 0 ? "at no count" : `at ${ns.join(", ")} ${items}`);
    lines.push(
      `- ${c.acquisition} vs ${base.acquisition}: ahead by more than the seeds' spread ${where(ahead)}` +
        (behind.length > 0 ? `, behind by more ${where(behind)}` : "") +
        `; largest gap ${best.gap >= 0 ? "+" : ""}${(100 * best.gap).toFixed(1)} points at ${best.n} ` +
        `(${best.cell}).`,
    );
  }
  return lines.length === 0 ? [] : [
    `Against random (ahead "by more than the seeds' spread": mean gap larger than the two stds added):`,
    "",
    ...lines,
    "",
  ];
}

/**
 * Markdown summary: test accuracy (mean ± sample std over seeds, in %) per
 * acquisition function at each labelled count, and labels needed to reach 90%
 * and 95% (per seed, then averaged); then, when the rounds have other
 * metrics (text: top5, recall, F1, ...), a table of every metric.
 *
 * @param records all rounds of an experiment
 * @param header lines put above the table (command, backend, ...)
 * @param opts what the labelled items are called
 * @returns markdown text
 */
export function summaryMarkdown(
  records: readonly RoundRecord[],
  header: readonly string[],
  opts: ReportOptions = {},
): string {
  const items = opts.items ?? "images";
  const cs = curves(records);
  const counts = [...new Set(records.map((r) => r.labelled))].sort((a, b) => a - b);
  const seeds = new Set(records.map((r) => r.seed)).size;
  const shown = counts.length <= 8
    ? counts
    : counts.filter((_, i) => i % Math.ceil(counts.length / 8) === 0 || i === counts.length - 1);
  const fmt = (xs: number[] | undefined) => {
    if (!xs || xs.length === 0) return "";
    const [m, s] = meanStd(xs);
    return xs.length > 1 ? `${(100 * m).toFixed(1)} ± ${(100 * s).toFixed(1)}` : (100 * m).toFixed(1);
  };
  const lines = [
    ...header,
    "",
    `Test accuracy (%) by number of labelled ${items}; mean ± std over ${seeds} seed(s).`,
    "",
    `| strategy | ${shown.join(" | ")} | labels to 90% | labels to 95% |`,
    `| --- | ${shown.map(() => "---:").join(" | ")} | ---: | ---: |`,
    ...cs.map((c) =>
      `| ${c.acquisition} | ${shown.map((n) => fmt(c.points.get(n))).join(" | ")} | ${labelsToReach(c, 0.9)} | ${
        labelsToReach(c, 0.95)
      } |`
    ),
    "",
    ...versusRandom(cs, items),
    ...metricsTable(records, items),
  ];
  return lines.join("\n");
}

const palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"];

/**
 * SVG learning curves: mean accuracy per acquisition function with a band of
 * ± one std over seeds.
 *
 * @param records all rounds of an experiment
 * @param title plot title
 * @param opts what the labelled items are called
 * @returns SVG text
 */
export function learningCurveSvg(records: readonly RoundRecord[], title: string, opts: ReportOptions = {}): string {
  const w = 640, h = 400, left = 60, right = 150, top = 40, bottom = 50;
  const cs = curves(records);
  const xs = records.map((r) => r.labelled);
  const ys = records.map((r) => r.accuracy);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
  const y0 = Math.max(0, Math.floor(Math.min(...ys) * 10) / 10), y1 = 1;
  const sx = (x: number) => left + ((x - x0) / (x1 - x0)) * (w - left - right);
  const sy = (y: number) => top + (1 - (y - y0) / (y1 - y0)) * (h - top - bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2 - right / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
    `<line x1="${left}" y1="${sy(y0)}" x2="${w - right}" y2="${sy(y0)}" stroke="black"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${sy(y0)}" stroke="black"/>`,
    `<text x="${(left + w - right) / 2}" y="${h - 10}" text-anchor="middle">labelled ${
      escapeXml(opts.items ?? "images")
    }</text>`,
    `<text transform="translate(15 ${(top + h - bottom) / 2}) rotate(-90)" text-anchor="middle">test accuracy</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const y = y0 + ((y1 - y0) * i) / 5;
    parts.push(
      `<text x="${left - 6}" y="${sy(y) + 4}" text-anchor="end">${y.toFixed(2)}</text>`,
      `<line x1="${left}" y1="${sy(y)}" x2="${w - right}" y2="${sy(y)}" stroke="#ddd"/>`,
    );
    const x = x0 + ((x1 - x0) * i) / 5;
    parts.push(`<text x="${sx(x)}" y="${sy(y0) + 16}" text-anchor="middle">${Math.round(x)}</text>`);
  }
  cs.forEach((c, k) => {
    const color = palette[k % palette.length];
    const pts = [...c.points.entries()].sort((a, b) => a[0] - b[0]).map(([n, acc]) => [n, ...meanStd(acc)]);
    const upper = pts.map(([n, m, s]) => `${sx(n as number)},${sy(Math.min(1, (m as number) + (s as number)))}`);
    const lower = pts.map(([n, m, s]) => `${sx(n as number)},${sy(Math.max(y0, (m as number) - (s as number)))}`)
      .reverse();
    parts.push(
      `<polygon points="${[...upper, ...lower].join(" ")}" fill="${color}" fill-opacity="0.15" stroke="none"/>`,
      `<polyline points="${
        pts.map(([n, m]) => `${sx(n as number)},${sy(m as number)}`).join(" ")
      }" fill="none" stroke="${color}" stroke-width="2"/>`,
      `<text x="${w - right + 10}" y="${top + 16 * k + 10}" fill="${color}">${escapeXml(c.acquisition)}</text>`,
    );
  });
  parts.push("</svg>", "");
  return parts.join("\n");
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
