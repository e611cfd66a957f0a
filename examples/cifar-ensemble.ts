/**
 * Beluch, Genewein, Nürnberger & Köhler, "The power of ensembles for active
 * learning in image classification" (CVPR 2018), on CIFAR-10: a deep ensemble
 * of 5 nets against MC dropout, a single deterministic net and random
 * acquisition, with variation ratios (the paper's best with ensembles) and
 * entropy.
 *
 * The paper trains a DenseNet-121 from 1,000 to 10,000+ labels. Ours is a
 * small CNN that trains on 2 CPU cores: the default size (100 → 300 labels,
 * one seed, 2,000 pool items scored per round) runs in about half an hour;
 * `--full` (1,000 initial labels, 1,000 per round to 6,000, BALD added, 3
 * seeds, the whole pool and test set) is for a machine with a GPU or hours.
 *
 * Run: `deno task exp examples/cifar-ensemble.ts` (add `--full` for the larger setting).
 */
import {
  bald,
  deepEnsemble,
  deterministic,
  experiment,
  maxEntropy,
  mcDropout,
  random,
  smallCnn,
  strategy,
  topK,
  variationRatios,
} from "../mod.ts";

const ensemble = deepEnsemble({ members: 5 });
const mc = mcDropout({ samples: 20 });

const strategies = (k: number) => [
  strategy({ name: "ensemble-variation-ratios", posterior: ensemble, score: variationRatios, acquire: topK(k) }),
  strategy({ name: "ensemble-entropy", posterior: ensemble, score: maxEntropy, acquire: topK(k) }),
  strategy({ name: "mc-dropout-variation-ratios", posterior: mc, score: variationRatios, acquire: topK(k) }),
  strategy({ name: "single-entropy", posterior: deterministic(), score: maxEntropy, acquire: topK(k) }),
  strategy({ name: "random", posterior: deterministic(), score: random, acquire: topK(k) }),
];

export default experiment({
  name: "cifar-ensemble",
  description: "Beluch et al. 2018 on CIFAR-10: deep ensemble (5) vs MC dropout vs a single net vs random, " +
    "acquisition by variation ratios and entropy.",
  dataset: "cifar10",
  model: smallCnn(10),
  initialPerClass: 10,
  strategies: strategies(100),
  rounds: 2,
  poolSubset: 2000,
  testSubset: 2000,
  seeds: [0],
  train: { epochs: 30, batchSize: 32, learningRate: 1e-3, weightDecay: 1e-4, init: "scratch" },
  full: {
    initialPerClass: 100,
    rounds: 5,
    poolSubset: 0,
    testSubset: 0,
    seeds: [0, 1, 2],
    strategies: [
      ...strategies(1000),
      strategy({ name: "ensemble-bald", posterior: ensemble, score: bald, acquire: topK(1000) }),
      strategy({ name: "mc-dropout-bald", posterior: mc, score: bald, acquire: topK(1000) }),
    ],
  },
});
