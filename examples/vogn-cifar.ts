/**
 * The computer-vision procedure of the Bayesian-learning-rule talk
 * (`000_*.txt`) on CIFAR-10:
 * 1. train on an initial subsample of the training set;
 * 2. choose a second subsample by Bayesian uncertainty (a VOGN-fitted
 *    Gaussian softmax head, N = 10 samples, top-u entropy or max entropy)
 *    or by non-Bayesian uncertainty of the deterministic net (entropy,
 *    "difference" 1 - (p1 - p2)), or at random;
 * 3. continue training from the first model's weights (`init: previous`);
 * 4. measure test accuracy.
 *
 * Ours continues on the initial and the second subsample together, and VOGN
 * fits the last layer only (`pipeline/tensor/vogn.ts`); the talk trains the whole
 * net with VOGN. The default size (500 + 500 labels, 15 epochs, 5,000 pool
 * items scored) runs in about ten minutes on 2 cores (estimated); `--full`
 * uses 5,000 + 5,000 labels, the whole pool and test set, and 3 seeds.
 *
 * Run: `deno task exp examples/vogn-cifar.ts` (add `--full` for the larger setting).
 */
import {
  deterministic,
  experiment,
  margin,
  maxEntropy,
  random,
  smallCnn,
  strategy,
  topK,
  topU,
  vognHead,
} from "../mod.ts";

const vogn = vognHead({ samples: 10 });
const strategies = (k: number) => [
  strategy({ name: "vogn-top-2", posterior: vogn, score: topU(2), acquire: topK(k) }),
  strategy({ name: "vogn-entropy", posterior: vogn, score: maxEntropy, acquire: topK(k) }),
  strategy({ name: "det-entropy", posterior: deterministic(), score: maxEntropy, acquire: topK(k) }),
  strategy({ name: "det-difference", posterior: deterministic(), score: margin, acquire: topK(k) }),
  strategy({ name: "random", posterior: deterministic(), score: random, acquire: topK(k) }),
];

export default experiment({
  name: "vogn-cifar",
  description: "The VOGN talk's procedure on CIFAR-10: initial subsample, a second one chosen by Bayesian " +
    "(VOGN head, top-u entropy over N=10) or non-Bayesian (entropy, difference) uncertainty, continued training.",
  dataset: "cifar10",
  model: smallCnn(10),
  initialPerClass: 50,
  strategies: strategies(500),
  rounds: 1,
  poolSubset: 5000,
  testSubset: 2000,
  seeds: [0],
  train: { epochs: 15, batchSize: 32, learningRate: 1e-3, weightDecay: 1e-4, init: "previous" },
  full: {
    initialPerClass: 500,
    strategies: strategies(5000),
    poolSubset: 0,
    testSubset: 0,
    seeds: [0, 1, 2],
  },
});
