/**
 * The cache at work: one base experiment on MNIST and three ablations, each
 * changing one thing (the acquisition function, the number of MC samples,
 * the ensemble size). They run in order over one cache, and
 * `results/ablation/reuse.md` shows which stages each ablation reused:
 * - another acquisition function reuses the warm start and round 0's nets,
 *   posterior and evaluation; only its scores and what follows are new;
 * - more MC samples reuse round 0's net; the posterior's samples, the
 *   evaluation and the scores are recomputed;
 * - a bigger ensemble reuses round 0's three members and trains two more.
 *
 * Run: `deno task exp examples/ablation.ts` (a few minutes on 2 cores).
 */
import {
  bald,
  deepEnsemble,
  experiment,
  type ExperimentInput,
  galCnn,
  maxEntropy,
  mcDropout,
  type Strategy,
  strategy,
  suite,
  topK,
} from "../mod.ts";

const acquire = topK(10);

/** The shared settings; each experiment differs only in its strategies. */
const base = (name: string, description: string, strategies: Strategy[]): ExperimentInput =>
  experiment({
    name,
    description,
    dataset: "mnist",
    model: galCnn(10, [28, 28, 1]),
    initialPerClass: 2,
    strategies,
    rounds: 2,
    poolSubset: 1000,
    testSubset: 1000,
    seeds: [0],
    train: { epochs: 50, batchSize: 32, learningRate: 1e-3, weightDecay: 1e-4, init: "scratch" },
  });

export default suite({
  name: "ablation",
  description: "A base experiment (MC dropout T=20 + BALD, and a 3-member deep ensemble + BALD) and three " +
    "ablations, each changing one thing, over one cache.",
  experiments: [
    base("base", "MC dropout (T=20) + BALD, and a 3-member deep ensemble + BALD.", [
      strategy({ name: "mc20-bald", posterior: mcDropout({ samples: 20 }), score: bald, acquire }),
      strategy({ name: "ensemble3-bald", posterior: deepEnsemble({ members: 3 }), score: bald, acquire }),
    ]),
    base("acquisition", "Ablation: max entropy instead of BALD (MC dropout, T=20).", [
      strategy({ name: "mc20-max-entropy", posterior: mcDropout({ samples: 20 }), score: maxEntropy, acquire }),
    ]),
    base("mc-samples", "Ablation: T=50 MC-dropout samples instead of 20 (BALD).", [
      strategy({ name: "mc50-bald", posterior: mcDropout({ samples: 50 }), score: bald, acquire }),
    ]),
    base("ensemble-size", "Ablation: a 5-member ensemble instead of 3 (BALD).", [
      strategy({ name: "ensemble5-bald", posterior: deepEnsemble({ members: 5 }), score: bald, acquire }),
    ]),
  ],
});
