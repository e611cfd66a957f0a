/**
 * The main example: does Bayesian acquisition label less than random? Gal,
 * Islam & Ghahramani 2017's setup on real MNIST (the Gal CNN, MC dropout with
 * T = 20, 20 balanced initial labels, 10 acquired per round from a random
 * 2,000-item pool subset, 50 epochs from scratch each round), acquiring by
 * variation ratios (their best function in Table 1) or at random, 3 seeds,
 * from 20 to 140 labels, tested on 2,000 test images.
 *
 * The label range comes from `results/gal-table1/`: between about 80 and 150
 * labels variation ratios is ahead of random by more than the spread over
 * seeds (at 100 labels, 87.4 ± 1.5% against 82.2 ± 1.7% there). About ten
 * minutes on 2 cores with the default two local workers.
 *
 * Run: `deno task exp examples/bayesian-vs-random.ts`; `--full` continues to
 * 300 labels on the whole test set.
 */
import { experiment, galCnn, mcDropout, random, strategy, topK, variationRatios } from "../mod.ts";

const posterior = mcDropout({ samples: 20 });
const acquire = topK(10);

export default experiment({
  name: "bayesian-vs-random",
  description: "Does Bayesian acquisition label less than random? MC-dropout CNN on MNIST (Gal et al. 2017), " +
    "variation ratios vs random, 10 labels per round from 20 to 140, 3 seeds.",
  dataset: "mnist",
  model: galCnn(10, [28, 28, 1]),
  initialPerClass: 2,
  strategies: [variationRatios, random].map((score) => strategy({ posterior, score, acquire })),
  rounds: 12,
  poolSubset: 2000,
  testSubset: 2000,
  seeds: [0, 1, 2],
  train: { epochs: 50, batchSize: 32, learningRate: 1e-3, weightDecay: 1e-4, init: "scratch" },
  full: { rounds: 28, testSubset: 0 },
});
