/**
 * Writing your own acquisition function: a "margin" score defined in this
 * file, plugged into a strategy next to a built-in baseline, with no change
 * to the library. The margin (or "difference") uncertainty is 1 - (p1 - p2),
 * where p1 and p2 are the two largest class probabilities of the
 * MC-averaged predictive distribution; `000_*.txt` in the seed talks uses it
 * as its non-Bayesian "difference" baseline. dbal ships the same score as
 * the built-in `margin`; this file shows how such a score is written.
 *
 * Run: `deno task exp examples/custom-score.ts`
 */
// #region custom-score
import { defineScore, experiment, galCnn, type LogProbs, mcDropout, random, strategy, topK } from "../mod.ts";

/** 1 - (p1 - p2) of the mean predictive distribution: high when the top two classes are close. */
export const margin = defineScore({
  name: "margin",
  fn: (lp: LogProbs) => {
    const out = new Float64Array(lp.n);
    const mean = new Float64Array(lp.c);
    for (let i = 0; i < lp.n; i++) {
      mean.fill(0);
      for (let s = 0; s < lp.t; s++) {
        for (let k = 0; k < lp.c; k++) {
          // lp.data is row-major [n, t, c]: log p(y = k | x_i, sample s).
          mean[k] = (mean[k] ?? 0) + Math.exp(lp.data[(i * lp.t + s) * lp.c + k] ?? -Infinity) / lp.t;
        }
      }
      const [p1 = 0, p2 = 0] = [...mean].sort((a, b) => b - a);
      out[i] = 1 - (p1 - p2);
    }
    return out;
  },
});

const posterior = mcDropout({ samples: 20 });
export default experiment({
  name: "custom-score",
  dataset: "mnist",
  model: galCnn(10, [28, 28, 1]),
  initialPerClass: 2,
  strategies: [
    strategy({ posterior, score: margin, acquire: topK(10) }),
    strategy({ posterior, score: random, acquire: topK(10) }),
  ],
  rounds: 4,
  poolSubset: 2000,
  testSubset: 1000,
  seeds: [0],
  train: { epochs: 50, batchSize: 32, learningRate: 1e-3, weightDecay: 1e-4, init: "scratch" },
});
// #endregion custom-score
