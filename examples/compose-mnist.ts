/**
 * A composed experiment, written out: load → warm start → a loop of the
 * standard round (retrain → fit-posterior → evaluate → score → acquire) for
 * BALD and random on MNIST. `examples/mnist-bald.ts`-style preset records
 * build exactly this composition (a test checks that both plan the same
 * cache keys); writing it out is how you change its shape.
 *
 * Run: `deno task exp examples/compose-mnist.ts [--seeds 0,1,2] [--rounds 10]`.
 */
// #region composed
import {
  bald,
  builtinImages,
  composeExperiment,
  galCnn,
  imageRound,
  loop,
  mcDropout,
  netSpecModel,
  random,
  source,
  strategy,
  topK,
  warmStartState,
} from "../mod.ts";

const train = { epochs: 50, batchSize: 32, learningRate: 1e-3, weightDecay: 1e-4, init: "scratch" } as const;
const posterior = mcDropout({ samples: 20 }); // T = 20 MC-dropout forward passes

export default composeExperiment({
  name: "compose-mnist",
  load: source(builtinImages("mnist")), // the root of every cache key: the files' sha256
  runs: ({ data, value, scale }) =>
    [bald, random].flatMap((score) =>
      (scale.seeds ?? [0]).map((seed) => {
        const parts = strategy({ posterior, score, acquire: topK(10) });
        return loop({
          label: { curve: parts.name, seed },
          start: warmStartState(data, 2, value.classes, seed), // 2 labels per class
          round: imageRound({
            data,
            model: netSpecModel(galCnn(10), train),
            strategy: parts,
            seed,
            classes: value.classes,
            poolSubset: 2000, // random pool items scored per round
            testSubset: 1000, // test items evaluated per round
          }),
          rounds: scale.rounds ?? 4, // `stop: { accuracy: 0.95 }` or `{ when: (view) => ... }` end a run early
        });
      })
    ),
});
// #endregion composed
