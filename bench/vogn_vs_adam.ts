/**
 * Whole-network VOGN against Adam on CIFAR-10 at equal epochs: the small CNN
 * of the examples trained on the first `--train` images of the train split,
 * both from the same initial weights, the same data order seed and the same
 * minibatch size, then tested on the first `--test` test images. Adam trains
 * with the net's dropout and weight decay as the examples do; VOGN with
 * dropout off (its weight noise replaces it). Reported per method: test
 * accuracy and NLL of the point prediction (Adam: dropout off; VOGN: its mean
 * weights) and of the predictive (Adam: MC dropout, T samples; VOGN: T
 * weight draws), and the training throughput with VOGN's as a ratio of
 * Adam's in the same process.
 *
 * Usage: `deno run -A bench/vogn_vs_adam.ts [--train 5000] [--test 2000]
 * [--epochs 10] [--samples 10] [--lr 1e-3] [--temperature 1] [--prior 1]
 * [--data-dir DIR] [--out FILE]`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { smallCnn } from "../dsl/model.ts";
import { loadImageDataset } from "../pipeline/data/datasets.ts";
import { selectBackend } from "../pipeline/tensor/backend.ts";
import { applyLayers, createNet, disposeNet, features, mcLogProbs } from "../pipeline/tensor/net.ts";
import { makeRng } from "../pipeline/tensor/rng.ts";
import { imagesToTensor, trainNet } from "../pipeline/tensor/train.ts";
import {
  disposeVognNet,
  fitVognNet,
  logitsWith,
  sampleVognWeights,
  vognNetLogProbs,
} from "../pipeline/tensor/vogn_net.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    train: { type: "string", default: "5000" },
    test: { type: "string", default: "2000" },
    epochs: { type: "string", default: "10" },
    samples: { type: "string", default: "10" },
    lr: { type: "string", default: "1e-3" },
    temperature: { type: "string", default: "1" },
    prior: { type: "string", default: "1" },
    "batch-size": { type: "string", default: "32" },
    "data-dir": { type: "string" },
    out: { type: "string" },
  },
});
const num = (k: keyof typeof args.values) => Number(args.values[k]);
const nTrain = num("train"), nTest = num("test"), epochs = num("epochs"), T = num("samples"), batch = num("batch-size");
const backend = await selectBackend("wasm");
const data = await loadImageDataset("cifar10", {
  ...(args.values["data-dir"] ? { dataDir: args.values["data-dir"] } : {}),
  download: false,
  log: (m) => console.error(m),
});
const spec = smallCnn(10);
const trainIdx = Array.from({ length: nTrain }, (_, i) => i), testIdx = Array.from({ length: nTest }, (_, i) => i);
const x = imagesToTensor(data.train, trainIdx);
const labels = Int32Array.from(trainIdx, (i) => data.train.y[i] as number);
const testLabels = Int32Array.from(testIdx, (i) => data.test.y[i] as number);
const progress = (what: string) => (e: number, loss: number, ips: number) =>
  console.error(`${what} epoch ${e + 1}/${epochs} loss ${loss.toFixed(3)} ${ips.toFixed(0)} img/s`);

/** Accuracy and mean NLL of log-probabilities [n, C] against the test labels. */
async function score(logp: tf.Tensor2D): Promise<{ accuracy: number; nll: number }> {
  const v = await logp.data(), c = logp.shape[1];
  let right = 0, nll = 0;
  for (let i = 0; i < nTest; i++) {
    let best = 0;
    for (let k = 1; k < c; k++) if (v[i * c + k]! > v[i * c + best]!) best = k;
    if (best === testLabels[i]) right++;
    nll -= v[i * c + testLabels[i]!]!;
  }
  logp.dispose();
  return { accuracy: right / nTest, nll: nll / nTest };
}

/** Log of the mean over T of exp(log-probabilities [n, T, C]). */
const meanPredictive = (lp: tf.Tensor3D) =>
  tf.tidy(() => tf.sub(tf.logSumExp(lp, 1), Math.log(lp.shape[1])) as tf.Tensor2D);

/** Runs `f` over the test set in chunks of 500 and concatenates the [n, ...] results. */
function overTest(f: (xt: tf.Tensor4D) => tf.Tensor): tf.Tensor {
  const parts: tf.Tensor[] = [];
  for (let b = 0; b < nTest; b += 500) {
    const xt = imagesToTensor(data.test, testIdx.slice(b, b + 500));
    parts.push(tf.tidy(() => f(xt)));
    xt.dispose();
  }
  const out = tf.concat(parts);
  tf.dispose(parts);
  return out;
}

// Adam, as the examples train.
const adamNet = createNet(spec, 1);
const adam = await trainNet(adamNet, x, labels, 10, {
  epochs,
  batchSize: batch,
  learningRate: 1e-3,
  weightDecay: 1e-4,
  seed: 2,
  onEpoch: progress("adam"),
});
const adamPoint = await score(
  overTest((xt) =>
    tf.logSoftmax(applyLayers(adamNet, xt, 0, spec.layers.length, { kind: "off" }) as tf.Tensor2D)
  ) as tf.Tensor2D,
);
const rng = makeRng(3);
const adamMc = await score(
  overTest((xt) => meanPredictive(mcLogProbs(adamNet, features(adamNet, xt), T, rng))) as tf.Tensor2D,
);

// VOGN from the same initial weights.
const init = createNet(spec, 1);
const start = performance.now();
const vogn = await fitVognNet(spec, x, labels, 10, {
  epochs,
  batchSize: batch,
  learningRate: num("lr"),
  temperature: num("temperature"),
  priorPrecision: num("prior"),
  seed: 2,
  initFrom: init,
  onEpoch: progress("vogn"),
});
const vognSeconds = (performance.now() - start) / 1000;
disposeNet(init);
const vognPoint = await score(overTest((xt) => tf.logSoftmax(logitsWith(spec, vogn.mean, xt))) as tf.Tensor2D);
const draws = Array.from({ length: T }, (_, t) => sampleVognWeights(vogn, t, 4));
const vognMc = await score(overTest((xt) => meanPredictive(vognNetLogProbs(vogn, xt, draws))) as tf.Tensor2D);

const pct = (v: number) => (100 * v).toFixed(1);
const lines = [
  `# Whole-net VOGN vs Adam, CIFAR-10 small CNN, ${nTrain} train / ${nTest} test images, ${epochs} epochs`,
  "",
  `- command: \`deno run -A bench/vogn_vs_adam.ts ${Deno.args.join(" ")}\``,
  `- backend: ${backend.name}, ${backend.threads} thread(s); batch ${batch}; VOGN: lr ${num("lr")}, ` +
  `temperature ${num("temperature")}, prior precision ${num("prior")} x fan-in, 1 MC draw per step; T = ${T}`,
  "",
  "| method | accuracy (point) | NLL (point) | accuracy (predictive, T) | NLL (predictive) | train img/s |",
  "| --- | ---: | ---: | ---: | ---: | ---: |",
  `| Adam (dropout, wd 1e-4) | ${pct(adamPoint.accuracy)} | ${adamPoint.nll.toFixed(3)} | ${pct(adamMc.accuracy)} | ` +
  `${adamMc.nll.toFixed(3)} | ${adam.imagesPerSecond.toFixed(0)} |`,
  `| VOGN (whole net) | ${pct(vognPoint.accuracy)} | ${vognPoint.nll.toFixed(3)} | ${pct(vognMc.accuracy)} | ` +
  `${vognMc.nll.toFixed(3)} | ${((nTrain * epochs) / vognSeconds).toFixed(0)} |`,
  "",
  `VOGN's training throughput is ${((nTrain * epochs) / vognSeconds / adam.imagesPerSecond).toFixed(2)}x Adam's.`,
];
console.log(lines.join("\n"));
if (args.values.out) await Deno.writeTextFile(args.values.out, lines.join("\n") + "\n");
disposeVognNet(vogn);
disposeNet(adamNet);
for (const d of draws) for (const l of d) if (l) tf.dispose([l.kernel, l.bias]);
x.dispose();
