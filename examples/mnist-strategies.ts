/**
 * The strategies of `003_*.txt` and the batch rules beyond top-k, side by
 * side on real MNIST with the settings of `mnist-bald.ts` (so BALD and random
 * are restored from its cache): CEAL (Wang et al. 2017), core-set (Sener &
 * Savarese 2018), BADGE (Ash et al. 2020), expected model output change
 * (Käding et al. 2016), suggestive annotation (Yang et al. 2017),
 * discriminative AL (Gissin & Shalev-Shwartz 2019) and learning loss (Yoo &
 * Kweon 2019).
 *
 * The default size (20 → 60 labels, one seed) runs in about a quarter of an
 * hour on 2 cores (estimated); `--full` goes to 1,000 labels with 3 seeds.
 *
 * Run: `deno task exp examples/mnist-strategies.ts`.
 */
import {
  badge,
  bald,
  ceal,
  coreSet,
  deterministic,
  discriminative,
  emoc,
  experiment,
  galCnn,
  learningLoss,
  leastConfidence,
  mcDropout,
  random,
  strategy,
  suggestive,
  topK,
} from "../mod.ts";

const posterior = mcDropout({ samples: 20 });
const k = 10;

export default experiment({
  name: "mnist-strategies",
  description: "Strategies beyond top-k on MNIST: CEAL, core-set, BADGE, EMOC, suggestive annotation, " +
    "discriminative AL and learning loss, against BALD and random.",
  dataset: "mnist",
  model: galCnn(10, [28, 28, 1]),
  initialPerClass: 2,
  strategies: [
    strategy({ posterior, score: bald, acquire: topK(k) }),
    strategy({ posterior, score: random, acquire: topK(k) }),
    strategy({
      name: "ceal",
      posterior: deterministic(),
      score: leastConfidence,
      acquire: topK(k),
      pseudoLabel: ceal(),
    }),
    strategy({ name: "core-set", posterior, score: random, acquire: coreSet(k) }),
    strategy({ name: "badge", posterior, score: random, acquire: badge(k) }),
    strategy({ name: "emoc", posterior, score: random, acquire: emoc(k) }),
    strategy({ name: "suggestive", posterior, score: bald, acquire: suggestive(k) }),
    strategy({ name: "discriminative", posterior, score: random, acquire: discriminative(k) }),
    strategy({ name: "learning-loss", posterior, score: random, acquire: learningLoss(k) }),
  ],
  rounds: 4,
  poolSubset: 2000,
  testSubset: 1000,
  seeds: [0],
  train: { epochs: 50, batchSize: 32, learningRate: 1e-3, weightDecay: 1e-4, init: "scratch" },
  full: { rounds: 98, testSubset: 0, seeds: [0, 1, 2] },
});
