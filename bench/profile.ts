/**
 * Where a training step's time goes: one Adam step of batch 128 on the Gal
 * MNIST CNN or the CIFAR small CNN (random inputs, dropout on), timed over 20
 * steps after 3 warm-up steps, then 5 steps under `tf.profile`, whose
 * per-kernel times (the wasm backend times each kernel call) are averaged and
 * printed as a markdown table, largest first, with each kernel's input shapes.
 *
 * Usage: `deno run -A bench/profile.ts gal|cifar [--backend wasm] [--out FILE]`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { type BackendRequest, parseBackend, selectBackend } from "../pipeline/tensor/backend.ts";
import { applyLayers, createNet, netVariables } from "../pipeline/tensor/net.ts";
import { makeRng } from "../pipeline/tensor/rng.ts";
import { imagesToTensor } from "../pipeline/tensor/train.ts";
import { type ModelName, models, randomImages } from "./sections.ts";

const args = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { backend: { type: "string" }, out: { type: "string" } },
});
const model = (args.positionals[0] ?? "cifar") as ModelName;
if (!(model in models)) throw new Error(`bench/profile.ts: unknown net "${model}" (gal or cifar)`);
const wanted = args.values.backend ?? "wasm";
const parsed = parseBackend(wanted);
if (parsed !== wanted) throw new Error(`bench/profile.ts: --backend: ${parsed}`);
const backend = await selectBackend(parsed as BackendRequest);

const { spec, label } = models[model];
const BATCH = 128;
const net = createNet(spec, 1);
const x = imagesToTensor(randomImages(spec, BATCH, 7), Array.from({ length: BATCH }, (_, i) => i));
const y = tf.oneHot(tf.tensor1d(Int32Array.from({ length: BATCH }, (_, i) => i % 10), "int32"), 10);
const optimizer = tf.train.adam(1e-3);
const vars = netVariables(net);
const rng = makeRng(1);
const step = (): void => {
  const loss = optimizer.minimize(
    () =>
      tf.losses.softmaxCrossEntropy(
        y,
        applyLayers(net, x, 0, spec.layers.length, { kind: "sample", rng }),
      ) as tf.Scalar,
    true,
    vars,
  );
  loss?.dataSync();
  loss?.dispose();
};

for (let i = 0; i < 3; i++) step();
const STEPS = 20;
const start = performance.now();
for (let i = 0; i < STEPS; i++) step();
const stepMs = (performance.now() - start) / STEPS;

const PROFILED = 5;
const perKernel = new Map<string, { name: string; shapes: string; ms: number; calls: number }>();
for (let i = 0; i < PROFILED; i++) {
  const info = await tf.profile(step);
  for (const k of info.kernels) {
    const shapes = JSON.stringify(k.inputShapes);
    const key = `${k.name} ${shapes}`;
    const entry = perKernel.get(key) ?? { name: k.name, shapes, ms: 0, calls: 0 };
    entry.ms += (k.kernelTimeMs as number) / PROFILED;
    entry.calls += 1 / PROFILED;
    perKernel.set(key, entry);
  }
}
const rows = [...perKernel.values()].sort((a, b) => b.ms - a.ms);
const total = rows.reduce((a, r) => a + r.ms, 0);
const lines = [
  `${label}, one Adam step of batch ${BATCH}: ${stepMs.toFixed(1)} ms (${
    (BATCH / stepMs * 1000).toFixed(0)
  } images/s), ` +
  `backend ${backend.name} with ${backend.threads} thread(s); kernels under tf.profile: ${
    total.toFixed(1)
  } ms per step.`,
  "",
  "| kernel | input shapes | ms per step | share | calls per step |",
  "| --- | --- | ---: | ---: | ---: |",
  ...rows.filter((r) => r.ms >= 0.2).map((r) =>
    `| ${r.name} | \`${r.shapes}\` | ${r.ms.toFixed(2)} | ${(100 * r.ms / total).toFixed(1)}% | ${r.calls.toFixed(0)} |`
  ),
  `| (${rows.filter((r) => r.ms < 0.2).length} others under 0.2 ms) | | ${
    rows.filter((r) => r.ms < 0.2).reduce((a, r) => a + r.ms, 0).toFixed(2)
  } | | |`,
  "",
];
const text = lines.join("\n");
console.log(text);
if (args.values.out) await Deno.writeTextFile(args.values.out, text);
