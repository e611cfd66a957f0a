/**
 * A stage of your own between score and acquire: before the rule picks, drop
 * the pool candidates whose embedding lies within ε of a labelled item's, so
 * a batch is not spent on near-copies of what is already labelled. The stage
 * is written here, in the experiment's file, with no change to the library;
 * it is cached on its own key (its code, and this file, are hashed into it).
 *
 * Run: `deno task exp examples/near-duplicates.ts`.
 */
import * as TE from "fp-ts/TaskEither.js";
import {
  bald,
  builtinImages,
  composeExperiment,
  defineStage,
  galCnn,
  imageRound,
  loop,
  mcDropout,
  netSpecModel,
  random,
  type Scored,
  scoredCodec,
  source,
  step,
  strategy,
  topK,
  warmStartState,
} from "../mod.ts";

// #region near-duplicates
/**
 * Drops candidates within `eps` (Euclidean, on the posterior's embeddings) of a labelled item.
 *
 * @param eps the distance under which a candidate counts as a near-duplicate
 * @returns the stage: scored candidates in, the kept candidates out (same order)
 */
export function dropNearLabelled(eps: number) {
  return defineStage<{ readonly scored: Scored }, Scored>({
    kind: "filter",
    name: "filter/near-labelled",
    version: 1,
    params: { eps },
    numeric: false,
    codec: scoredCodec,
    run: ({ scored }) => {
      const pool = scored.embeddings, seen = scored.labelledEmbeddings;
      if (!pool || !seen) {
        return TE.left({
          _tag: "StageError" as const,
          stage: "filter/near-labelled",
          message: 'needs the score stage to keep "embeddings" and "labelledEmbeddings"',
        });
      }
      const d = pool.d, labelled = seen.data.length / d;
      const keep: number[] = [];
      for (let i = 0; i < scored.candidates.length; i++) {
        let near = false;
        for (let j = 0; j < labelled && !near; j++) {
          let sq = 0;
          for (let k = 0; k < d; k++) {
            const diff = (pool.data[i * d + k] as number) - (seen.data[j * d + k] as number);
            sq += diff * diff;
          }
          near = sq < eps * eps;
        }
        if (!near) keep.push(i);
      }
      const embeddings = new Float32Array(keep.length * d);
      keep.forEach((i, r) => embeddings.set(pool.data.subarray(i * d, (i + 1) * d), r * d));
      return TE.right({
        candidates: keep.map((i) => scored.candidates[i] as number),
        scores: Float64Array.from(keep, (i) => scored.scores[i] as number),
        embeddings: { data: embeddings, d },
        labelledEmbeddings: seen,
      });
    },
  });
}
// #endregion near-duplicates

const train = { epochs: 50, batchSize: 32, learningRate: 1e-3, weightDecay: 1e-4, init: "scratch" } as const;
const posterior = mcDropout({ samples: 20 });

export default composeExperiment({
  name: "near-duplicates",
  description: "BALD and random on MNIST, each with and without a filter that drops pool candidates within " +
    "eps = 1 of a labelled item's penultimate-layer embedding before the top-k pick.",
  load: source(builtinImages("mnist")),
  runs: ({ data, value, scale }) =>
    (scale.seeds ?? [0]).flatMap((seed) =>
      [bald, random].flatMap((score) =>
        [false, true].map((filtered) => {
          const parts = strategy({ posterior, score, acquire: topK(10) });
          return loop({
            label: { curve: `${parts.name}${filtered ? "-filtered" : ""}`, seed },
            start: warmStartState(data, 2, value.classes, seed),
            round: imageRound({
              data,
              model: netSpecModel(galCnn(10), train),
              strategy: parts,
              seed,
              classes: value.classes,
              poolSubset: 2000,
              testSubset: 1000,
              ...(filtered
                ? {
                  keep: ["embeddings", "labelledEmbeddings"] as const,
                  between: (scored) => step(dropNearLabelled(1), { scored }),
                }
                : {}),
            }),
            rounds: scale.rounds ?? 4,
          });
        })
      )
    ),
});
