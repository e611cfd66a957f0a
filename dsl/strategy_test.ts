import * as E from "fp-ts/Either.js";
import { assert, assertEquals } from "../tests/asserts.ts";
import tiny from "../tests/tiny_mnist.ts";
import { margin } from "../examples/custom-score.ts";
import { decodeExperiment, expandGrid, type ExperimentConfig, strategiesOf } from "./experiment.ts";
import type { LogProbs } from "../pipeline/algorithms/scores.ts";
import { bald, defineScore, describeStrategy, mcDropout, random, strategy, topK } from "./strategy.ts";

const { acquisitions: _a, acquireSize: _s, mcSamples: _m, ...base } = tiny;

function problems(value: unknown): string[] {
  const d = decodeExperiment(value);
  return E.isLeft(d) ? d.left : [];
}

function decoded(value: unknown): ExperimentConfig {
  const d = decodeExperiment(value);
  if (E.isLeft(d)) throw new Error(d.left.join("\n"));
  return d.right;
}

function fromProbs(items: number[][][]): LogProbs {
  const n = items.length, t = items[0]!.length, c = items[0]![0]!.length;
  return { data: Float32Array.from(items.flat(2), Math.log), n, t, c };
}

Deno.test("YAML-style strategies decode to the same parts as the TypeScript values", () => {
  const fromYaml = decoded({
    ...base,
    strategies: [{ posterior: { name: "mc-dropout", samples: 7 }, score: "bald", acquire: { name: "top-k", k: 3 } }],
  });
  const fromTs = decoded({
    ...base,
    strategies: [strategy({ posterior: mcDropout({ samples: 7 }), score: bald, acquire: topK(3) })],
  });
  const [y] = strategiesOf(fromYaml), [t] = strategiesOf(fromTs);
  assertEquals(describeStrategy(y!), "bald: mc-dropout(samples=7) -> bald -> top-k(size=3)");
  assertEquals(describeStrategy(y!), describeStrategy(t!));
  assertEquals(y!.score, bald);
  assertEquals(
    y!.acquire.select({ candidates: [5, 6, 7, 8], scores: Float64Array.of(1, 4, 2, 3) }, {
      warn: () => {},
      rand: Math.random,
    }),
    [6, 8, 7],
  );
});

Deno.test("the acquisitions shorthand expands to MC dropout and top-k strategies", () => {
  const [s, r] = strategiesOf(decoded(tiny));
  assertEquals(describeStrategy(s!), "bald: mc-dropout(samples=5) -> bald -> top-k(size=10)");
  assertEquals(r!.score, random);
});

Deno.test("bad strategies are reported with their paths", () => {
  const found = problems({
    ...base,
    strategies: [
      { posterior: { name: "mc-dropout" }, score: "baldd", acquire: { name: "top-k", k: 0 } },
      { posterior: { name: "laplace", samples: 3 }, score: "bald", acquire: { name: "top-k", k: 1 }, scroe: 1 },
      { posterior: { name: "mc-dropout", samples: 2 }, score: "random", acquire: { name: "top-k", k: 1 }, name: 4 },
      { posterior: { name: "mc-dropout", samples: 2 }, score: "random", acquire: "top-k" },
    ],
  });
  const expected = [
    "strategies.0.posterior.samples: required field is missing",
    'strategies.0.score: unknown score "baldd" (known: bald, max-entropy, variation-ratios, mean-std, least-confidence, margin, random, multilabel-bald, multilabel-entropy, top-u)',
    "strategies.0.acquire.k: expected an integer >= 1, got 0",
    'strategies.1.posterior.name: unknown posterior "laplace"',
    "strategies.1.scroe: unknown field",
    "strategies.2.name: expected a string, got 4",
    'strategies.3.acquire: acquire "top-k" takes parameters: write { name: top-k, ... }',
  ];
  for (const e of expected) assert(found.some((p) => p.startsWith(e)), `missing "${e}" in:\n${found.join("\n")}`);
  // Two strategies may not share a name: their curves would merge.
  const dup = problems({
    ...base,
    strategies: [
      strategy({ posterior: mcDropout({ samples: 2 }), score: random, acquire: topK(1) }),
      strategy({ posterior: mcDropout({ samples: 3 }), score: random, acquire: topK(1) }),
    ],
  });
  assertEquals(dup, ['strategies.1.name: strategy name "random" is already used by strategies.0.name; name each one']);
  assertEquals(problems({ ...base }), ["strategies: expected at least one strategy (or names in acquisitions)"]);
  assertEquals(problems({ ...base, acquisitions: ["bald"] }), [
    "mcSamples: required with acquisitions (the MC-dropout samples T)",
    "acquireSize: required with acquisitions (items per round)",
  ]);
  const badFn = problems({
    ...base,
    strategies: [{
      ...strategy({ posterior: mcDropout({ samples: 2 }), score: random, acquire: topK(1) }),
      score: { ...random, fn: 3 },
    }],
  });
  assertEquals(badFn, ["strategies.0.score.fn: expected a function"]);
});

Deno.test("a user-defined score is a value like the built-ins (margin, checked by hand)", () => {
  // Item 0: one sample, p = (0.7, 0.2, 0.1): 1 - (0.7 - 0.2) = 0.5.
  // Item 1: samples (1, 0, 0) and (0, 1, 0): mean (0.5, 0.5, 0), margin 1 - 0 = 1.
  const lp = fromProbs([[[0.7, 0.2, 0.1], [0.7, 0.2, 0.1]], [[1, 0, 0], [0, 1, 0]]]);
  const s = margin.fn(lp, Math.random);
  assert(Math.abs(s[0]! - 0.5) < 1e-6 && Math.abs(s[1]! - 1) < 1e-6, `got ${s}`);
  const custom = defineScore({ name: "neg-index", fn: (l) => Float64Array.from({ length: l.n }, (_, i) => -i) });
  const config = decoded({
    ...base,
    strategies: [strategy({ posterior: mcDropout({ samples: 2 }), score: custom, acquire: topK(2) })],
  });
  assertEquals(strategiesOf(config)[0]!.name, "neg-index");
});

Deno.test("a grid expands to the product of its values, each variant decoded again", () => {
  const config = decoded({ ...tiny, grid: { "train.epochs": [1, 2, 3], "mcSamples": [4, 8] } });
  const variants = expandGrid(config);
  assert(E.isRight(variants));
  assertEquals(variants.right.length, 6);
  assertEquals(variants.right[1]!.label, "train.epochs=1,mcSamples=8");
  assertEquals(variants.right[5]!.config.train?.epochs, 3);
  assertEquals(variants.right[5]!.config.mcSamples, 8);
  assertEquals(variants.right[5]!.config.grid, undefined);
  assertEquals(strategiesOf(variants.right[5]!.config)[0]!.posterior.samples, 8);
  // No grid: one variant, unlabelled.
  const single = expandGrid(decoded(tiny));
  assert(E.isRight(single) && single.right.length === 1 && single.right[0]!.label === "");
  const bad = expandGrid(decoded({ ...tiny, grid: { "train.epoch": [1], "rounds": [2, -1], "seeds": [] } }));
  assert(E.isLeft(bad));
  assertEquals(bad.left, [
    "grid.train.epoch: no such field in the experiment (a grid path must name an existing field)",
    "grid.seeds: expected at least one value",
  ]);
  const badValue = expandGrid(decoded({ ...tiny, grid: { "rounds": [2, -1] } }));
  assert(E.isLeft(badValue));
  assertEquals(badValue.left, ["grid (variant rounds=-1): rounds: expected an integer >= 1, got -1"]);
});
