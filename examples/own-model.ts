/**
 * Your own model: a TensorFlow.js layers CNN with dropout, written here with
 * `tf.sequential`, trained and sampled by the standard image round with no
 * change to the library. MC dropout + BALD against random acquisition, the
 * same model, seeds and sizes for both; both strategies share round 0's
 * trained model through the cache. Editing the model below retrains (this
 * file is part of the retrain stage's key).
 *
 * A minute or two on 2 cores; `--full` scores and evaluates more items for
 * more rounds; `--seeds 0,1,2` and `--rounds 5` are honoured.
 *
 * Run: `deno task exp examples/own-model.ts`
 */
// #region own-model
import * as tf from "@tensorflow/tfjs-layers";
import {
  bald,
  builtinImages,
  composeExperiment,
  imageRound,
  imageShape,
  layersModel,
  loop,
  mcDropout,
  random,
  source,
  strategy,
  topK,
  type TrainedLayers,
  warmStartState,
} from "../mod.ts";

/** The model: two conv blocks, dropout before and after the hidden dense layer, a softmax over the 10 digits. */
function cnn(): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 3, activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.dropout({ rate: 0.25 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 64, activation: "relu" }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 10, activation: "softmax" }),
    ],
  });
}

const model = layersModel(cnn, { epochs: 100, batchSize: 16, learningRate: 1e-3, weightDecay: 1e-4, init: "scratch" });
const posterior = mcDropout({ samples: 10 });
const strategies = [
  strategy({ posterior, score: bald, acquire: topK(10) }),
  strategy({ posterior, score: random, acquire: topK(10) }),
];

export default composeExperiment({
  name: "own-model",
  description: "A tf.sequential CNN with dropout as the model: MC dropout + BALD against random acquisition.",
  load: source(builtinImages("mnist")),
  runs: ({ data, value, scale }) => {
    const sizes = scale.full
      ? { rounds: 20, poolSubset: 2000, testSubset: 0 }
      : { rounds: 5, poolSubset: 1000, testSubset: 1000 };
    return strategies.flatMap((s) =>
      (scale.seeds ?? [0]).map((seed) =>
        loop({
          label: { curve: s.name, seed },
          start: warmStartState<TrainedLayers>(data, 2, value.classes, seed),
          round: imageRound({
            data,
            model,
            strategy: s,
            seed,
            classes: value.classes,
            // The model is checked against the images' [H, W, C] and the classes when the runs are built.
            inputShape: imageShape(value),
            poolSubset: sizes.poolSubset,
            testSubset: sizes.testSubset,
          }),
          rounds: scale.rounds ?? sizes.rounds,
        })
      )
    );
  },
});
// #endregion own-model
