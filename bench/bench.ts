/**
 * `deno task bench`: throughput of the Gal MNIST CNN on the selected backend
 * (training, eval-mode forward, MC-dropout scoring) and of the wasm gradient
 * kernels, each against a baseline measured in the same process. Prints a
 * markdown table and writes `results/bench/<date>.json`.
 *
 * Flags: `--backend <name>` (default auto), `--quick` (fewer repetitions, a
 * 10,000-item pool instead of 60,000 for memory, 2,000 for acquisition),
 * `--only train,forward,posteriors,acquire,kernels`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { galCnn } from "../dsl/model.ts";
import { parseBackend, selectBackend } from "../pipeline/backend.ts";
import { registerWasmGradKernels, restoreWasmKernels } from "../pipeline/kernels/mod.ts";
import { benchWasmGradKernels } from "../pipeline/kernels/wasm_grad_bench.ts";
import { applyLayers, createNet, disposeNet, features, mcLogProbs } from "../pipeline/net.ts";
import { makeRng } from "../pipeline/rng.ts";
import { trainNet } from "../pipeline/train.ts";
import { benchAcquisition } from "./acquire_bench.ts";
import { benchPosteriors } from "./posterior_bench.ts";

interface Row {
  readonly what: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: { readonly what: string; readonly value: number };
}

const args = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string", default: "auto" },
    quick: { type: "boolean", default: false },
    only: { type: "string" },
  },
});
const requested = parseBackend(args.values.backend ?? "auto");
if (requested.startsWith("--")) {
  console.error(requested);
  Deno.exit(2);
}
const quick = args.values.quick ?? false;
const info = await selectBackend(requested as Parameters<typeof selectBackend>[0]);
console.error(`bench: backend ${info.name}, ${info.threads} thread(s)`);

const BATCH = 128;
const spec = galCnn(10, [28, 28, 1]);
const rng = makeRng(1);

function randomImages(n: number): tf.Tensor4D {
  return tf.randomUniform([n, 28, 28, 1], 0, 1, "float32", 7) as tf.Tensor4D;
}

/** Training images/s: `batches` steps of batch 128 after one warm-up step. */
async function trainingRate(batches: number): Promise<number> {
  const net = createNet(spec, 1);
  const n = BATCH * batches;
  const x = randomImages(n);
  const y = Int32Array.from({ length: n }, (_, i) => i % 10);
  try {
    // Warm-up: one step compiles kernels and allocates.
    const warm = tf.slice(x, [0, 0, 0, 0], [BATCH, 28, 28, 1]);
    await trainNet(net, warm, y.subarray(0, BATCH), 10, {
      epochs: 1,
      batchSize: BATCH,
      learningRate: 1e-3,
      weightDecay: 0,
      seed: 1,
    });
    warm.dispose();
    const report = await trainNet(net, x, y, 10, {
      epochs: 1,
      batchSize: BATCH,
      learningRate: 1e-3,
      weightDecay: 0,
      seed: 2,
    });
    return report.imagesPerSecond;
  } finally {
    x.dispose();
    disposeNet(net);
  }
}

/** Images/s of `run` on `batches` batches of 128, after a warm-up batch. */
async function forwardRate(batches: number, run: (x: tf.Tensor4D) => tf.Tensor): Promise<number> {
  const x = randomImages(BATCH);
  try {
    const warm = run(x);
    await warm.data();
    warm.dispose();
    const start = performance.now();
    for (let i = 0; i < batches; i++) {
      const out = run(x);
      await out.data();
      out.dispose();
    }
    return (BATCH * batches) / ((performance.now() - start) / 1000);
  } finally {
    x.dispose();
  }
}

const rows: Row[] = [];
const reps = quick ? 2 : 6;
const only = args.values.only;
const want = (section: string) => only === undefined || only.split(",").includes(section);

if (want("train") && info.name === "wasm") {
  restoreWasmKernels();
  const stock = await trainingRate(Math.max(1, reps / 2));
  registerWasmGradKernels();
  const ours = await trainingRate(reps);
  rows.push({
    what: "train Gal CNN, batch 128",
    value: ours,
    unit: "images/s",
    baseline: { what: "stock wasm kernels + our filter grad", value: stock },
  });
} else if (want("train")) {
  rows.push({ what: "train Gal CNN, batch 128", value: await trainingRate(reps), unit: "images/s" });
}

if (want("forward")) {
  const net = createNet(spec, 1);
  const evalRate = await forwardRate(
    reps,
    (x) => tf.tidy(() => applyLayers(net, x, 0, spec.layers.length, { kind: "off" })),
  );
  rows.push({ what: "forward, eval mode (dropout off)", value: evalRate, unit: "images/s" });
  const T = 20;
  const fullMc = await forwardRate(
    Math.max(1, reps / 2),
    (x) =>
      tf.tidy(() =>
        tf.concat(Array.from({ length: T }, () => applyLayers(net, x, 0, spec.layers.length, { kind: "sample", rng })))
      ),
  );
  const sharedMc = await forwardRate(reps, (x) =>
    tf.tidy(() => {
      const f = features(net, x);
      return mcLogProbs(net, f, T, rng);
    }));
  rows.push({
    what: `MC dropout, T=${T}, conv features shared`,
    value: sharedMc,
    unit: "images/s",
    baseline: { what: `T full forward passes`, value: fullMc },
  });
  disposeNet(net);
}

if (want("posteriors")) {
  rows.push(
    ...(await benchPosteriors({
      samples: 100,
      batches: quick ? 1 : 3,
      pool: quick ? 10_000 : 60_000,
      log: (m) => console.error(`bench: ${m}`),
    })),
  );
}

if (want("acquire")) {
  rows.push(
    ...(await benchAcquisition({
      samples: 100,
      pool: quick ? 2_000 : 10_000,
      batch: 10,
      log: (m) => console.error(`bench: ${m}`),
    })),
  );
}

if (want("kernels") && info.name === "wasm") {
  for (const k of await benchWasmGradKernels(quick ? { reps: 2 } : {})) {
    rows.push({
      what: `kernel ${k.kernel}, ${k.case}`,
      value: k.oursMs,
      unit: "ms/call",
      baseline: { what: k.baseline, value: k.baselineMs },
    });
  }
}

const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v.toPrecision(3));
const table = [
  `Backend ${info.name}, ${info.threads} thread(s), Deno ${Deno.version.deno}, ${new Date().toISOString()}`,
  "",
  "| measure | value | unit | baseline (same run) | baseline value | ratio |",
  "| --- | ---: | --- | --- | ---: | ---: |",
  ...rows.map((r) => {
    const ratio = r.baseline
      ? (r.unit === "ms/call" ? r.baseline.value / r.value : r.value / r.baseline.value).toFixed(
        2,
      ) +
        "x"
      : "";
    return `| ${r.what} | ${fmt(r.value)} | ${r.unit} | ${r.baseline?.what ?? ""} | ${
      r.baseline ? fmt(r.baseline.value) : ""
    } | ${ratio} |`;
  }),
  "",
  `RSS of the process at the end: ${(Deno.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB.`,
];
console.log(table.join("\n"));
await Deno.mkdir("results/bench", { recursive: true });
const date = new Date().toISOString().slice(0, 10);
await Deno.writeTextFile(
  `results/bench/${date}${only ? `-${only.replaceAll(",", "-")}` : ""}.json`,
  JSON.stringify({ date: new Date().toISOString(), backend: info.name, threads: info.threads, rows }, null, 2) + "\n",
);
