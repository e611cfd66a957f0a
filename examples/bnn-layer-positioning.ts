/**
 * Zeng, Lesnikowski & Alvarez, "The Relevance of Bayesian Layer Positioning
 * to Model Uncertainty in Deep Bayesian Active Learning" (the poster in
 * `002_*.txt`), on MNIST: the eight architectures of their Table 1 (which of
 * Conv1, Conv2, Dense1, Dense2 have Gaussian weights trained by Bayes by
 * backprop), each with random, max entropy and variation ratios acquisition.
 *
 * Their setting: 3 trials, 200 epochs, T = 100, Adam 1e-3, batch 64, initial
 * posterior variance rho ~ N(-3, 0.1), and a sweep of its mean over -3, -5,
 * -9, -11 (their Tables 2 and 3 report test error). Ours at the default size
 * is one seed, 20 → 40 labels, 50 epochs, T = 20, 500 pool and 500 test
 * items (about half an hour on 2 cores, estimated); `--full` sweeps the initial variance and runs
 * to 1,000 labels with 3 seeds and T = 100 (days on 2 cores).
 *
 * The KL term: with the ELBO's weight of 1, a fully Bayesian net's KL over a
 * few dozen labels dwarfs the data term (`pipeline/tensor/train.ts`), so `klWeight`
 * is a config field; this example keeps the ELBO (1), as the poster states no
 * other.
 *
 * `study` below is the comparison at a budget chosen for errors under 10%
 * that 2 cores can run over several sessions (20 → 500 labels, 3 seeds).
 *
 * Run: `deno task exp examples/bnn-layer-positioning.ts` (add `--full` for their scale,
 * `--export study` for the 500-label study, `--export klPilot` for the KL-weight pilot).
 */
import {
  bayesByBackprop,
  experiment,
  hybridPreset,
  maxEntropy,
  random,
  strategy,
  topK,
  variationRatios,
} from "../mod.ts";

const posterior = bayesByBackprop({ samples: 20 });
const acquire = topK(10);

/** Table 1's architectures, by the names of `hybridPreset`. */
export const architectures = ["BNN", "BNN-1", "BNN-2", "BNN-3", "BNN1", "BNN2", "BNN3", "CNN"];

export default experiment({
  name: "bnn-layer-positioning",
  description: "Zeng, Lesnikowski & Alvarez: the eight hybrid Bayesian/deterministic architectures of their " +
    "Table 1 on MNIST, acquisition by random, max entropy and variation ratios.",
  dataset: "mnist",
  // Replaced by each grid point; a grid value is a model as YAML writes it.
  model: hybridPreset("BNN-1", 10),
  initialPerClass: 2,
  strategies: [random, maxEntropy, variationRatios].map((score) => strategy({ posterior, score, acquire })),
  rounds: 2,
  poolSubset: 500,
  testSubset: 500,
  seeds: [0],
  train: { epochs: 50, batchSize: 64, learningRate: 1e-3, weightDecay: 0, init: "scratch" },
  grid: { model: architectures.map((preset) => ({ preset, classes: 10, rhoInit: -3 })) },
  full: {
    rounds: 98,
    poolSubset: 2000,
    testSubset: 0,
    seeds: [0, 1, 2],
    train: { epochs: 200, batchSize: 64, learningRate: 1e-3, weightDecay: 0, init: "scratch" },
    strategies: [random, maxEntropy, variationRatios].map((score) =>
      strategy({ posterior: bayesByBackprop({ samples: 100 }), score, acquire })
    ),
    grid: {
      model: architectures.flatMap((preset) => [-3, -5, -9, -11].map((rhoInit) => ({ preset, classes: 10, rhoInit }))),
    },
  },
});

/**
 * A pilot for the KL weight the study at the poster's budget needs: the fully
 * Bayesian net (BNN) and the last-layer one (BNN-1) with random acquisition,
 * 20 → 70 → 120 labels, one seed, under KL weights 1 to 0.0001
 * (the poster states none; with weight 1 a whole net's KL over a hundred
 * labels is far larger than its data term). The deterministic CNN has no KL
 * term, so it is left out.
 *
 * Run: `deno task exp examples/bnn-layer-positioning.ts --export klPilot`.
 */
export const klPilot = experiment({
  name: "bnn-kl-pilot",
  description: "Which KL weight lets Bayes by backprop fit MNIST at 20-120 labels: BNN and BNN-1, random " +
    "acquisition, KL weight 1 to 0.0001.",
  dataset: "mnist",
  model: hybridPreset("BNN-1", 10),
  initialPerClass: 2,
  strategies: [strategy({ posterior, score: random, acquire: topK(50) })],
  rounds: 2,
  poolSubset: 500,
  testSubset: 2000,
  seeds: [0],
  train: { epochs: 50, batchSize: 64, learningRate: 1e-3, weightDecay: 0, init: "scratch", klWeight: 1 },
  grid: {
    model: ["BNN", "BNN-1"].map((preset) => ({ preset, classes: 10, rhoInit: -3 })),
    "train.klWeight": [1, 0.1, 0.01, 0.001, 0.0001],
  },
});

/**
 * The poster's comparison at a budget this machine can run: all eight
 * architectures × random, max entropy and variation ratios, 3 seeds, 20 →
 * 500 labels (40 per round), 50 epochs, T = 20, the ELBO's KL weight of 1,
 * initial rho -3. The budget: seed 0's first runs at 300 labels were still
 * at 86.6% (BNN, random), 89.2% (BNN, max entropy) and 87.0% (BNN-1,
 * random), above the 10% error the comparison is meant for, so it runs on to
 * 500 (rounds run to 300 before are restored from the cache).
 *
 * The KL weight: `klPilot` (BNN at 20 → 120 labels) gave the same accuracy,
 * within 1 point, for weights 1, 0.1, 0.01 and 0.001 (79.4%, 78.4%, 78.8%,
 * 79.1% at 120 labels): at a few hundred Adam steps the Gaussian layers stay
 * near their initial variance whatever the weight, so the ELBO (1) is kept.
 *
 * Against the poster: ~1,020 labels (20 + ~100 × 10), 200 epochs and T = 100
 * there; 500 labels in batches of 40, 50 epochs and T = 20 here, a random
 * 1,000-item pool subset scored per round and 1,000 test items. Its Table 2
 * is the error at its final budget, ours at 500 labels, so the comparison is
 * of the ordering. The deterministic CNN's 20 "samples" are identical, so
 * its variation ratios are 0 everywhere and top-k takes the pool subset's
 * first items: a random draw.
 *
 * Cost: a fully Bayesian net's run to 500 labels takes about half an hour
 * on one of 2 busy cores (T = 20 whole-net passes over the test and pool
 * items each round are much of it); nets Bayesian only near the output are
 * faster, since the MC passes start at the first Bayesian layer. The study
 * is many hours on 2 cores, over several sessions
 * (`results/bnn-layer-positioning-study` says how far it is). Run it from a
 * checkout pinned at one commit, with its results folder in the work tree:
 * each finished run goes into that folder's `finished-runs.jsonl` at once,
 * so committing it carries the finished runs to the next session's machine,
 * where the same command from the same commit runs only the rest.
 *
 * Run: `deno task exp examples/bnn-layer-positioning.ts --export study --seeds 0,1,2 --cache-dir ~/.cache/dbal/bnn-study --out results/bnn-layer-positioning-study`.
 */
export const study = experiment({
  name: "bnn-layer-positioning-study",
  description: "Zeng, Lesnikowski & Alvarez's eight hybrid architectures on MNIST at 20 -> 500 labels: random, " +
    "max entropy and variation ratios over Bayes by backprop (T = 20, ELBO), 3 seeds.",
  dataset: "mnist",
  model: hybridPreset("BNN-1", 10),
  initialPerClass: 2,
  strategies: [random, maxEntropy, variationRatios].map((score) => strategy({ posterior, score, acquire: topK(40) })),
  rounds: 12,
  poolSubset: 1000,
  testSubset: 1000,
  seeds: [0, 1, 2],
  train: { epochs: 50, batchSize: 64, learningRate: 1e-3, weightDecay: 0, init: "scratch", klWeight: 1 },
  grid: { model: architectures.map((preset) => ({ preset, classes: 10, rhoInit: -3 })) },
});
