/**
 * `deno task exp <experiment file> [flags]`: runs an experiment and writes
 * its results under `results/<name>/` (or `--out`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { atFullScale, type ExperimentConfig, strategiesOf } from "../dsl/experiment.ts";
import { describeStrategy } from "../dsl/strategy.ts";
import { runActiveLearning, variantsOf } from "./active_learning.ts";
import { planExperiment } from "./plan.ts";
import { openStore, type Store } from "./cache/mod.ts";
import { parseBackend, selectBackend } from "./backend.ts";
import type { ChecksumPolicy } from "./data/mod.ts";
import { loadImageDataset } from "./datasets.ts";
import { ConfigError, loadRunnable } from "./experiment_file.ts";
import type { TextExperimentConfig } from "./text/config.ts";
import { runTextExperiment } from "./text/experiment.ts";
import { formatDuration, makeProgress } from "./progress.ts";
import { reportHeader, writeReport } from "./report.ts";
import { type RoundRecord, writeTextAtomic } from "./results.ts";

const usage = `Usage: deno task exp <experiment.ts|.yaml> [flags]

Flags:
  --backend auto|tensorflow|wasm|webgpu|cpu   tensor backend (default auto)
  --data-dir DIR     data sets directory (default: $DBAL_DATA, else ~/.cache/dbal/data)
  --full             the paper's scale (the experiment's "full" settings)
  --seeds 0,1,2      override the seeds
  --rounds N         override the number of acquisition rounds
  --out DIR          results directory (default results/<experiment name>)
  --no-download      never download missing data
  --cache-dir DIR    stage cache (default results/.cache)
  --no-cache         neither read nor write the cache
  --refresh STAGE    recompute this stage kind or name even when cached (repeatable)
  --export NAME      run this named export of a TypeScript file instead of its default
  --dry-run          print the plan with cache hit/miss per stage, run nothing
  --help             this text`;

/** Flags of the `exp` command. */
export interface CliFlags {
  readonly file: string;
  readonly backend: string;
  readonly dataDir?: string;
  readonly full: boolean;
  readonly seeds?: number[];
  readonly rounds?: number;
  readonly out?: string;
  readonly download: boolean;
  readonly cacheDir: string;
  readonly noCache: boolean;
  readonly refresh: readonly string[];
  readonly dryRun: boolean;
  /** The named export to run (default: the default export). */
  readonly exportName?: string;
  /** Checksums to enforce on data files (programmatic only; default the official ones). */
  readonly checksums?: ChecksumPolicy;
  /** Changes each experiment before it runs, after the other flags (programmatic only: tests shrink examples). */
  readonly adjust?: (config: ExperimentConfig) => ExperimentConfig;
  /** The same for text experiments (programmatic only). */
  readonly adjustText?: (config: TextExperimentConfig) => TextExperimentConfig;
}

/**
 * Parses command-line arguments.
 *
 * @param args the arguments after the task name
 * @returns flags, or a message saying what is wrong
 */
export function parseCli(args: readonly string[]): CliFlags | string {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        "backend": { type: "string", default: "auto" },
        "data-dir": { type: "string" },
        "full": { type: "boolean", default: false },
        "seeds": { type: "string" },
        "rounds": { type: "string" },
        "out": { type: "string" },
        "no-download": { type: "boolean", default: false },
        "cache-dir": { type: "string", default: "results/.cache" },
        "no-cache": { type: "boolean", default: false },
        "refresh": { type: "string", multiple: true, default: [] },
        "dry-run": { type: "boolean", default: false },
        "export": { type: "string" },
        "help": { type: "boolean", default: false },
      },
    });
  } catch (e) {
    return (e as Error).message;
  }
  const v = parsed.values;
  if (v.help) return usage;
  if (parsed.positionals.length !== 1) return `expected one experiment file, got ${parsed.positionals.length}`;
  const backend = parseBackend(v.backend ?? "auto");
  if (backend.startsWith("--")) return backend;
  let seeds: number[] | undefined;
  if (v.seeds !== undefined) {
    seeds = v.seeds.split(",").map((s) => Number(s.trim()));
    if (seeds.some((s) => !Number.isInteger(s))) return `--seeds: expected integers like 0,1,2, got "${v.seeds}"`;
  }
  let rounds: number | undefined;
  if (v.rounds !== undefined) {
    rounds = Number(v.rounds);
    if (!Number.isInteger(rounds) || rounds < 1) return `--rounds: expected an integer >= 1, got "${v.rounds}"`;
  }
  return {
    file: parsed.positionals[0] as string,
    backend,
    full: v.full ?? false,
    download: !(v["no-download"] ?? false),
    cacheDir: v["cache-dir"] ?? "results/.cache",
    noCache: v["no-cache"] ?? false,
    refresh: v.refresh ?? [],
    dryRun: v["dry-run"] ?? false,
    ...(v["data-dir"] !== undefined ? { dataDir: v["data-dir"] } : {}),
    ...(v.out !== undefined ? { out: v.out } : {}),
    ...(v.export !== undefined ? { exportName: v.export } : {}),
    ...(seeds ? { seeds } : {}),
    ...(rounds ? { rounds } : {}),
  };
}

async function gitCommit(): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", { args: ["rev-parse", "HEAD"], stderr: "null" }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

/** What a finished run returns. */
export interface CliResult {
  readonly outDir: string;
  readonly records: RoundRecord[];
  readonly executed: Record<string, number>;
  readonly hits: Record<string, number>;
}

/** Prints every planned stage with "hit", "miss" or "refresh" (to stdout). */
async function printPlan(
  config: ExperimentConfig,
  dataKey: string,
  classes: number,
  store: Store | undefined,
  refresh: ReadonlySet<string>,
): Promise<void> {
  const plans = await planExperiment(variantsOf(config), dataKey, classes);
  let hits = 0, misses = 0;
  const lines: string[] = [`plan of ${config.name} (data ${dataKey.slice(0, 12)}):`];
  for (const plan of plans) {
    lines.push(`run ${plan.strategy.name}${plan.variant ? ` [${plan.variant}]` : ""} seed ${plan.seed}`);
    const stages = [
      plan.warmStart,
      ...plan.rounds.flatMap((
        r,
      ) => [
        r.retrain,
        ...r.members,
        r.posterior,
        r.evaluate,
        ...(r.score ? [r.score] : []),
        ...(r.acquire ? [r.acquire] : []),
        ...(r.pseudo ? [r.pseudo] : []),
      ]),
    ];
    for (const [i, p] of stages.entries()) {
      const refreshed = refresh.has(p.stage.kind) || refresh.has(p.stage.name);
      const cached = !refreshed && store !== undefined && (await store.has(p.key));
      const why = refreshed
        ? "refresh (--refresh)"
        : store === undefined
        ? "miss (--no-cache)"
        : cached
        ? "hit"
        : "miss (not in cache)";
      if (cached) hits++;
      else misses++;
      lines.push(`  ${String(i).padStart(3)} ${p.stage.name.padEnd(30)} ${p.key.slice(0, 12)}  ${why}`);
    }
  }
  lines.push(`${hits} hit(s), ${misses} to run`);
  console.log(lines.join("\n"));
}

/**
 * Runs the `exp` command.
 *
 * @param flags parsed flags
 * @returns where results went and what ran
 */
export async function runExperimentCommand(flags: CliFlags): Promise<CliResult> {
  const runnable = await loadRunnable(flags.file, flags.exportName);
  if (runnable.kind === "experiment") return await runConfig(runnable.config, flags, flags.out);
  if (runnable.kind === "text") return await runText(runnable.config, flags);
  const base = flags.out ?? `results/${runnable.name}`;
  const parts: { name: string; result: CliResult; seconds: number }[] = [];
  for (const [i, config] of runnable.experiments.entries()) {
    console.error(`[${runnable.name}] experiment ${i + 1}/${runnable.experiments.length}: ${config.name}`);
    const t0 = performance.now();
    const result = await runConfig(config, flags, `${base}/${config.name}`);
    parts.push({ name: config.name, result, seconds: (performance.now() - t0) / 1000 });
  }
  if (flags.dryRun) return { outDir: "", records: [], executed: {}, hits: {} };
  await writeReuseReport(base, runnable.name, runnable.description, parts, flags);
  const sum = (key: "executed" | "hits") => {
    const out: Record<string, number> = {};
    for (const p of parts) for (const [k, n] of Object.entries(p.result[key])) out[k] = (out[k] ?? 0) + n;
    return out;
  };
  return {
    outDir: base,
    records: parts.flatMap((p) => p.result.records),
    executed: sum("executed"),
    hits: sum("hits"),
  };
}

/** Runs a text experiment (`pipeline/text/`), which writes its own results. */
async function runText(loaded: TextExperimentConfig, flags: CliFlags): Promise<CliResult> {
  const config = flags.adjustText ? flags.adjustText(loaded) : loaded;
  const progress = makeProgress(config.name);
  const backend = await selectBackend(flags.backend as Parameters<typeof selectBackend>[0]);
  progress.line(`backend ${backend.name} (requested ${backend.requested}), ${backend.threads} thread(s)`);
  if (flags.dryRun) throw new Error("--dry-run is not supported for text experiments yet");
  const store = flags.noCache
    ? undefined
    : await openStore(flags.cacheDir, { warn: (m) => progress.line(`WARNING ${m}`) });
  const outDir = flags.out ?? `results/${config.name}`;
  const result = await runTextExperiment(config, {
    ...(flags.dataDir !== undefined ? { dataDir: flags.dataDir } : {}),
    download: flags.download,
    ...(flags.checksums !== undefined ? { checksums: flags.checksums } : {}),
    ...(store ? { store } : {}),
    refresh: new Set(flags.refresh),
    out: outDir,
    progress,
    backend: backend.name,
    full: flags.full,
    command: `deno task exp ${
      [flags.file, ...(flags.exportName ? ["--export", flags.exportName] : []), ...(flags.full ? ["--full"] : [])].join(
        " ",
      )
    }`,
  });
  progress.line(`done in ${formatDuration(result.wallSeconds)}; results in ${outDir}/`);
  return { outDir, records: [], executed: result.stats.executed, hits: result.stats.hits };
}

const STAGE_ORDER = ["warm-start", "retrain", "fit-posterior", "evaluate", "score", "acquire", "pseudo-label"];

/** Writes `reuse.md` and `reuse.json`: per experiment of a suite, the stages run and those restored from the cache. */
async function writeReuseReport(
  dir: string,
  name: string,
  description: string | undefined,
  parts: readonly { name: string; result: CliResult; seconds: number }[],
  flags: CliFlags,
): Promise<void> {
  const cell = (counts: Record<string, number>) =>
    STAGE_ORDER.filter((k) => counts[k]).map((k) => `${k} ${counts[k]}`).join(", ") || "none";
  const lines = [
    `# ${name}`,
    "",
    ...(description ? [description, ""] : []),
    `- command: \`deno task exp ${flags.file}${flags.full ? " --full" : ""}\``,
    `- commit: ${await gitCommit()}`,
    "",
    "Stages each experiment ran and those it restored from the cache, in the order the suite runs them:",
    "",
    "| experiment | wall time | stages run | restored from cache | reused |",
    "| --- | ---: | --- | --- | ---: |",
    ...parts.map((p) => {
      const ran = Object.values(p.result.executed).reduce((a, b) => a + b, 0);
      const hit = Object.values(p.result.hits).reduce((a, b) => a + b, 0);
      const share = ran + hit > 0 ? `${((100 * hit) / (ran + hit)).toFixed(0)}%` : "";
      return `| [${p.name}](${p.name}/summary.md) | ${formatDuration(p.seconds)} | ${cell(p.result.executed)} | ${
        cell(p.result.hits)
      } | ${share} |`;
    }),
    "",
  ];
  await writeTextAtomic(`${dir}/reuse.md`, lines.join("\n"));
  const json = parts.map((p) => ({
    experiment: p.name,
    seconds: p.seconds,
    executed: p.result.executed,
    restored: p.result.hits,
  }));
  await writeTextAtomic(`${dir}/reuse.json`, JSON.stringify(json, null, 2) + "\n");
}

/**
 * Runs one decoded experiment.
 *
 * @param loaded the experiment
 * @param flags the command's flags
 * @param out results directory (default `results/<name>`)
 * @returns where results went and what ran
 */
async function runConfig(loaded: ExperimentConfig, flags: CliFlags, out: string | undefined): Promise<CliResult> {
  const started = new Date();
  const t0 = performance.now();
  let config: ExperimentConfig = loaded;
  if (flags.full) config = atFullScale(config);
  if (flags.seeds) config = { ...config, seeds: flags.seeds as ExperimentConfig["seeds"] };
  if (flags.rounds) config = { ...config, rounds: flags.rounds as ExperimentConfig["rounds"] };
  if (flags.adjust) config = flags.adjust(config);
  const progress = makeProgress(config.name);

  const backend = await selectBackend(flags.backend as Parameters<typeof selectBackend>[0]);
  progress.line(`backend ${backend.name} (requested ${backend.requested}), ${backend.threads} thread(s)`);
  for (const note of backend.notes) progress.line(`  skipped: ${note}`);

  progress.line(`stage load: ${config.dataset}`);
  const data = await loadImageDataset(config.dataset, {
    ...(flags.dataDir !== undefined ? { dataDir: flags.dataDir } : {}),
    download: flags.download,
    ...(flags.checksums !== undefined ? { checksums: flags.checksums } : {}),
    log: (m) => progress.line(`  ${m}`),
  });
  progress.line(
    `  ${data.train.y.length} train, ${data.test.y.length} test, ${data.classes} classes, content ${
      data.contentHash.slice(0, 12)
    }`,
  );

  const store = flags.noCache
    ? undefined
    : await openStore(flags.cacheDir, { warn: (m) => progress.line(`WARNING ${m}`) });
  if (flags.dryRun) {
    await printPlan(config, data.contentHash, data.classes, store, new Set(flags.refresh));
    return { outDir: "", records: [], executed: {}, hits: {} };
  }

  const outDir = out ?? `results/${config.name}`;
  await Deno.mkdir(outDir, { recursive: true });
  const partial = `${outDir}/rounds.jsonl.partial`;
  await Deno.writeTextFile(partial, "");
  const records: RoundRecord[] = [];
  const stats = await runActiveLearning(config, data, {
    progress,
    backend: backend.name,
    ...(store ? { store } : {}),
    refresh: new Set(flags.refresh),
    onRound: async (record) => {
      records.push(record);
      await Deno.writeTextFile(partial, JSON.stringify(record) + "\n", { append: true });
    },
  });
  const wallSeconds = (performance.now() - t0) / 1000;
  await Deno.rename(partial, `${outDir}/rounds.jsonl`);
  const command = `deno task exp ${[flags.file, ...(flags.full ? ["--full"] : [])].join(" ")}`;
  const meta = {
    experiment: config.name,
    command,
    argv: Deno.args,
    backend: backend.name,
    threads: backend.threads,
    deno: Deno.version.deno,
    commit: await gitCommit(),
    started: started.toISOString(),
    wallSeconds,
    dataset: config.dataset,
    contentHash: data.contentHash,
    executed: stats.executed,
    cacheHits: stats.hits,
    stageSeconds: stats.seconds,
    strategies: strategiesOf(config).map(describeStrategy),
    config,
  };
  await writeTextAtomic(`${outDir}/meta.json`, JSON.stringify(meta, null, 2) + "\n");
  await writeReport(outDir, reportHeader(meta, config.name));
  progress.line(`done in ${formatDuration(wallSeconds)}; results in ${outDir}/`);
  if (tf.memory().numTensors > 0) progress.line(`  (${tf.memory().numTensors} tensors still allocated)`);
  const ran = Object.entries(stats.executed).map(([k, n]) => `${k} ${n}`).join(", ") || "none";
  const hit = Object.entries(stats.hits).map(([k, n]) => `${k} ${n}`).join(", ") || "none";
  progress.line(`stages executed: ${ran}; restored from cache: ${hit}`);
  return { outDir, records, executed: stats.executed, hits: stats.hits };
}

if (import.meta.main) {
  const flags = parseCli(Deno.args);
  if (typeof flags === "string") {
    console.error(flags === usage ? usage : `exp: ${flags}\n\n${usage}`);
    Deno.exit(flags === usage ? 0 : 2);
  }
  try {
    await runExperimentCommand(flags);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      Deno.exit(2);
    }
    console.error(`exp: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
