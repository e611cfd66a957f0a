/**
 * Kirsch, van Amersfoort & Gal 2019 (BatchBALD) on MNIST at their scale:
 * random, BALD top-k and BatchBALD at b = 10, MC dropout with consistent
 * masks (T = 20, which BatchBALD needs for joint samples), 20 balanced
 * initial labels, until 95% accuracy on the whole test set (or 400 labels),
 * 3 seeds: the labels each needs for 90% and 95% go beside the paper's.
 *
 * A long study: run it with its cache outside the work tree so that a stopped
 * run resumes, e.g.
 * `deno task exp examples/batchbald-study.ts --cache-dir ~/.cache/dbal/batchbald-study`.
 */
import { bald, batchBald, experiment, galCnn, mcDropout, random, strategy, topK } from "../mod.ts";

const posterior = mcDropout({ samples: 20, consistent: true });
export default experiment({
  name: "batchbald-study",
  description: "Kirsch et al. 2019 on MNIST: random vs BALD top-k vs BatchBALD, b = 10, consistent MC dropout " +
    "(T = 20), to 95% test accuracy, 3 seeds.",
  dataset: "mnist",
  model: galCnn(10, [28, 28, 1]),
  initialPerClass: 2,
  strategies: [
    strategy({ name: "random", posterior, score: random, acquire: topK(10) }),
    strategy({ name: "bald", posterior, score: bald, acquire: topK(10) }),
    strategy({ name: "batch-bald", posterior, score: bald, acquire: batchBald(10) }),
  ],
  rounds: 38,
  poolSubset: 5000,
  testSubset: 0,
  seeds: [0, 1, 2],
  train: { epochs: 50, batchSize: 32, learningRate: 1e-3, weightDecay: 1e-4, init: "scratch" },
  stop: { accuracy: 0.95 },
});
