/**
 * Random vs BALD (top-k) vs BatchBALD on MNIST (Kirsch, van Amersfoort & Gal,
 * NeurIPS 2019), small scale: the Gal et al. CNN, MC dropout with the same
 * T = 20 masks for every pool item (BatchBALD needs joint samples; BALD and
 * random use the same posterior so only the acquisition differs), 20 balanced
 * initial labels and 10 acquired per round.
 *
 * Run: `deno task exp examples/mnist-batchbald.ts` (`--full`: 3 seeds, more rounds).
 */
import { bald, batchBald, experiment, galCnn, mcDropout, random, strategy, topK } from "../mod.ts";

const posterior = mcDropout({ samples: 20, consistent: true });
export default experiment({
  name: "mnist-batchbald",
  description: "Kirsch et al. 2019 on MNIST, small scale: random vs BALD top-k vs BatchBALD, b = 10, " +
    "MC dropout with consistent masks (T = 20).",
  dataset: "mnist",
  model: galCnn(10, [28, 28, 1]),
  initialPerClass: 2,
  strategies: [
    strategy({ name: "random", posterior, score: random, acquire: topK(10) }),
    strategy({ name: "bald", posterior, score: bald, acquire: topK(10) }),
    strategy({ name: "batch-bald", posterior, score: bald, acquire: batchBald(10) }),
  ],
  rounds: 4,
  poolSubset: 1000,
  testSubset: 1000,
  seeds: [0],
  train: { epochs: 50, batchSize: 32, learningRate: 1e-3, weightDecay: 1e-4, init: "scratch" },
  full: { rounds: 20, poolSubset: 5000, testSubset: 0, seeds: [0, 1, 2] },
});
