import * as E from "fp-ts/Either.js";
import { assert, assertEquals } from "../tests/asserts.ts";
import { formatDecodeErrors } from "./codecs.ts";
import {
  bayesianLayers,
  checkModelClasses,
  checkModelInput,
  checkModelShapes,
  firstStochasticLayer,
  galCnn,
  hybridPreset,
  HybridPresetName,
  hybridPresetNames,
  type LayerSpec,
  NetSpec,
} from "./model.ts";

const bayes = { priorStd: 1, rhoInit: -3, rhoInitStd: 0.1 };

Deno.test("the NetSpec codec accepts old specs and Bayesian layers, and rejects wrong types", () => {
  assert(E.isRight(NetSpec.decode(galCnn(10))));
  const withBayes = {
    inputShape: [8, 8, 1],
    layers: [
      { kind: "conv2d", filters: 4, kernel: 3, activation: "relu", padding: "same", bayesian: bayes },
      { kind: "flatten" },
      { kind: "dense", units: 3, activation: "linear", bayesian: bayes },
    ],
  };
  assert(E.isRight(NetSpec.decode(withBayes)));
  const withLayer = (layer: unknown) => ({ inputShape: [8, 8, 1], layers: [{ kind: "flatten" }, layer] });
  const dense = { kind: "dense", units: 3, activation: "linear" };
  for (
    const bad of [
      5,
      "yes",
      { ...bayes, priorStd: "1" },
      { priorStd: 1, rhoInit: -3 },
      { ...bayes, priorStd: 0 },
      { ...bayes, rhoInitStd: -0.1 },
      { ...bayes, rhoInit: NaN },
    ]
  ) {
    assert(E.isLeft(NetSpec.decode(withLayer({ ...dense, bayesian: bad }))), `accepted bayesian: ${String(bad)}`);
  }
  assert(E.isLeft(NetSpec.decode(withLayer({ ...dense, units: "3" }))));
});

Deno.test("firstStochasticLayer finds the first dropout with rate > 0 or the first Bayesian layer", () => {
  assertEquals(firstStochasticLayer(galCnn(10)), 3);
  const dense = (bayesian: boolean): LayerSpec => ({
    kind: "dense",
    units: 4,
    activation: "relu",
    ...(bayesian ? { bayesian: bayes } : {}),
  });
  const spec = (layers: LayerSpec[]): NetSpec => ({ inputShape: [2, 2, 1], layers });
  assertEquals(firstStochasticLayer(spec([{ kind: "flatten" }, { kind: "dropout", rate: 0 }, dense(false)])), 3);
  assertEquals(firstStochasticLayer(spec([{ kind: "flatten" }, { kind: "dropout", rate: 0 }, dense(true)])), 2);
  assertEquals(firstStochasticLayer(spec([{ kind: "flatten" }, dense(false), { kind: "dropout", rate: 0.1 }])), 2);
});

// Table 1 of Zeng, Lesnikowski & Alvarez: which of the four weighted layers are Bayesian.
const POSTER_TABLE: Record<string, string[]> = {
  "BNN": ["Conv1", "Conv2", "Dense1", "Dense2"],
  "BNN-1": ["Dense2"],
  "BNN-2": ["Dense1", "Dense2"],
  "BNN-3": ["Conv2", "Dense1", "Dense2"],
  "BNN1": ["Conv1"],
  "BNN2": ["Conv1", "Conv2"],
  "BNN3": ["Conv1", "Conv2", "Dense1"],
  "CNN": [],
};

Deno.test("each hybrid preset has exactly the Bayesian layers of the poster's Table 1", () => {
  assertEquals([...hybridPresetNames].sort(), Object.keys(POSTER_TABLE).sort());
  for (const name of hybridPresetNames) {
    const spec = hybridPreset(name, 10, [28, 28, 1], { rhoInit: -9 });
    assert(E.isRight(NetSpec.decode(JSON.parse(JSON.stringify(spec)))), name);
    // Name the weighted layers Conv1, Conv2, Dense1, Dense2 by their order.
    const counts = { conv2d: 0, dense: 0 };
    const named: string[] = [];
    for (const l of spec.layers) {
      if (l.kind !== "conv2d" && l.kind !== "dense") continue;
      counts[l.kind]++;
      const label = `${l.kind === "conv2d" ? "Conv" : "Dense"}${counts[l.kind]}`;
      if (l.bayesian) {
        named.push(label);
        assertEquals(l.bayesian, { priorStd: 1, rhoInit: -9, rhoInitStd: 0.1 });
      }
    }
    assertEquals(counts, { conv2d: 2, dense: 2 }, name);
    assertEquals(named, POSTER_TABLE[name], name);
    assertEquals(bayesianLayers(spec).length, named.length, name);
    const last = spec.layers[spec.layers.length - 1];
    assert(last?.kind === "dense" && last.units === 10 && last.activation === "linear");
  }
  // Deterministic prefixes: BNN-1 samples only its last layer, CNN nothing.
  assertEquals(firstStochasticLayer(hybridPreset("BNN-1", 10)), 5);
  assertEquals(firstStochasticLayer(hybridPreset("BNN-3", 10)), 1);
  assertEquals(firstStochasticLayer(hybridPreset("BNN", 10)), 0);
  assertEquals(firstStochasticLayer(hybridPreset("CNN", 10)), 6);
});

Deno.test("the preset-name codec accepts the eight names only", () => {
  for (const name of hybridPresetNames) assert(E.isRight(HybridPresetName.decode(name)));
  for (const bad of ["BNN-4", "bnn", "", 3]) assert(E.isLeft(HybridPresetName.decode(bad)));
});

Deno.test("the NetSpec codec wants integer sizes >= 1 and dropout rates in [0, 1), each reported with its path", () => {
  const spec = galCnn(10);
  const layers = spec.layers.map((l) => ({ ...l })) as Record<string, unknown>[];
  layers[0] = { ...layers[0], filters: 0 };
  layers[1] = { ...layers[1], kernel: 2.5 };
  layers[2] = { ...layers[2], size: -1 };
  layers[3] = { ...layers[3], rate: 1 };
  layers[5] = { ...layers[5], units: NaN };
  const d = NetSpec.decode({ inputShape: [28, 0, 1], layers });
  assert(E.isLeft(d));
  assertEquals(formatDecodeErrors(d.left), [
    "inputShape.1: expected an integer >= 1, got 0",
    "layers.0.filters: expected an integer >= 1, got 0",
    "layers.1.kernel: expected an integer >= 1, got 2.5",
    "layers.2.size: expected an integer >= 1, got -1",
    "layers.3.rate: expected a number in [0, 1), got 1",
    "layers.5.units: expected an integer >= 1, got NaN",
  ]);
});

Deno.test("checkModelClasses, checkModelInput and checkModelShapes name the layer that does not fit", () => {
  assertEquals(checkModelClasses(galCnn(10), 10), []);
  assertEquals(checkModelClasses(galCnn(7), 10, "mnist"), [
    "model.layers.7.units: the last layer has 7 units but mnist has 10 classes",
  ]);
  assertEquals(checkModelClasses(galCnn(7), 10), [
    "model.layers.7.units: the last layer has 7 units but the data set has 10 classes",
  ]);
  const relu = {
    ...galCnn(10),
    layers: [...galCnn(10).layers.slice(0, -1), { kind: "dense", units: 10, activation: "relu" }],
  };
  assertEquals(checkModelClasses(relu as NetSpec, 10), [
    "model.layers: the last layer must be a linear dense layer (the class logits)",
  ]);
  assertEquals(checkModelInput(galCnn(10), [28, 28, 1]), []);
  assertEquals(checkModelInput(galCnn(10), [32, 32, 3], "cifar10"), [
    "model.inputShape: expected [32, 32, 3] for cifar10, got [28, 28, 1]",
  ]);
  assertEquals(checkModelShapes(galCnn(10)), []);
  assertEquals(checkModelShapes(hybridPreset("BNN", 10)), []);
  assertEquals(checkModelShapes(galCnn(10, [4, 4, 1])), [
    "model.layers.1.kernel: a 4x4 kernel does not fit its 1x1 input",
  ]);
  const dense = (units: number): LayerSpec => ({ kind: "dense", units, activation: "linear" });
  const spec = (layers: LayerSpec[]): NetSpec => ({ inputShape: [8, 8, 1], layers });
  assertEquals(checkModelShapes(spec([{ kind: "maxPool", size: 16 }, { kind: "flatten" }, dense(2)])), [
    "model.layers.0.size: a 16x16 pool does not fit its 8x8 input",
  ]);
  assertEquals(checkModelShapes(spec([dense(2)])), [
    "model.layers.0: a dense layer needs a vector input (put { kind: flatten } before it), got [8, 8, 1]",
  ]);
  assertEquals(checkModelShapes(spec([{ kind: "flatten" }, { kind: "maxPool", size: 2 }, dense(2)])), [
    "model.layers.1: a maxPool layer needs [H, W, C] input, but its input is a vector of 64",
  ]);
});
