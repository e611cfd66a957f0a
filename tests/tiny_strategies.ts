/**
 * A tiny experiment with user-defined parts: the margin score of
 * `examples/custom-score.ts` and a posterior written here (the deterministic
 * net, T = 1, dropout off), which brings no save/load and so is fitted on
 * every run. A label budget of 35 cuts the second acquisition to 5 items.
 */
import * as tf from "@tensorflow/tfjs-core";
import { definePosterior, experiment, maxEntropy, mcDropout, strategy, topK } from "../mod.ts";
import { applyLayers } from "../pipeline/tensor/net.ts";
import { margin } from "../examples/custom-score.ts";
import tiny from "./tiny_mnist.ts";

/** Counts fits, so a test can see that an uncached posterior is fitted on every run. */
export const fits = { count: 0 };

export const plainNet = definePosterior({
  name: "plain-net",
  samples: 1,
  impl: {
    fit: ({ net }) => {
      fits.count++;
      return Promise.resolve({
        samples: 1,
        logProbs: (x: tf.Tensor) =>
          tf.tidy(() =>
            tf.expandDims(tf.logSoftmax(applyLayers(net, x, 0, net.spec.layers.length, { kind: "off" })), 1)
          ) as tf.Tensor3D,
        dispose: () => {},
      });
    },
  },
});

const { acquisitions: _a, acquireSize: _s, mcSamples: _m, ...base } = tiny;
export default experiment({
  ...base,
  name: "tiny-strategies",
  strategies: [
    strategy({ posterior: mcDropout({ samples: 5 }), score: margin, acquire: topK(10) }),
    strategy({ name: "det-entropy", posterior: plainNet, score: maxEntropy, acquire: topK(10) }),
  ],
  rounds: 3,
  stop: { labels: 35 },
});
