/**
 * dbal: deep Bayesian active learning on TensorFlow.js.
 *
 * @example
 * ```ts
 * import { experiment, galCnn } from "./mod.ts";
 * const exp = experiment({
 *   name: "tiny", dataset: "mnist", model: galCnn(10), initialPerClass: 2, acquireSize: 10,
 *   acquisitions: ["bald"], rounds: 2, poolSubset: 500, testSubset: 500, mcSamples: 10, seeds: [0],
 *   train: { epochs: 5, batchSize: 32, learningRate: 1e-3, weightDecay: 0, init: "scratch" },
 * });
 * console.assert(exp.rounds === 2);
 * ```
 *
 * @module
 */
export * from "./dsl/experiment.ts";
export * from "./dsl/model.ts";
export * from "./dsl/stage.ts";
export * from "./dsl/codecs.ts";
