/**
 * `deno task report <results dir>`: regenerates `summary.md` and
 * `learning-curve.svg` from `rounds.jsonl` (and `meta.json` when present).
 *
 * @module
 */
import { learningCurveSvg, readRounds, type ReportOptions, summaryMarkdown, writeTextAtomic } from "../run/results.ts";
import { formatDuration } from "../run/progress.ts";

/**
 * Header lines of a summary, from an experiment's `meta.json`.
 *
 * @param meta the parsed meta.json (or undefined)
 * @param name the experiment's name
 * @returns markdown lines
 */
export function reportHeader(meta: Record<string, unknown> | undefined, name: string): string[] {
  if (!meta) return [`# ${name}`];
  const config = (meta.config ?? {}) as Record<string, unknown>;
  // A text encoder has its own epochs (no train).
  const train = (config.train ?? config.model ?? {}) as Record<string, unknown>;
  return [
    `# ${name}`,
    "",
    String(config.description ?? meta.description ?? ""),
    "",
    `- command: \`${meta.command}\``,
    `- backend: ${meta.backend}, ${meta.threads} thread(s); wall time ${formatDuration(Number(meta.wallSeconds))}`,
    `- commit: ${meta.commit ?? "unknown"}; started ${meta.started}`,
    // A composed experiment has no preset record: its sizes are in its file.
    ...(meta.config
      ? [
        `- pool subset ${config.poolSubset || "all"}, test items ${config.testSubset || "all"}, ` +
        `${train.epochs} epochs per round`,
      ]
      : [`- composed experiment: its stages and sizes are in \`${String(meta.command).split(" ")[3] ?? "its file"}\``]),
    ...(Array.isArray(meta.strategies) ? meta.strategies.map((s) => `- strategy ${s}`) : []),
    "",
    "![learning curve](learning-curve.svg)",
  ];
}

/**
 * How a report names the labelled items, from an experiment's `meta.json`:
 * documents for text (`modality: "text"`), images otherwise.
 *
 * @param meta the parsed meta.json (or undefined)
 * @returns the report options
 */
export function reportOptions(meta: Record<string, unknown> | undefined): ReportOptions {
  return meta?.modality === "text" ? { items: "documents" } : {};
}

/**
 * Regenerates `summary.md` and `learning-curve.svg` from `rounds.jsonl`.
 *
 * @param outDir the experiment's results folder
 * @param header lines put above the summary table
 * @param opts what the labelled items are called (see {@link reportOptions})
 */
export async function writeReport(outDir: string, header: readonly string[], opts: ReportOptions = {}): Promise<void> {
  const records = await readRounds(`${outDir}/rounds.jsonl`);
  await writeTextAtomic(`${outDir}/summary.md`, summaryMarkdown(records, header, opts));
  const name = records[0]?.experiment ?? outDir;
  await writeTextAtomic(`${outDir}/learning-curve.svg`, learningCurveSvg(records, name, opts));
}

if (import.meta.main) {
  const dir = Deno.args[0];
  if (!dir || Deno.args.length !== 1) {
    console.error("Usage: deno task report <results dir holding rounds.jsonl>");
    Deno.exit(2);
  }
  let meta: Record<string, unknown> | undefined;
  try {
    meta = JSON.parse(await Deno.readTextFile(`${dir}/meta.json`));
  } catch {
    meta = undefined;
  }
  try {
    await writeReport(dir, reportHeader(meta, String(meta?.experiment ?? dir)), reportOptions(meta));
    console.error(`report: wrote ${dir}/summary.md and ${dir}/learning-curve.svg`);
  } catch (e) {
    console.error(`report: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
