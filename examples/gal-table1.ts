/**
 * Gal, Islam & Ghahramani 2017, Table 1 on MNIST: how many labels each
 * acquisition function needs for 10% test error (90% accuracy on the whole
 * test set), with the setup of `mnist-bald.ts` (the Gal CNN, MC dropout with
 * T = 20, 20 balanced initial labels, 10 acquired per round from a random
 * 2,000-item pool subset), 3 seeds. A run stops after the round that reaches
 * 90%, at 420 labels at most.
 *
 * A long study (about an hour or more on 2 cores): run it with its cache
 * outside the work tree so that a stopped run resumes, e.g.
 * `deno task exp examples/gal-table1.ts --cache-dir ~/.cache/dbal/gal-table1`.
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

const posterior = mcDropout({ samples: 20 });
const acquire = topK(10);

const table1: Parameters<typeof experiment>[0] = {
  name: "gal-table1",
  description: "Gal et al. 2017 Table 1 on MNIST: labels needed for 90% test accuracy by BALD, variation ratios, " +
    "max entropy, mean std and random (MC dropout, T = 20), 3 seeds.",
  dataset: "mnist",
  model: galCnn(10, [28, 28, 1]),
  initialPerClass: 2,
  strategies: [bald, variationRatios, maxEntropy, meanStd, random].map((score) =>
    strategy({ posterior, score, acquire })
  ),
  rounds: 40,
  poolSubset: 2000,
  testSubset: 0,
  seeds: [0, 1, 2],
  train: { epochs: 50, batchSize: 32, learningRate: 1e-3, weightDecay: 1e-4, init: "scratch" },
  stop: { accuracy: 0.9 },
};

export default experiment(table1);

/**
 * Table 1's 5% column: the same runs continued until 95% test accuracy, at
 * 500 labels at most. Every round up to 90% is the default export's, so on
 * the same cache (and the same library commit) only the rounds beyond it run
 * (`--dry-run` on the cache of `results/gal-table1`, pinned at 2f6a1aa: 1,285
 * stages restored). Measured there: 1h43m more on 2 cores, 241 rounds run
 * (`results/gal-table1-5pct`; from an empty cache, 52m33s + 1h43m).
 *
 * Run: `deno task exp examples/gal-table1.ts --export fivePercent --cache-dir ~/.cache/dbal/gal-table1`.
 */
export const fivePercent = experiment({
  ...table1,
  name: "gal-table1-5pct",
  description: "Gal et al. 2017 Table 1 on MNIST, both columns: labels needed for 90% and 95% test accuracy by " +
    "BALD, variation ratios, max entropy, mean std and random (MC dropout, T = 20), 3 seeds.",
  rounds: 48,
  stop: { accuracy: 0.95 },
});
