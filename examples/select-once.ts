/**
 * A round of another shape, written in the experiment's file with no change
 * to the library: the procedure of S. Loustau's talk "Bayesian Deep Active
 * Learning: Computer vision and NLP" (2023, `seeds/000_*.txt`, slide "The
 * problem"): 1. start an initial training on a subsample of the training
 * set; 2. select a second subsample by Bayesian uncertainty; 3. continue
 * training with this second subsample; 4. validate on the test set.
 *
 * Round 0 trains on the initial subsample, fits the posterior, evaluates,
 * scores the pool and acquires the second subsample in one batch. Round 1
 * continues training round 0's net on the second subsample alone (not on
 * the union) and evaluates. Selection uses a VOGN head on the net's features
 * (the talk's optimiser, fitted on the last layer only); the random curve is
 * the non-Bayesian baseline. Every stage is cached on its key as usual.
 *
 * Run: `deno task exp examples/select-once.ts`.
 */
import {
  acquireStage,
  bald,
  builtinImages,
  composeExperiment,
  derive,
  evaluateStage,
  type Experiment,
  galCnn,
  type ImageData,
  type LabelledSet,
  labelledSetStage,
  loop,
  type NetSpecInput,
  posteriorStage,
  random,
  retrainStage,
  type Round,
  type ScoreDef,
  scoreStage,
  source,
  type Step,
  step,
  topK,
  type TrainedNet,
  vognHead,
  warmStartState,
} from "../mod.ts";

/** The sizes of the procedure. */
export interface SelectOnceSizes {
  /** The net (default: the Gal et al. MNIST CNN). */
  readonly model?: NetSpecInput;
  /** Initial subsample: labelled items per class. */
  readonly perClass: number;
  /** Size of the second subsample, selected in one batch. */
  readonly second: number;
  /** Epochs of the initial training and of the continued training. */
  readonly epochs: readonly [number, number];
  readonly poolSubset: number;
  readonly testSubset: number;
  readonly seeds: readonly number[];
}

/** What round 0 hands to round 1. */
interface State {
  /** Every label so far (the record counts them). */
  readonly labelled: Step<LabelledSet>;
  /** What round 1 trains on: the second subsample only. */
  readonly second?: Step<LabelledSet>;
  /** Round 0's net, to continue from. */
  readonly net?: Step<TrainedNet>;
}

function procedure(data: Step<ImageData>, score: ScoreDef, seed: number, sizes: SelectOnceSizes): Round<State> {
  const model = sizes.model ?? galCnn(10);
  const train = (epochs: number, init: "scratch" | "previous") =>
    ({ epochs, batchSize: 32, learningRate: 1e-3, weightDecay: 1e-4, init }) as const;
  const posterior = vognHead({ samples: 10 });
  return (state, { round }) => {
    const net = round === 0
      ? step(retrainStage(model, train(sizes.epochs[0], "scratch"), seed, seed + 1), { data, labelled: state.labelled })
      : step(retrainStage(model, train(sizes.epochs[1], "previous"), seed, seed + 2), {
        data,
        labelled: state.second as Step<LabelledSet>,
        from: state.net as Step<TrainedNet>,
      });
    const fitted = step(posteriorStage(posterior, seed + 10 * round), { data, labelled: state.labelled, nets: [net] });
    const metrics = step(evaluateStage(seed + 20 * round, sizes.testSubset), { posterior: fitted, data });
    if (round > 0) return { labelled: state.labelled, metrics };
    const scored = step(scoreStage(score, seed + 3, sizes.poolSubset), {
      posterior: fitted,
      data,
      labelled: state.labelled,
    });
    const acquired = step(acquireStage(topK(sizes.second), seed + 4), { scored });
    const second = derive("second-subsample", { acquired, labelled: state.labelled }, ({ acquired, labelled }) => ({
      labelled: [...acquired],
      pool: labelled.pool.filter((i) => !acquired.includes(i)),
    }));
    const all = step(labelledSetStage(), { labelled: state.labelled, acquired });
    return { labelled: state.labelled, metrics, acquired, next: { labelled: all, second, net } };
  };
}

/**
 * The talk's procedure on MNIST, BALD on a VOGN head against random selection.
 *
 * @param sizes the subsample sizes, epochs, subsets and seeds
 * @returns the composed experiment
 */
export function selectOnce(sizes: SelectOnceSizes): Experiment<ImageData> {
  return composeExperiment({
    name: "select-once",
    description: "Loustau 2023's procedure: train on an initial subsample, select a second one by uncertainty, " +
      "continue training on it, validate; BALD on a VOGN head against random.",
    load: source(builtinImages("mnist")),
    runs: ({ data, value, scale }) =>
      (scale.seeds ?? sizes.seeds).flatMap((seed) =>
        [bald, random].map((score) =>
          loop({
            label: { curve: score.name, seed },
            start: { labelled: warmStartState(data, sizes.perClass, value.classes, seed).labelled } as State,
            round: procedure(data, score, seed, sizes),
            rounds: 1,
          })
        )
      ),
  });
}

export default selectOnce({
  perClass: 10,
  second: 200,
  epochs: [50, 20],
  poolSubset: 5000,
  testSubset: 2000,
  seeds: [0, 1, 2],
});
