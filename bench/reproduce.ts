/**
 * Checks that committed results still reproduce: reruns each result's
 * experiment (image presets) with the current code for its first rounds and
 * first seed, and compares every round it reaches with the committed
 * `rounds.jsonl`: test accuracy and NLL exactly, and the acquired items
 * exactly for every round that acquires in both. A round depends only on the
 * rounds before it, so a prefix that matches shows that the stages compute
 * what they computed when the result was made.
 *
 * Usage: `deno run -A bench/reproduce.ts [--rounds 1] [--only custom-score,mnist-bald] [--cache-dir DIR]`;
 * writes `results/reproduction.md` and `results/reproduction.json`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type CliResult, runExperimentCommand } from "../pipeline/cli/cli.ts";
import { loadRunnable } from "../pipeline/cli/experiment_file.ts";
import { readRounds, type RoundRecord, writeTextAtomic } from "../pipeline/run/results.ts";

interface Check {
  readonly result: string;
  readonly rounds: number;
  readonly compared: number;
  readonly accuracyMatches: number;
  readonly acquiredCompared: number;
  readonly acquiredMatches: number;
  readonly mismatches: readonly string[];
  readonly seconds: number;
}

const args = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "1" },
    only: { type: "string" },
    "cache-dir": { type: "string" },
    "data-dir": { type: "string" },
  },
});
const rounds = Number(args.values.rounds);
const only = args.values.only?.split(",");
const cacheDir = args.values["cache-dir"] ?? await Deno.makeTempDir({ prefix: "dbal-reproduce-cache-" });

/** The result folders with an image experiment: folder → experiment file, export, and suite member. */
async function targets(): Promise<{ folder: string; file: string; exportName?: string; member?: string }[]> {
  const out: { folder: string; file: string; exportName?: string; member?: string }[] = [];
  for await (const e of Deno.readDir("results")) {
    if (!e.isDirectory || e.name.startsWith(".") || e.name === "bench") continue;
    const folder = `results/${e.name}`;
    const metaPaths: string[] = [];
    try {
      await Deno.stat(`${folder}/meta.json`);
      metaPaths.push(`${folder}/meta.json`);
    } catch {
      for await (const sub of Deno.readDir(folder)) {
        if (sub.isDirectory) metaPaths.push(`${folder}/${sub.name}/meta.json`);
      }
    }
    for (const path of metaPaths) {
      const meta = JSON.parse(await Deno.readTextFile(path));
      const argv: string[] = meta.argv ?? String(meta.command).replace(/^deno task exp /, "").split(" ");
      const file = argv[0] as string;
      const at = argv.indexOf("--export");
      const runnable = await loadRunnable(file, at >= 0 ? argv[at + 1] : "default");
      if (runnable.kind !== "experiment" && runnable.kind !== "suite") continue;
      out.push({
        folder: path.replace(/\/meta\.json$/, ""),
        file,
        ...(at >= 0 ? { exportName: argv[at + 1] as string } : {}),
        ...(runnable.kind === "suite" ? { member: meta.experiment as string } : {}),
      });
    }
  }
  return out.sort((a, b) => a.folder.localeCompare(b.folder));
}

function sameRun(a: RoundRecord, b: RoundRecord): boolean {
  return a.acquisition === b.acquisition && (a.variant ?? "") === (b.variant ?? "") && a.seed === b.seed &&
    a.round === b.round;
}

async function check(target: { folder: string; file: string; exportName?: string; member?: string }): Promise<Check> {
  const committed = await readRounds(`${target.folder}/rounds.jsonl`);
  const firstSeed = committed[0]?.seed ?? 0;
  const out = await Deno.makeTempDir({ prefix: "dbal-reproduce-" });
  const t0 = performance.now();
  let result: CliResult;
  try {
    result = await runExperimentCommand({
      file: target.file,
      backend: "auto",
      full: false,
      download: false,
      cacheDir,
      noCache: false,
      refresh: [],
      dryRun: false,
      out,
      seeds: [firstSeed],
      ...(target.exportName ? { exportName: target.exportName } : {}),
      ...(args.values["data-dir"] ? { dataDir: args.values["data-dir"] } : {}),
      adjust: (config) => ({ ...config, rounds: Math.min(config.rounds, rounds) as typeof config.rounds }),
    });
  } finally {
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
  const fresh = result.records.filter((r) => !target.member || r.experiment === target.member);
  const mismatches: string[] = [];
  let compared = 0, accuracyMatches = 0, acquiredCompared = 0, acquiredMatches = 0;
  const lastRound = Math.max(...fresh.map((r) => r.round));
  for (const r of fresh) {
    const old = committed.find((c) => sameRun(c, r));
    if (!old) continue;
    compared++;
    const where = `${r.acquisition}${r.variant ? ` [${r.variant}]` : ""} seed ${r.seed} round ${r.round}`;
    if (old.accuracy === r.accuracy && old.nll === r.nll) accuracyMatches++;
    else mismatches.push(`${where}: accuracy ${old.accuracy} → ${r.accuracy}, nll ${old.nll} → ${r.nll}`);
    if (r.round < lastRound && r.acquired.length > 0) {
      acquiredCompared++;
      if (JSON.stringify(old.acquired) === JSON.stringify(r.acquired)) acquiredMatches++;
      else mismatches.push(`${where}: acquired items differ`);
    }
  }
  return {
    result: target.folder.replace(/^results\//, ""),
    rounds,
    compared,
    accuracyMatches,
    acquiredCompared,
    acquiredMatches,
    mismatches,
    seconds: (performance.now() - t0) / 1000,
  };
}

const checks: Check[] = [];
for (const target of await targets()) {
  const name = target.folder.replace(/^results\//, "");
  if (only && !only.some((o) => name === o || name.startsWith(`${o}/`))) continue;
  console.error(`reproduce: ${name} (${target.file}${target.member ? `, ${target.member}` : ""})`);
  checks.push(await check(target));
  const c = checks[checks.length - 1] as Check;
  console.error(
    `reproduce: ${name}: ${c.accuracyMatches}/${c.compared} rounds with identical accuracy and NLL, ` +
      `${c.acquiredMatches}/${c.acquiredCompared} identical acquisitions (${c.seconds.toFixed(0)} s)`,
  );
}
// Earlier checks of results not rerun this time are kept, so partial runs add up.
try {
  const earlier = JSON.parse(await Deno.readTextFile("results/reproduction.json")) as (Check & { date?: string })[];
  for (const c of earlier) if (!checks.some((n) => n.result === c.result)) checks.push(c);
  checks.sort((a, b) => a.result.localeCompare(b.result));
} catch {
  // no earlier checks
}
const lines = [
  "# Reproduction of the committed results",
  "",
  "`deno run -A bench/reproduce.ts --rounds N [--only a,b]`: each result's experiment rerun with the current code " +
  "for its first N + 1 evaluations and its first seed; every round compared with the committed `rounds.jsonl`. " +
  "Rows from earlier invocations are kept.",
  "",
  "| result | rounds rerun | rounds compared | identical accuracy and NLL | acquisitions compared | identical acquisitions | time |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...checks.map((c) =>
    `| ${c.result} | ${
      c.rounds + 1
    } | ${c.compared} | ${c.accuracyMatches} | ${c.acquiredCompared} | ${c.acquiredMatches} | ${
      c.seconds.toFixed(0)
    } s |`
  ),
  "",
  ...checks.flatMap((c) => c.mismatches.map((m) => `- ${c.result}: ${m}`)),
  "",
];
await writeTextAtomic("results/reproduction.md", lines.join("\n"));
await writeTextAtomic("results/reproduction.json", JSON.stringify(checks, null, 2) + "\n");
console.log(lines.join("\n"));
