/**
 * Human-readable results of a text experiment: a markdown table of every
 * metric per strategy and label count (mean ± std over seeds), and an SVG
 * learning curve of one metric.
 *
 * @module
 */
import type { TextRoundRecord } from "./loop.ts";

/** The metrics reported, in table order. */
export const TEXT_METRICS = ["top1", "top5", "recall", "microF1", "macroF1"] as const;
/** A reported metric. */
export type TextMetricName = typeof TEXT_METRICS[number];

/** strategy -> labelled count -> metric values over seeds */
function _group(records: readonly TextRoundRecord[], metric: TextMetricName): Map<string, Map<number, number[]>> {
  const out = new Map<string, Map<number, number[]>>();
  for (const r of records) {
    const m = out.get(r.strategy) ?? new Map<number, number[]>();
    out.set(r.strategy, m);
    m.set(r.labelled, [...(m.get(r.labelled) ?? []), r[metric]]);
  }
  return out;
}

function _meanStd(values: readonly number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.length > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

/**
 * A markdown summary: one row per (strategy, label count), one column per
 * metric, "mean ± std (n seeds)" in percent.
 *
 * @param records the round records
 * @param header lines put above the table (title, settings)
 * @returns the markdown text
 */
export function textSummaryMarkdown(records: readonly TextRoundRecord[], header: readonly string[]): string {
  const lines = [...header, ""];
  lines.push(`| strategy | labelled | ${TEXT_METRICS.join(" | ")} | seeds |`);
  lines.push(`| --- | ---: | ${TEXT_METRICS.map(() => "---:").join(" | ")} | ---: |`);
  const groups = TEXT_METRICS.map((m) => _group(records, m));
  const first = groups[0] ?? new Map<string, Map<number, number[]>>();
  for (const [strategy, byLabelled] of first) {
    for (const labelled of [...byLabelled.keys()].sort((a, b) => a - b)) {
      const cells = groups.map((g) => {
        const { mean, std } = _meanStd(g.get(strategy)?.get(labelled) ?? [NaN]);
        return `${(100 * mean).toFixed(1)} ± ${(100 * std).toFixed(1)}`;
      });
      lines.push(`| ${strategy} | ${labelled} | ${cells.join(" | ")} | ${byLabelled.get(labelled)?.length ?? 0} |`);
    }
  }
  return lines.join("\n") + "\n";
}

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

function _escape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * An SVG line plot of one metric (mean over seeds, in percent) against the
 * number of labelled documents, one line per strategy.
 *
 * @param records the round records
 * @param title the plot's title
 * @param metric which metric (default top1)
 * @returns the SVG text
 */
export function textLearningCurveSvg(
  records: readonly TextRoundRecord[],
  title: string,
  metric: TextMetricName = "top1",
): string {
  const w = 640, h = 400, left = 60, right = 170, top = 40, bottom = 50;
  const series = [..._group(records, metric)].map(([name, m]) => ({
    name,
    points: [...m].map(([x, ys]) => [x, 100 * _meanStd(ys).mean] as const).sort((a, b) => a[0] - b[0]),
  }));
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const x0 = Math.min(...xs, 0), x1 = Math.max(...xs, 1);
  const y0 = Math.max(0, Math.floor(Math.min(...ys, 100) / 10) * 10), y1 = 100;
  const px = (x: number) => left + ((x - x0) / Math.max(1e-9, x1 - x0)) * (w - left - right);
  const py = (y: number) => top + (1 - (y - y0) / Math.max(1e-9, y1 - y0)) * (h - top - bottom);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2}" y="20" text-anchor="middle" font-size="14">${_escape(title)}</text>`,
    `<line x1="${left}" y1="${h - bottom}" x2="${w - right}" y2="${h - bottom}" stroke="black"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${h - bottom}" stroke="black"/>`,
    `<text x="${(left + w - right) / 2}" y="${h - 12}" text-anchor="middle">labelled documents</text>`,
    `<text x="16" y="${(top + h - bottom) / 2}" text-anchor="middle" transform="rotate(-90 16 ${
      (top + h - bottom) / 2
    })">${metric} (%)</text>`,
  ];
  for (let k = 0; k <= 5; k++) {
    const yv = y0 + ((y1 - y0) * k) / 5;
    out.push(`<text x="${left - 6}" y="${py(yv) + 4}" text-anchor="end">${yv.toFixed(0)}</text>`);
    out.push(`<line x1="${left}" y1="${py(yv)}" x2="${w - right}" y2="${py(yv)}" stroke="#eee"/>`);
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    out.push(`<text x="${px(x)}" y="${h - bottom + 16}" text-anchor="middle">${x}</text>`);
  }
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const pts = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ");
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"/>`);
    for (const [x, y] of s.points) {
      out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`);
    }
    const ly = top + 16 * i;
    out.push(
      `<line x1="${w - right + 10}" y1="${ly}" x2="${w - right + 30}" y2="${ly}" stroke="${color}" stroke-width="2"/>`,
    );
    out.push(`<text x="${w - right + 35}" y="${ly + 4}">${_escape(s.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
