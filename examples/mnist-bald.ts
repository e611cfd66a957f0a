/**
 * Gal, Islam & Ghahramani, "Deep Bayesian Active Learning with Image Data"
 * (ICML 2017), on MNIST: a Bayesian CNN with MC dropout, 20 balanced initial
 * labels, 10 acquired per round, five acquisition functions; and, as in
 * their comparison with deterministic nets, the same net without dropout at
 * prediction time, acquiring by max entropy and by variation ratios (which
 * for one softmax is 1 - max p, least confidence).
 *
 * The default size (3 seeds, 20 → 60 labels) runs in about half an hour on
 * 2 CPU cores; `--full` gives the paper's scale (98 rounds to 1,000 labels,
 * the whole test set), where the labels needed for 90% and 95% accuracy can
 * be compared with their Table 1.
 *
 * Run: `deno task exp examples/mnist-bald.ts` (add `--full` for the paper's scale).
 */
import {
  bald,
  deterministic,
  experiment,
  galCnn,
  leastConfidence,
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
    "variation ratios, mean std and random, and the same net deterministic with max entropy and variation ratios.",
  dataset: "mnist",
  model: galCnn(10, [28, 28, 1]),
  initialPerClass: 2,
  strategies: [
    ...[bald, maxEntropy, variationRatios, meanStd, random].map((score) => strategy({ posterior, score, acquire })),
    strategy({ name: "det-max-entropy", posterior: deterministic(), score: maxEntropy, acquire }),
    strategy({ name: "det-variation-ratios", posterior: deterministic(), score: leastConfidence, acquire }),
  ],
  rounds: 4,
  poolSubset: 2000,
  testSubset: 1000,
  seeds: [0, 1, 2],
  train: { epochs: 50, batchSize: 32, learningRate: 1e-3, weightDecay: 1e-4, init: "scratch" },
  full: {
    rounds: 98,
    testSubset: 0,
    seeds: [0, 1, 2],
  },
});
