/** A tiny MNIST experiment used by the end-to-end tests (seconds, not minutes). */
import { experiment } from "../mod.ts";

export default experiment({
  name: "tiny-mnist",
  dataset: "mnist",
  model: {
    inputShape: [28, 28, 1],
    layers: [
      { kind: "conv2d", filters: 8, kernel: 3, activation: "relu", padding: "valid" },
      { kind: "maxPool", size: 2 },
      { kind: "dropout", rate: 0.25 },
      { kind: "flatten" },
      { kind: "dense", units: 32, activation: "relu" },
      { kind: "dropout", rate: 0.5 },
      { kind: "dense", units: 10, activation: "linear" },
    ],
  },
  initialPerClass: 2,
  acquireSize: 10,
  acquisitions: ["bald", "random"],
  rounds: 2,
  poolSubset: 100,
  testSubset: 100,
  mcSamples: 5,
  seeds: [0],
  train: { epochs: 10, batchSize: 16, learningRate: 3e-3, weightDecay: 0, init: "scratch" },
});
