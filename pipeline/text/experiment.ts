/**
 * Runs a text experiment end to end: load the data set, run the AL loop
 * (see `loop.ts`) and write `<out>/rounds.jsonl`, `<out>/summary.md`,
 * `<out>/learning-curve.svg` and `<out>/meta.json`.
 *
 * The backend is chosen by the caller (`selectBackend`) before this runs;
 * its name is only recorded.
 *
 * @module
 */
import type { ChecksumPolicy } from "../data/files.ts";
import { loadReuters } from "../data/reuters.ts";
import { loadTrec } from "../data/trec.ts";
import type { Store } from "../cache/mod.ts";
import type { Progress } from "../progress.ts";
import { writeTextAtomic } from "../results.ts";
import type { RunnerStats } from "../runner.ts";
import { textAtFullScale, type TextExperimentConfig } from "./config.ts";
import { runTextLoop, type TextAlData, type TextRoundRecord } from "./loop.ts";
import { textLearningCurveSvg, textSummaryMarkdown } from "./report.ts";

export {
  decodeTextExperiment,
  isTextExperiment,
  textAtFullScale,
  textExperiment,
  type TextExperimentConfig,
  type TextExperimentInput,
} from "./config.ts";
export type { TextRoundRecord } from "./loop.ts";

/** Options of {@link runTextExperiment}. */
export interface TextRunOptions {
  /** Data directory (default: the loaders' default, env `DBAL_DATA` or the per-user cache). */
  readonly dataDir?: string;
  /** Download missing data files (default true). */
  readonly download?: boolean;
  /** Checksums the loader enforces (default "official"; tests use "skip" on tiny files). */
  readonly checksums?: ChecksumPolicy;
  /** The stage cache, or undefined for no cache. */
  readonly store?: Store;
  /** Stage kinds or names to recompute even when cached. */
  readonly refresh?: ReadonlySet<string>;
  /** Output directory (created). */
  readonly out: string;
  readonly progress: Progress;
  /** The backend in use (`tf.getBackend()`), recorded in every round. */
  readonly backend: string;
  /** Apply the config's `full` overrides. */
  readonly full?: boolean;
  /** The command line, recorded in meta.json. */
  readonly command?: string;
}

/** What {@link runTextExperiment} returns. */
export interface TextRunResult {
  readonly records: TextRoundRecord[];
  readonly stats: RunnerStats;
  readonly wallSeconds: number;
  /** The config actually run (after `full`). */
  readonly config: TextExperimentConfig;
}

/**
 * Loads a text data set named by an experiment, as the loop wants it
 * (multi-hot tags; one-hot for TREC).
 *
 * @param name "reuters", "trec" (6 coarse classes) or "trec-fine" (50 classes)
 * @param opts where the files are
 * @returns the data and its name
 */
export async function loadTextData(
  name: TextExperimentConfig["dataset"],
  opts: Pick<TextRunOptions, "dataDir" | "download" | "checksums"> & { log?: (m: string) => void },
): Promise<TextAlData & { name: string }> {
  const loadOpts = {
    ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
    ...(opts.download !== undefined ? { download: opts.download } : {}),
    ...(opts.checksums !== undefined ? { checksums: opts.checksums } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  };
  if (name === "reuters") {
    const ds = await loadReuters(loadOpts);
    return {
      name: ds.name,
      multiLabel: true,
      labels: ds.labelNames.length,
      train: { texts: ds.train.texts, y: ds.train.y },
      test: { texts: ds.test.texts, y: ds.test.y },
      contentHash: ds.contentHash,
    };
  }
  const ds = await loadTrec({ ...loadOpts, labels: name === "trec" ? "coarse" : "fine" });
  const c = ds.labelNames.length;
  const oneHot = (y: Int32Array) => {
    const out = new Uint8Array(y.length * c);
    y.forEach((k, i) => (out[i * c + k] = 1));
    return out;
  };
  return {
    name: ds.name,
    multiLabel: false,
    labels: c,
    train: { texts: ds.train.texts, y: oneHot(ds.train.y) },
    test: { texts: ds.test.texts, y: oneHot(ds.test.y) },
    contentHash: ds.contentHash,
  };
}

/**
 * Runs a decoded text experiment and writes its results.
 *
 * @param decoded the experiment (from `decodeTextExperiment`)
 * @param opts data, cache, output and progress settings
 * @returns the round records, stage counters and wall time
 */
export async function runTextExperiment(
  decoded: TextExperimentConfig,
  opts: TextRunOptions,
): Promise<TextRunResult> {
  const started = performance.now();
  const config = opts.full ? textAtFullScale(decoded) : decoded;
  const data = await loadTextData(config.dataset, { ...opts, log: (m) => opts.progress.line(m) });
  opts.progress.line(
    `${data.name}: ${data.train.texts.length} train / ${data.test.texts.length} test documents, ` +
      `${data.labels} ${data.multiLabel ? "labels" : "classes"}; backend ${opts.backend}`,
  );
  await Deno.mkdir(opts.out, { recursive: true });
  const records: TextRoundRecord[] = [];
  const header = [
    `# ${config.name}`,
    "",
    ...(config.description ? [config.description, ""] : []),
    `Data: ${data.name} (${data.train.texts.length} train, test subset of ${
      Math.min(config.testSubset, data.test.texts.length)
    }), ` +
    `${config.initialLabelled} initial labels + ${config.rounds} rounds of ${config.acquireSize}, ` +
    `seeds ${config.seeds.join(", ")}; metrics in percent, mean ± std over seeds.`,
  ];
  const writeResults = async () => {
    await writeTextAtomic(`${opts.out}/rounds.jsonl`, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
    await writeTextAtomic(`${opts.out}/summary.md`, textSummaryMarkdown(records, header));
    await writeTextAtomic(
      `${opts.out}/learning-curve.svg`,
      textLearningCurveSvg(records, `${config.name}: ${data.name}`, "top1"),
    );
  };
  const stats = await runTextLoop(config, data, {
    progress: opts.progress,
    backend: opts.backend,
    ...(opts.store ? { store: opts.store } : {}),
    ...(opts.refresh ? { refresh: opts.refresh } : {}),
    onRound: async (record) => {
      records.push(record);
      await writeResults();
    },
  });
  const wallSeconds = (performance.now() - started) / 1000;
  await writeTextAtomic(
    `${opts.out}/meta.json`,
    JSON.stringify(
      {
        command: opts.command ?? null,
        backend: opts.backend,
        wallSeconds,
        finished: new Date().toISOString(),
        dataset: {
          name: data.name,
          contentHash: data.contentHash,
          train: data.train.texts.length,
          test: data.test.texts.length,
          labels: data.labels,
        },
        stages: stats,
        config,
      },
      null,
      2,
    ) + "\n",
  );
  return { records, stats, wallSeconds, config };
}
