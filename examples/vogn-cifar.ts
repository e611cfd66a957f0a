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
 * Selection by the whole net trained with VOGN (`vogn`, the talk's
 * procedure: `pipeline/tensor/vogn_net.ts`) runs beside selection by a VOGN
 * head on the Adam-trained net's features (`vognHead`), by MC dropout, and by
 * the deterministic net. Every strategy is evaluated by the same predictor
 * (`evaluator`: MC dropout over the round's Adam-trained net, T = 10), so the
 * table compares the selections alone. Ours continues on the initial and the
 * second subsample together. The default size (500 + 500 labels, 15 epochs,
 * 5,000 pool items scored, 1 seed) ran in 2m00s on 2 cores; `--full` (5,000 +
 * 5,000 labels, the whole pool and test set, 3 seeds) in 57m45s
 * (`results/vogn-cifar-full/verdict.md`).
 *
 * Run: `deno task exp examples/vogn-cifar.ts` (add `--full` for the larger setting).
 */
import {
  deterministic,
  experiment,
  margin,
  maxEntropy,
  mcDropout,
  random,
  smallCnn,
  strategy,
  topK,
  topU,
  vogn,
  vognHead,
} from "../mod.ts";

const wholeNet = vogn({ samples: 10 });
const head = vognHead({ samples: 10 });
const strategies = (k: number) => [
  strategy({ name: "vogn-net-top-2", posterior: wholeNet, score: topU(2), acquire: topK(k) }),
  strategy({ name: "vogn-net-entropy", posterior: wholeNet, score: maxEntropy, acquire: topK(k) }),
  strategy({ name: "vogn-head-top-2", posterior: head, score: topU(2), acquire: topK(k) }),
  strategy({ name: "vogn-head-entropy", posterior: head, score: maxEntropy, acquire: topK(k) }),
  strategy({ name: "mc-dropout-entropy", posterior: mcDropout({ samples: 10 }), score: maxEntropy, acquire: topK(k) }),
  strategy({ name: "det-entropy", posterior: deterministic(), score: maxEntropy, acquire: topK(k) }),
  strategy({ name: "det-difference", posterior: deterministic(), score: margin, acquire: topK(k) }),
  strategy({ name: "random", posterior: deterministic(), score: random, acquire: topK(k) }),
];

export default experiment({
  name: "vogn-cifar",
  description: "The VOGN talk's procedure on CIFAR-10: initial subsample, a second one chosen by Bayesian " +
    "(whole-net VOGN, VOGN head, MC dropout; top-u entropy over N=10 or entropy) or non-Bayesian (entropy, " +
    "difference) uncertainty or at random, continued training, all evaluated by the same MC-dropout predictor.",
  dataset: "cifar10",
  model: smallCnn(10),
  initialPerClass: 50,
  strategies: strategies(500),
  evaluator: mcDropout({ samples: 10 }),
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
