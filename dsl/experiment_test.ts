/** The experiment codec is strict at every depth and checks what TypeScript values and YAML have in common. */
import * as E from "fp-ts/Either.js";
import * as t from "io-ts";
import { assert, assertEquals } from "../tests/asserts.ts";
import tiny from "../tests/tiny_mnist.ts";
import { formatDecodeErrors, strictFields } from "./codecs.ts";
import { decodeExperiment } from "./experiment.ts";
import { galCnn, type NetSpec } from "./model.ts";
import {
  badge,
  bald,
  batchBald,
  bayesByBackprop,
  ceal,
  coreSet,
  deepEnsemble,
  defineAcquire,
  definePseudoLabel,
  defineScore,
  deterministic,
  discriminative,
  emoc,
  learningLoss,
  mcDropout,
  powerTopK,
  strategy,
  suggestive,
  topK,
  topU,
  vognHead,
} from "./strategy.ts";

const { acquisitions: _a, acquireSize: _s, mcSamples: _m, ...base } = tiny;

function problems(value: unknown): string[] {
  const d = decodeExperiment(value);
  return E.isLeft(d) ? d.left : [];
}

const trainFields = "known fields: epochs, batchSize, learningRate, weightDecay, init, klWeight";

Deno.test("strictFields reports every unknown field with its path, beside the other problems", () => {
  const codec = strictFields(t.intersection([t.type({ a: t.number }), t.partial({ b: t.string })]), ["_tag"]);
  assert(E.isRight(codec.decode({ a: 1, _tag: "x" })));
  const bad = codec.decode({ a: "1", c: 1, d: 2 });
  assert(E.isLeft(bad));
  assertEquals(formatDecodeErrors(bad.left), [
    "c: unknown field (known fields: a, b)",
    "d: unknown field (known fields: a, b)",
    'a: expected a number, got "1"',
  ]);
  assert(!codec.is({ a: 1, c: 1 }) && codec.is({ a: 1 }));
});

Deno.test("unknown fields are errors at every depth, all listed in one run", () => {
  const found = problems({
    ...base,
    train: { ...base.train, lr: 0.1 },
    stop: { labelz: 60 },
    full: { roundz: 3 },
    model: { ...base.model, inputshape: [28, 28, 1] },
    strategies: [{ posterior: { name: "mc-dropout", smaples: 20 }, score: "bald", acquire: { name: "top-k", k: 2 } }],
  });
  assertEquals(found.sort(), [
    "full.roundz: unknown field (known fields: rounds, poolSubset, testSubset, seeds, train, mcSamples, " +
    "initialPerClass, initialLabelled, strategies, stop, grid)",
    "model.inputshape: unknown field (known fields: inputShape, layers)",
    "stop.labelz: unknown field (known fields: labels, accuracy)",
    "strategies.0.posterior.samples: required field is missing (expected an integer >= 1)",
    "strategies.0.posterior.smaples: unknown field (known fields: name, samples, consistent)",
    `train.lr: unknown field (${trainFields})`,
  ]);
  // The top level as before, and the fields of layers, Bayesian settings, presets and the other parts.
  const layers = [...(base.model as NetSpec).layers];
  layers[0] = { kind: "conv2d", filters: 8, kernel: 3, activation: "relu", padding: "valid", stride: 2 } as never;
  layers[1] = { kind: "maxPool", size: 2, strides: 2 } as never;
  const more = problems({
    ...base,
    acquisitionz: ["bald"],
    model: { ...base.model, layers },
    full: { train: { ...base.train, momentum: 0.9 } },
    strategies: [{
      posterior: "deterministic",
      score: { name: "top-u", u: 2, v: 1 },
      acquire: { name: "top-k", k: 2, kk: 1 },
      pseudoLabel: { name: "ceal", dleta: 0.1 },
    }],
  });
  for (
    const e of [
      "acquisitionz: unknown field (known fields: name, dataset, model, initialPerClass, rounds,",
      "model.layers.0.stride: unknown field (known fields: kind, filters, kernel, activation, padding, bayesian)",
      "model.layers.1.strides: unknown field (known fields: kind, size)",
      `full.train.momentum: unknown field (${trainFields})`,
      "strategies.0.score.v: unknown field (known fields: name, u)",
      "strategies.0.acquire.kk: unknown field (known fields: name, k)",
      "strategies.0.pseudoLabel.dleta: unknown field (known fields: name, delta, decay, limit)",
    ]
  ) assert(more.some((p) => p.startsWith(e)), `missing "${e}" in:\n${more.join("\n")}`);
  assertEquals(more.length, 7, more.join("\n"));
  const preset = problems({ ...tiny, model: { preset: "BNN-1", classes: 10, rhoinit: -5 } });
  assert(
    preset.includes(
      "model.rhoinit: unknown field (known fields: preset, classes, inputShape, priorStd, rhoInit, rhoInitStd)",
    ),
    preset.join("\n"),
  );
  const bayes = { priorStd: 1, rhoInit: -3, rhoInitStd: 0.1, prior: 2 };
  const spec = galCnn(10);
  const withBayes = { ...spec, layers: spec.layers.map((l, i) => (i === 0 ? { ...l, bayesian: bayes } : l)) };
  assert(
    problems({ ...tiny, model: withBayes }).includes(
      "model.layers.0.bayesian.prior: unknown field (known fields: priorStd, rhoInit, rhoInitStd)",
    ),
  );
});

Deno.test("a bad layer kind is reported once, not once per kind of layer", () => {
  const layers = [{ kind: "maxpool", size: 2 }, ...(base.model as NetSpec).layers];
  assertEquals(problems({ ...tiny, model: { ...base.model, layers } }), [
    'model.layers.0.kind: expected one of conv2d, maxPool, dropout, flatten, dense, got "maxpool"',
  ]);
});

Deno.test("built-in parts written in TypeScript are checked by the codec of their YAML form, with its messages", () => {
  const posterior = mcDropout({ samples: 2 }), score = bald, acquire = topK(2);
  const cases: [string, Partial<Parameters<typeof strategy>[0]>, unknown][] = [
    ["acquire", { acquire: topK(0) }, { name: "top-k", k: 0 }],
    ["acquire", { acquire: batchBald(-1) }, { name: "batch-bald", k: -1 }],
    ["acquire", { acquire: batchBald(3, { maxExactConfigs: 0 }) }, { name: "batch-bald", k: 3, maxExactConfigs: 0 }],
    ["acquire", { acquire: powerTopK(2, -1) }, { name: "power", k: 2, beta: -1 }],
    ["acquire", { acquire: coreSet(1.5) }, { name: "core-set", k: 1.5 }],
    ["acquire", { acquire: badge(0) }, { name: "badge", k: 0 }],
    ["acquire", { acquire: emoc(2, { reference: 0 }) }, { name: "emoc", k: 2, reference: 0 }],
    ["acquire", { acquire: suggestive(2, 0) }, { name: "suggestive", k: 2, shortlist: 0 }],
    ["acquire", { acquire: discriminative(2, { epochs: 0 }) }, { name: "discriminative", k: 2, epochs: 0 }],
    ["acquire", { acquire: learningLoss(2, { hidden: [0] }) }, { name: "learning-loss", k: 2, hidden: [0] }],
    ["posterior", { posterior: mcDropout({ samples: 0 }) }, { name: "mc-dropout", samples: 0 }],
    ["posterior", { posterior: bayesByBackprop({ samples: NaN }) }, { name: "bayes-by-backprop", samples: NaN }],
    ["posterior", { posterior: deepEnsemble({ members: 0 }) }, { name: "ensemble", members: 0 }],
    ["posterior", { posterior: vognHead({ samples: 2, temperature: -1 }) }, {
      name: "vogn-head",
      samples: 2,
      temperature: -1,
    }],
    ["score", { score: topU(0) }, { name: "top-u", u: 0 }],
    ["pseudoLabel", { pseudoLabel: ceal({ delta: -1 }) }, { name: "ceal", delta: -1 }],
  ];
  for (const [field, ts, yaml] of cases) {
    const fromTs = problems({ ...base, strategies: [strategy({ posterior, score, acquire, ...ts })] });
    const fromYaml = problems({ ...base, strategies: [{ posterior, score, acquire, [field]: yaml }] });
    assert(fromTs.length > 0, `${JSON.stringify(yaml)} passed from TypeScript`);
    assertEquals(fromTs, fromYaml);
  }
  assertEquals(problems({ ...base, strategies: [strategy({ posterior, score, acquire: topK(0) })] }), [
    "strategies.0.acquire.k: expected an integer >= 1, got 0",
  ]);
  assertEquals(
    problems({ ...base, strategies: [strategy({ posterior: mcDropout({ samples: 0 }), score, acquire })] }),
    [
      "strategies.0.posterior.samples: expected an integer >= 1, got 0",
    ],
  );
  assertEquals(
    problems({ ...base, strategies: [strategy({ posterior: deepEnsemble({ members: 0 }), score, acquire })] }),
    [
      "strategies.0.posterior.members: expected an integer >= 1, got 0",
    ],
  );
  // The shorthand and the acquisitions' parameters, as before.
  assertEquals(problems({ ...tiny, acquireSize: 0 }), ["acquireSize: expected an integer >= 1, got 0"]);
  // Every built-in part with valid parameters passes, and user-defined parts (no YAML form) still do.
  const fine = [
    topK(3),
    batchBald(3, { maxExactConfigs: 100 }),
    powerTopK(3, 2),
    coreSet(3),
    badge(3),
    emoc(3),
    suggestive(3),
    discriminative(3),
    learningLoss(3),
  ].map((a, i) =>
    strategy({
      name: `s${i}`,
      posterior: a.needsConsistentSamples ? deepEnsemble({ members: 2 }) : posterior,
      score,
      acquire: a,
    })
  );
  const own = strategy({
    name: "own",
    posterior: vognHead({ samples: 3 }),
    score: defineScore({ name: "zero", fn: (lp) => new Float64Array(lp.n) }),
    acquire: defineAcquire({ name: "first", size: 2, select: ({ candidates }) => candidates.slice(0, 2) }),
    pseudoLabel: definePseudoLabel({ name: "none", select: () => ({ indices: [], labels: [] }) }),
  });
  const withTopU = strategy({
    name: "top-u",
    posterior: deterministic(),
    score: topU(2),
    acquire,
    pseudoLabel: ceal(),
  });
  assertEquals(problems({ ...base, strategies: [...fine, own, withTopU] }), []);
});

Deno.test("the model is checked against its data set before any work, each problem with its path", () => {
  const layers = (tiny.model as NetSpec).layers.map((l) => ({ ...l })) as Record<string, unknown>[];
  layers[0] = { ...layers[0], filters: 0 };
  layers[2] = { ...layers[2], rate: 1.5 };
  assertEquals(problems({ ...tiny, model: { ...tiny.model, layers } }), [
    "model.layers.0.filters: expected an integer >= 1, got 0",
    "model.layers.2.rate: expected a number in [0, 1), got 1.5",
  ]);
  const seven = (tiny.model as NetSpec).layers.map((l, i) => (i === 6 ? { ...l, units: 7 } : l));
  assertEquals(problems({ ...tiny, model: { ...tiny.model, layers: seven } }), [
    "model.layers.6.units: the last layer has 7 units but mnist has 10 classes",
  ]);
  assertEquals(problems({ ...tiny, dataset: "cifar10" }), [
    "model.inputShape: expected [32, 32, 3] for cifar10, got [28, 28, 1]",
  ]);
  assertEquals(problems({ ...tiny, model: { ...tiny.model, inputShape: [28, 28, 1, 1] } }), [
    "model.inputShape: expected 3 elements, got 4 ([28,28,1,1])",
  ]);
  assertEquals(problems({ ...tiny, model: { preset: "BNN-1", classes: 10, inputShape: [28, 28, 1, 3] } }), [
    "model.inputShape: expected 3 elements, got 4 ([28,28,1,3])",
  ]);
  assertEquals(problems({ ...tiny, dataset: "fashion-mnist", model: galCnn(10) }), []);
  assertEquals(problems({ ...tiny, dataset: "cifar10", model: galCnn(10, [32, 32, 3]) }), []);
  assertEquals(problems({ ...tiny, model: { preset: "BNN-1", classes: 2 } }), [
    "model.layers.5.units: the last layer has 2 units but mnist has 10 classes",
  ]);
  assertEquals(problems({ ...tiny, model: galCnn(10, [3, 3, 1]) }), [
    "model.layers.0.kernel: a 4x4 kernel does not fit its 3x3 input",
    "model.inputShape: expected [28, 28, 1] for mnist, got [3, 3, 1]",
  ]);
});
