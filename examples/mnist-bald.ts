/**
 * Gal, Islam & Ghahramani, "Deep Bayesian Active Learning with Image Data"
 * (ICML 2017), on MNIST: a Bayesian CNN with MC dropout, 20 balanced initial
 * labels, 10 acquired per round, five acquisition functions.
 *
 * The default size runs in minutes on 2 CPU cores; `--full` gives the paper's
 * scale (100 rounds to 1,000 labels, the whole test set, 3 seeds).
 *
 * Run: `deno task exp examples/mnist-bald.ts` (add `--full` for the paper's scale).
 */
import {
  bald,
  experiment,
  galCnn,
  maxEntropy,
  mcDropout,
  meanStd,
  random,
  strategy,
  topK,
  variationRatios,
} from "../mod.ts";

/** Every strategy samples the same MC-dropout posterior (T = 20) and takes the top 10 per round. */
const posterior = mcDropout({ samples: 20 });
const acquire = topK(10);

export default experiment({
  name: "mnist-bald",
  description: "Gal et al. 2017 on MNIST: MC-dropout Bayesian CNN, acquisition by BALD, max entropy, " +
    "variation ratios, mean std and random.",
  dataset: "mnist",
  model: galCnn(10, [28, 28, 1]),
  initialPerClass: 2,
  strategies: [bald, maxEntropy, variationRatios, meanStd, random].map((score) =>
    strategy({ posterior, score, acquire })
  ),
  rounds: 4,
  poolSubset: 2000,
  testSubset: 1000,
  seeds: [0],
  train: { epochs: 50, batchSize: 32, learningRate: 1e-3, weightDecay: 1e-4, init: "scratch" },
  full: {
    rounds: 98,
    testSubset: 0,
    seeds: [0, 1, 2],
  },
});
