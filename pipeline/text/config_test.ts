/** The text experiment codec is strict at every depth. */
import * as E from "fp-ts/Either.js";
import { assert, assertEquals } from "../../tests/asserts.ts";
import { decodeTextExperiment, textExperiment, type TextExperimentInput } from "./config.ts";

const config: TextExperimentInput = textExperiment({
  name: "tiny",
  dataset: "trec",
  initialLabelled: 10,
  acquireSize: 5,
  rounds: 1,
  seeds: [0],
  encoder: { buckets: 512, maxTokens: 50, dim: 8, hidden: 8, epochs: 3, batchSize: 8, learningRate: 0.05 },
  head: { samples: 4, priorPrecision: 1, epochs: 5 },
  strategies: [{ name: "random", bayesian: false, score: "random" }],
  poolSubset: 30,
  testSubset: 20,
});

function problems(value: unknown): string[] {
  const d = decodeTextExperiment(value);
  return E.isLeft(d) ? d.left : [];
}

Deno.test("a text experiment rejects unknown fields at every depth, each with its path", () => {
  assert(E.isRight(decodeTextExperiment(config)));
  const found = problems({
    ...config,
    encoder: { ...config.encoder, dimm: 8 },
    head: { ...config.head, sample: 3 },
    strategies: [{ name: "random", bayesian: false, score: "random", agregate: "max" }],
    full: { roundz: 3, head: { ...config.head, temp: 1 } },
    descripton: "typo",
  });
  assertEquals(found, [
    "descripton: unknown field (known fields: name, dataset, initialLabelled, acquireSize, rounds, seeds, encoder, " +
    "head, strategies, poolSubset, testSubset, description, full)",
    "encoder.dimm: unknown field (known fields: buckets, maxTokens, dim, hidden, epochs, batchSize, learningRate)",
    "head.sample: unknown field (known fields: samples, priorPrecision, epochs, learningRate, batchSize, " +
    "mcSamples, temperature)",
    "strategies.0.agregate: unknown field (known fields: name, bayesian, score, aggregate, u)",
    "full.roundz: unknown field (known fields: initialLabelled, acquireSize, rounds, seeds, poolSubset, testSubset, " +
    "encoder, head)",
    "full.head.temp: unknown field (known fields: samples, priorPrecision, epochs, learningRate, batchSize, " +
    "mcSamples, temperature)",
  ]);
});
