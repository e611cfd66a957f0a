/**
 * `deno task bench`: speed and memory of the tensor work of an AL experiment,
 * for the Gal MNIST CNN and the CIFAR small CNN at batch 128, on the
 * auto-selected backend with its thread count. Every measure runs in its own
 * child process (its own backend, threads and peak RSS), and each is set
 * against a baseline measured in the same run:
 *
 * - training, eval forward, MC-dropout forward and an AL round: against the
 *   same work on one wasm thread, and training also against the stock wasm
 *   kernels; where `python3` has PyTorch, against PyTorch on the same nets
 *   (bench/torch_reference.py) with as many threads as ours;
 * - pool scoring (BALD, T = 100): last-layer-only sampling and shared conv
 *   features against full-net MC (T complete passes), and the peak RSS of
 *   scoring a pool against one 4x larger;
 * - a cached rerun of a shortened default example against its first run.
 *
 * Prints a markdown table (stdout) and writes `results/bench/<date>.json` and
 * `.md`. Flags: `--backend <name>` (default auto), `--quick` (small sizes),
 * `--only train,forward,pool,round,cache,torch` (default all of these), and
 * the older sections `posteriors`, `acquire`, `kernels`, and `sweep` (a small
 * real sweep on each executor, `bench/sweep_bench.ts`), run only when named.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parseBackend, selectBackend } from "../pipeline/tensor/backend.ts";
import { registerWasmGradKernels, restoreWasmKernels } from "../pipeline/tensor/kernels/mod.ts";
import { benchWasmGradKernels } from "../pipeline/tensor/kernels/wasm_grad_bench.ts";
import { benchAcquisition } from "./acquire_bench.ts";
import { benchPosteriors, type BenchRow } from "./posterior_bench.ts";
import {
  alRound,
  evalPass,
  forwardRate,
  fullNetMc,
  lastLayerOnly,
  mcPass,
  type ModelName,
  models,
  peakRssMiB,
  poolScoringRate,
  sizes,
  T,
  trainingRate,
} from "./sections.ts";
import { benchCachedRerun } from "./cache_bench.ts";
import { benchSweep } from "./sweep_bench.ts";
import type { Net } from "../pipeline/tensor/net.ts";
import { mcDropoutPosterior, type Posterior } from "../pipeline/tensor/posterior.ts";

/** What one child measured. */
interface ChildResult {
  readonly values: Record<string, number>;
  readonly peakRssMiB: number;
  readonly backend: string;
  readonly threads: number;
}

/** One row of the table. */
interface Row extends BenchRow {
  readonly peakRssMiB?: number;
}

const args = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string", default: "auto" },
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    child: { type: "string" },
    model: { type: "string", default: "gal" },
    pool: { type: "string" },
    stock: { type: "boolean", default: false },
  },
});
const requested = parseBackend(args.values.backend ?? "auto");
if (requested.startsWith("--")) {
  console.error(requested);
  Deno.exit(2);
}
const quick = args.values.quick ?? false;
const size = quick ? sizes.quick : sizes.full;
const log = (m: string) => console.error(`bench: ${m}`);

if (args.values.child !== undefined) {
  await runChild(args.values.child);
} else {
  await runParent();
}

/** Runs one measure in this (child) process and prints its result as the last stdout line. */
async function runChild(section: string): Promise<void> {
  const info = await selectBackend(requested as Parameters<typeof selectBackend>[0], () => {});
  if (args.values.stock) restoreWasmKernels();
  else if (info.name === "wasm") registerWasmGradKernels();
  const model = models[args.values.model as ModelName];
  if (model === undefined) throw new Error(`--model: unknown model "${args.values.model}"`);
  const spec = model.spec;
  const values: Record<string, number> = {};
  const pool = Number(args.values.pool ?? size.pool);
  switch (section) {
    case "train":
      values.imagesPerSecond = await trainingRate(spec, size.batches);
      break;
    case "forward":
      values.eval = await forwardRate(spec, size.batches, evalPass);
      values.mc = await forwardRate(spec, size.batches, mcPass());
      break;
    case "pool-full":
      values.itemsPerSecond = await poolScoringRate(spec, size.fullNetItems, (net) => fullNetMc(net, T), log);
      break;
    case "pool-shared":
      values.itemsPerSecond = await poolScoringRate(spec, pool, (net) => mcDropoutPosteriorOf(net), log);
      break;
    case "pool-last":
      values.itemsPerSecond = await poolScoringRate(lastLayerOnly(spec), pool, (net) => mcDropoutPosteriorOf(net), log);
      break;
    case "round": {
      const r = await alRound(spec, size, log);
      values.train = r.train;
      values.score = r.score;
      break;
    }
    case "cache": {
      const r = await benchCachedRerun(quick, log);
      Object.assign(values, r);
      break;
    }
    default:
      throw new Error(`unknown bench section "${section}"`);
  }
  const result: ChildResult = { values, peakRssMiB: peakRssMiB(), backend: info.name, threads: info.threads };
  console.log(JSON.stringify(result));
}

/** The MC-dropout posterior of the pool measures: T samples, consistent masks (as BatchBALD needs). */
function mcDropoutPosteriorOf(net: Net): Posterior {
  return mcDropoutPosterior(net, T, 11);
}

/** Runs a section in a child process; `threads` sets DBAL_WASM_THREADS there. */
async function child(
  section: string,
  opts: { model?: ModelName; threads?: number; pool?: number; stock?: boolean } = {},
): Promise<ChildResult> {
  const flags = [`--child=${section}`, `--model=${opts.model ?? "gal"}`, `--backend=${requested}`];
  if (quick) flags.push("--quick");
  if (opts.pool !== undefined) flags.push(`--pool=${opts.pool}`);
  if (opts.stock) flags.push("--stock");
  const env: Record<string, string> = {};
  if (opts.threads !== undefined) env.DBAL_WASM_THREADS = String(opts.threads);
  const what = `${section} ${opts.model ?? "gal"}${opts.threads ? `, ${opts.threads} thread(s)` : ""}${
    opts.stock ? ", stock kernels" : ""
  }${opts.pool ? `, pool ${opts.pool}` : ""}`;
  log(`${what} ...`);
  const start = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename ?? "bench/bench.ts", ...flags],
    env,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (out.code !== 0) throw new Error(`bench child "${what}" failed (exit ${out.code})`);
  const result = JSON.parse(text.split("\n").at(-1) as string) as ChildResult;
  log(`${what}: ${JSON.stringify(result.values)} in ${((performance.now() - start) / 1000).toFixed(0)} s`);
  return result;
}

/** PyTorch on the same nets, where `python3` has it; undefined otherwise. */
async function torchReference(threads: number): Promise<
  | {
    torch: string;
    threads: number;
    gal: { train: number; forward: number };
    cifar: { train: number; forward: number };
  }
  | undefined
> {
  for (const python of ["python3", "/usr/bin/python3"]) {
    try {
      const out = await new Deno.Command(python, {
        args: [
          new URL("./torch_reference.py", import.meta.url).pathname,
          "--threads",
          String(threads),
          "--batches",
          String(size.batches),
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (out.code === 0) return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) as string);
    } catch { /* no such interpreter */ }
  }
  return undefined;
}

async function runParent(): Promise<void> {
  const info = await selectBackend(requested as Parameters<typeof selectBackend>[0]);
  log(`backend ${info.name}, ${info.threads} thread(s)${quick ? ", quick sizes" : ""}`);
  const only = args.values.only?.split(",");
  const defaults = ["train", "forward", "pool", "round", "cache", "torch"];
  const want = (s: string) => only === undefined ? defaults.includes(s) : only.includes(s);
  const wasm = info.name === "wasm";
  const rows: Row[] = [];
  const single = wasm && info.threads > 1;

  /** One row per baseline given (none: one row without a baseline). */
  const compared = (
    what: string,
    value: number,
    unit: string,
    peakRssMiB: number,
    baselines: readonly (Row["baseline"] | undefined)[],
  ) => {
    const given = baselines.filter((b) => b !== undefined);
    if (given.length === 0) rows.push({ what, value, unit, peakRssMiB });
    for (const baseline of given) rows.push({ what, value, unit, baseline, peakRssMiB });
  };

  const torch = want("torch") ? await torchReference(info.threads) : undefined;
  if (want("torch") && torch === undefined) log("PyTorch not found (python3 -c 'import torch'): its rows are left out");

  for (const m of ["gal", "cifar"] as const) {
    const label = models[m].label;
    if (want("train")) {
      const ours = await child("train", { model: m });
      const one = single ? await child("train", { model: m, threads: 1 }) : undefined;
      const stock = wasm ? await child("train", { model: m, stock: true }) : undefined;
      compared(`${label}: training, batch 128`, ours.values.imagesPerSecond as number, "images/s", ours.peakRssMiB, [
        torch && { what: `PyTorch ${torch.torch}, ${torch.threads} threads`, value: torch[m].train },
        one && { what: "same, 1 wasm thread", value: one.values.imagesPerSecond as number },
        stock && {
          what: "stock wasm kernels (+ our filter grad), same threads",
          value: stock.values.imagesPerSecond as number,
        },
      ]);
    }
    if (want("forward")) {
      const ours = await child("forward", { model: m });
      const one = single ? await child("forward", { model: m, threads: 1 }) : undefined;
      compared(`${label}: forward, eval mode`, ours.values.eval as number, "images/s", ours.peakRssMiB, [
        torch && { what: `PyTorch ${torch.torch}, ${torch.threads} threads`, value: torch[m].forward },
        one && { what: "same, 1 wasm thread", value: one.values.eval as number },
      ]);
      compared(
        `${label}: MC-dropout forward (one sample per image, dropout on)`,
        ours.values.mc as number,
        "images/s",
        ours.peakRssMiB,
        [one && { what: "same, 1 wasm thread", value: one.values.mc as number }],
      );
    }
    if (want("pool")) {
      const full = await child("pool-full", { model: m });
      const shared = await child("pool-shared", { model: m });
      const last = await child("pool-last", { model: m });
      const big = await child("pool-last", { model: m, pool: 4 * size.pool });
      const baseline = {
        what: `full-net MC: ${T} complete passes (${size.fullNetItems} items, extrapolated)`,
        value: full.values.itemsPerSecond as number,
      };
      rows.push({
        what: `${label}: BALD over ${size.pool} pool items, T=${T}, last-layer-only sampling`,
        value: last.values.itemsPerSecond as number,
        unit: "items/s",
        baseline,
        peakRssMiB: last.peakRssMiB,
      });
      rows.push({
        what: `${label}: BALD over ${size.pool} pool items, T=${T}, MC dropout with conv features shared`,
        value: shared.values.itemsPerSecond as number,
        unit: "items/s",
        baseline,
        peakRssMiB: shared.peakRssMiB,
      });
      rows.push({
        what: `${label}: peak RSS scoring ${4 * size.pool} items (last-layer-only, chunks of 256)`,
        value: big.peakRssMiB,
        unit: "MiB",
        baseline: { what: `scoring ${size.pool} items`, value: last.peakRssMiB },
        peakRssMiB: big.peakRssMiB,
      });
    }
    if (want("round")) {
      const ours = await child("round", { model: m });
      const one = single ? await child("round", { model: m, threads: 1 }) : undefined;
      const secs = (r: ChildResult) => (r.values.train as number) + (r.values.score as number);
      compared(
        `${label}: one AL round: train ${size.roundLabels} labels x ${size.roundEpochs} epochs (${
          (ours.values.train as number).toFixed(1)
        } s) + BALD over ${size.pool} items, T=20 (${(ours.values.score as number).toFixed(1)} s)`,
        secs(ours),
        "s",
        ours.peakRssMiB,
        [one && { what: "same, 1 wasm thread", value: secs(one) }],
      );
    }
  }
  if (want("cache")) {
    const r = await child("cache");
    if (r.values.skipped) {
      rows.push({ what: "cached rerun: skipped (no MNIST files; set DBAL_DATA)", value: NaN, unit: "" });
    } else {
      rows.push({
        what: `cached rerun of examples/mnist-bald.ts shortened (${r.values.runs} runs, ${r.values.rounds} rounds): ${
          (100 * (r.values.rerun as number) / (r.values.first as number)).toFixed(2)
        }% of the first run`,
        value: r.values.rerun as number,
        unit: "s",
        baseline: { what: "its first run, empty cache", value: r.values.first as number },
        peakRssMiB: r.peakRssMiB,
      });
    }
  }
  if (only?.includes("posteriors")) {
    rows.push(...(await benchPosteriors({ samples: T, batches: quick ? 1 : 3, pool: size.pool, log })));
  }
  if (only?.includes("acquire")) {
    rows.push(...(await benchAcquisition({ samples: T, pool: size.pool, batch: 10, log })));
  }
  if (only?.includes("sweep")) {
    const dataDir = Deno.env.get("DBAL_DATA") ?? `${Deno.env.get("HOME")}/.cache/dbal/data`;
    rows.push(...(await benchSweep({ dataDir, workers: navigator.hardwareConcurrency, log })));
  }
  if (only?.includes("kernels") && wasm) {
    for (const k of await benchWasmGradKernels(quick ? { reps: 2 } : {})) {
      rows.push({
        what: `kernel ${k.kernel}, ${k.case}`,
        value: k.oursMs,
        unit: "ms/call",
        baseline: { what: k.baseline, value: k.baselineMs },
      });
    }
  }
  const lowerIsBetter = (r: Row) => r.unit === "ms/call" || r.unit === "s" || r.unit === "MiB";
  const ratio = (r: Row) =>
    r.baseline ? (lowerIsBetter(r) ? r.baseline.value / r.value : r.value / r.baseline.value) : undefined;
  const fmt = (v: number) => (Number.isNaN(v) ? "" : v >= 100 ? v.toFixed(0) : v.toPrecision(3));
  const header = `Backend ${info.name}, ${info.threads} thread(s), Deno ${Deno.version.deno}, ${
    new Date().toISOString()
  }${quick ? ", --quick sizes" : ""}`;
  const table = [
    header,
    "",
    "Ratio: how many times better than the baseline (for s and MiB, baseline / value; otherwise value / baseline).",
    "",
    "| measure | value | unit | baseline (same run) | baseline value | ratio | peak RSS (MiB) |",
    "| --- | ---: | --- | --- | ---: | ---: | ---: |",
    ...rows.map((r) => {
      const x = ratio(r);
      return `| ${r.what} | ${fmt(r.value)} | ${r.unit} | ${r.baseline?.what ?? ""} | ${
        r.baseline ? fmt(r.baseline.value) : ""
      } | ${x === undefined ? "" : `${x.toFixed(2)}x`} | ${
        r.peakRssMiB === undefined ? "" : r.peakRssMiB.toFixed(0)
      } |`;
    }),
  ].join("\n");
  console.log(table);
  await Deno.mkdir("results/bench", { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  const backendTag = info.name === "wasm" ? "" : `-${info.name}`;
  const stem = `results/bench/${date}${backendTag}${only ? `-${only.join("-")}` : ""}${quick ? "-quick" : ""}`;
  const json = {
    date: new Date().toISOString(),
    backend: info.name,
    threads: info.threads,
    deno: Deno.version.deno,
    quick,
    sizes: size,
    rows: rows.map((r) => ({ ...r, ratio: ratio(r) })),
  };
  await Deno.writeTextFile(`${stem}.json`, JSON.stringify(json, null, 2) + "\n");
  await Deno.writeTextFile(`${stem}.md`, table + "\n");
  log(`wrote ${stem}.json and ${stem}.md`);
}
