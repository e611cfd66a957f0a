/**
 * Beluch, Genewein, Nürnberger & Köhler, "The power of ensembles for active
 * learning in image classification" (CVPR 2018), on CIFAR-10: a deep ensemble
 * of 5 nets against MC dropout, a single deterministic net and random
 * acquisition, with variation ratios (the paper's best with ensembles) and
 * entropy.
 *
 * The paper trains a DenseNet-121 and reaches 90% with about 12,200 labels
 * (its abstract). Ours is a small CNN that trains on 2 CPU cores: the
 * default size (100 → 300 labels, one seed, 2,000 pool items scored per
 * round) runs in minutes; `--full` is the start of the paper's regime that
 * one session on 2 cores can finish: 1,000 initial labels, 500 per round to
 * 3,000, 15 epochs, 10,000 pool items scored per round, the whole test set,
 * 3 seeds (1h19m measured, `results/cifar-ensemble-full/`; run it with
 * `--cache-dir` outside the work tree).
 *
 * Each strategy is judged by its own predictor, as in the paper: the
 * ensemble strategies by the ensemble's average, MC dropout by its T passes,
 * the single net and random by the single net. An ensemble predicts better
 * than one net whatever it selected, so `commonEvaluator` runs the same
 * experiment with every strategy judged by its round's first net alone; it
 * shares every trained net, score and pick with the default one (only the
 * evaluate stage differs), so run it after it and only the evaluation runs.
 *
 * Run: `deno task exp examples/cifar-ensemble.ts` (add `--full` for the larger setting;
 * `--export commonEvaluator` for the common judge).
 */
import {
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

const cifarEnsemble: Parameters<typeof experiment>[0] = {
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
    strategies: strategies(500),
    rounds: 4,
    poolSubset: 10000,
    testSubset: 0,
    seeds: [0, 1, 2],
    train: { epochs: 15, batchSize: 32, learningRate: 1e-3, weightDecay: 1e-4, init: "scratch" },
  },
};

export default experiment(cifarEnsemble);

/**
 * The same experiment, every strategy judged by its round's first net (the
 * one a single-net strategy trains) without dropout, so that the ensemble's
 * better predictor does not count as better selection.
 *
 * Run: `deno task exp examples/cifar-ensemble.ts --export commonEvaluator` (add `--full`).
 */
export const commonEvaluator = experiment({
  ...cifarEnsemble,
  name: "cifar-ensemble-common-evaluator",
  description: cifarEnsemble.description + " Every strategy is judged by its round's first net alone.",
  evaluator: deterministic(),
});
