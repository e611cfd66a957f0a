/**
 * The configuration of an active-learning experiment, as one io-ts codec that
 * gives both the runtime check and the static type. A TypeScript experiment
 * file default-exports the result of {@link experiment}; the runner decodes it
 * again before any work starts, so a bad value fails early with its path.
 *
 * @module
 */
import type { Experiment } from "./compose.ts";
import * as E from "fp-ts/Either.js";
import { pipe } from "fp-ts/function.js";
import * as t from "io-ts";
import {
  DropRate,
  formatDecodeErrors,
  NonNegativeInt,
  NonNegativeNumber,
  PositiveInt,
  PositiveNumber,
  strictFields,
  strictTuple,
  UnitInterval,
} from "./codecs.ts";
import {
  checkModelClasses,
  checkModelInput,
  checkModelOutput,
  checkModelShapes,
  hybridPreset,
  HybridPresetName,
  NetSpec,
} from "./model.ts";
import { mcDropout, PosteriorCodec, scoresByName, type Strategy, strategy, StrategyCodec, topK } from "./strategy.ts";
import {
  checkTextRecord,
  isTextDataset,
  isTextEncoder,
  TableDatasetConfig,
  type TextDatasetConfig,
  TextDatasetName,
  type TextEncoderInput,
  TextEncoderSpec,
} from "./text.ts";

/** Acquisition functions known by name. */
export const AcquisitionName = t.keyof({
  "bald": null,
  "max-entropy": null,
  "variation-ratios": null,
  "mean-std": null,
  "random": null,
});
/** Acquisition functions known by name. */
export type AcquisitionName = t.TypeOf<typeof AcquisitionName>;

/** Image data sets the loaders know. */
export const ImageDatasetName = t.keyof({ "mnist": null, "fashion-mnist": null, "cifar10": null });
/** Image data sets the loaders know. */
export type ImageDatasetName = t.TypeOf<typeof ImageDatasetName>;

/** A path in an experiment: a non-empty string. */
const PathString = new t.Type<string, string, unknown>(
  "path",
  (u): u is string => typeof u === "string" && u !== "",
  (u, c) =>
    typeof u === "string" && u !== ""
      ? t.success(u)
      : t.failure(u, c, `expected a path (a non-empty string), got ${JSON.stringify(u)}`),
  t.identity,
);

/**
 * A user's folder of images, one sub-folder per class (or `train/` and
 * `test/` folders holding them), e.g. `{ folder: data/pets, testFraction: 0.2 }`.
 */
export interface FolderDataset {
  /** The folder; a relative path is relative to the experiment file's directory. */
  readonly folder: string;
  /** Fraction of each class held out for testing without `train/` and `test/` folders (default 0.2, in [0, 1)). */
  readonly testFraction?: number;
}

/**
 * A user's NumPy `.npz` archive (`np.savez`), e.g. `{ npz: data/digits.npz }`,
 * with the names of its arrays when they are not `x`, `y`, `x_test`, `y_test`.
 */
export interface NpzDataset {
  /** The archive; a relative path is relative to the experiment file's directory. */
  readonly npz: string;
  /** Array of the training images (default `x`): integers 0..255, [N, H, W, C] or [N, H, W]. */
  readonly x?: string;
  /** Array of the training labels (default `y`): class indices, [N]. */
  readonly y?: string;
  /** Array of the test images (default `x_test`; used when present). */
  readonly xTest?: string;
  /** Array of the test labels (default `y_test`; used when present). */
  readonly yTest?: string;
  /** Fraction of each class held out for testing without test arrays (default 0.2, in [0, 1)). */
  readonly testFraction?: number;
  /** Number of classes (default: the largest label + 1). */
  readonly classes?: number;
}

/**
 * A data set an experiment runs on: a built-in one by name, or the user's own folder or `.npz` archive, or
 * text (`dsl/text.ts`): `trec`, `trec-fine`, `reuters` or a user's table `{ table: path.csv, ... }`.
 */
export type DatasetConfig = ImageDatasetName | FolderDataset | NpzDataset | TextDatasetConfig;

const FolderDatasetCodec = strictFields(t.intersection([
  t.type({ folder: PathString }),
  t.partial({ testFraction: DropRate }),
]));

const NpzDatasetCodec = strictFields(t.intersection([
  t.type({ npz: PathString }),
  t.partial({
    x: t.string,
    y: t.string,
    xTest: t.string,
    yTest: t.string,
    testFraction: DropRate,
    classes: PositiveInt,
  }),
]));

const datasetChoices = `${
  [...Object.keys(ImageDatasetName.keys), ...Object.keys(TextDatasetName.keys)].join(", ")
}, { folder: path }, { npz: path } or { table: path }`;

/** The `dataset` field: a built-in name, `{ folder, testFraction? }` or `{ npz, x?, y?, ... }`, strictly. */
const DatasetCodec = new t.Type<DatasetConfig, DatasetConfig, unknown>(
  "Dataset",
  (u): u is DatasetConfig =>
    ImageDatasetName.is(u) || FolderDatasetCodec.is(u) || NpzDatasetCodec.is(u) || TextDatasetName.is(u) ||
    TableDatasetConfig.is(u),
  (u, c) => {
    if (typeof u === "string") {
      return ImageDatasetName.is(u) || TextDatasetName.is(u)
        ? t.success(u)
        : t.failure(u, c, `expected ${datasetChoices}, got ${JSON.stringify(u)}`);
    }
    if (typeof u === "object" && u !== null && !Array.isArray(u)) {
      const has = (k: string) => Object.hasOwn(u, k);
      const given = ["folder", "npz", "table"].filter(has);
      if (given.length > 1) {
        return t.failure(
          u,
          c,
          given.length === 2
            ? `expected either ${given.join(" or ")}, not both`
            : "expected one of folder, npz or table",
        );
      }
      if (has("folder")) return FolderDatasetCodec.validate(u, c);
      if (has("npz")) return NpzDatasetCodec.validate(u, c);
      if (has("table")) return TableDatasetConfig.validate(u, c);
      const fields = Object.keys(u);
      return t.failure(
        u,
        c,
        `expected ${datasetChoices}, got an object with ${fields.length > 0 ? fields.join(", ") : "no fields"}`,
      );
    }
    return t.failure(u, c, `expected ${datasetChoices}, got ${JSON.stringify(u)}`);
  },
  t.identity,
);

/**
 * How messages name a data set: a built-in one by its name, a user's by its path as written.
 *
 * @param dataset the experiment's `dataset`
 * @returns e.g. `mnist` or `data/pets`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetLabel } from "./experiment.ts";
 * assert(datasetLabel({ folder: "data/pets" }) === "data/pets");
 * assert(datasetLabel("mnist") === "mnist");
 * ```
 */
export function datasetLabel(dataset: DatasetConfig): string {
  return typeof dataset === "string"
    ? dataset
    : "folder" in dataset
    ? dataset.folder
    : "npz" in dataset
    ? dataset.npz
    : dataset.table;
}

/** What a model must fit in each built-in image data set: its classes and image shape [H, W, C]. */
export const imageDatasets: Readonly<
  Record<ImageDatasetName, { readonly classes: number; readonly inputShape: readonly [number, number, number] }>
> = {
  "mnist": { classes: 10, inputShape: [28, 28, 1] },
  "fashion-mnist": { classes: 10, inputShape: [28, 28, 1] },
  "cifar10": { classes: 10, inputShape: [32, 32, 3] },
};

/** How each round's model is trained. */
export const TrainConfig = strictFields(t.intersection([
  t.type({
    epochs: PositiveInt,
    batchSize: PositiveInt,
    learningRate: PositiveNumber,
    weightDecay: NonNegativeNumber,
    /** "scratch": re-initialise every round (Gal et al. 2017); "previous": continue from last round's weights. */
    init: t.keyof({ scratch: null, previous: null }),
  }),
  t.partial({
    /** Weight of the KL term for nets with Gaussian (Bayes-by-backprop) layers; default 1. */
    klWeight: PositiveNumber,
  }),
]));
/** How each round's model is trained. */
export type TrainConfig = t.TypeOf<typeof TrainConfig>;

/** The sizes that `--full` may override. */
const ScaleFields = {
  rounds: PositiveInt,
  /** Items scored per round: a random subset of the pool; 0 scores the whole pool. */
  poolSubset: NonNegativeInt,
  /** Test items evaluated per round; 0 evaluates the whole test set. */
  testSubset: NonNegativeInt,
  seeds: t.array(t.Int),
  train: TrainConfig,
};

/**
 * When a run stops early (it always stops after `rounds` acquisition rounds):
 * once the labelled set reaches `labels` items (the last acquisition is cut
 * to fit), or once test accuracy reaches `accuracy`.
 */
export const StopConfig = strictFields(t.partial({ labels: PositiveInt, accuracy: UnitInterval }));
/** Early-stop conditions. */
export type StopConfig = t.TypeOf<typeof StopConfig>;

/**
 * A parameter grid: dotted paths into the experiment (e.g.
 * `train.learningRate`) and the values to try. Each point of the product is a
 * variant of the experiment, run with every strategy and seed.
 */
export const GridConfig = t.record(t.string, t.array(t.unknown));

const presetOptions = t.partial({
  inputShape: strictTuple(t.tuple([PositiveInt, PositiveInt, PositiveInt])),
  priorStd: PositiveNumber,
  rhoInit: t.number,
  rhoInitStd: NonNegativeNumber,
});

const presetShape = strictFields(
  t.intersection([t.type({ preset: HybridPresetName, classes: PositiveInt }), presetOptions]),
);

/**
 * A model: a full spec, or one of the hybrid presets of Zeng, Lesnikowski &
 * Alvarez by name (`{ preset: BNN-1, classes: 10 }`), which decodes to its
 * spec, or for text the text encoder (`{ kind: text-encoder, ... }`, see
 * `dsl/text.ts`).
 */
export const ModelCodec = new t.Type<NetSpec | TextEncoderSpec, NetSpec | TextEncoderInput, unknown>(
  "Model",
  (u): u is NetSpec | TextEncoderSpec => NetSpec.is(u) || TextEncoderSpec.is(u),
  (u, c) => {
    if (isTextEncoder(u)) return TextEncoderSpec.validate(u, c);
    if (typeof u === "object" && u !== null && "preset" in u) {
      const shape = presetShape.validate(u, c);
      if (E.isLeft(shape)) return shape;
      const { preset, classes, inputShape, ...opts } = shape.right;
      return t.success(hybridPreset(preset, classes, inputShape ?? [28, 28, 1], opts));
    }
    return NetSpec.validate(u, c);
  },
  (a) => a,
);

/** The experiment configuration. */
export const ExperimentConfig = strictFields(t.intersection([
  t.type({
    name: t.string,
    /**
     * A built-in data set by name, or `{ folder: path }` / `{ npz: path }` (relative to the experiment file);
     * text: `trec`, `trec-fine`, `reuters` or `{ table: path, ... }`.
     */
    dataset: DatasetCodec,
    model: ModelCodec,
  }),
  t.partial({
    /** Initial labelled items per class (balanced warm start); required for images. */
    initialPerClass: PositiveInt,
  }),
  t.type({
    rounds: ScaleFields.rounds,
    poolSubset: ScaleFields.poolSubset,
    testSubset: ScaleFields.testSubset,
    seeds: ScaleFields.seeds,
  }),
  t.partial({
    /** How each round's net is trained; required for images (a text encoder has its own settings). */
    train: ScaleFields.train,
    /** Text: random documents labelled before the first round (instead of `initialPerClass`). */
    initialLabelled: PositiveInt,
    /** Strategies as values (TypeScript) or by part names (YAML). */
    strategies: t.array(StrategyCodec),
    /** Shorthand: these scores, each with MC dropout (`mcSamples`) and top-k (`acquireSize`). */
    acquisitions: t.array(AcquisitionName),
    /** Items acquired per round by the `acquisitions` shorthand. */
    acquireSize: PositiveInt,
    /** MC-dropout samples T of the `acquisitions` shorthand. */
    mcSamples: PositiveInt,
    stop: StopConfig,
    grid: GridConfig,
    /**
     * How every strategy's trained nets are evaluated: one posterior for all
     * strategies (e.g. `mcDropout({ samples: 20 })`), so that a selection rule
     * with a weaker predictor of its own (a VOGN head, a deterministic net) is
     * judged by the same predictor as the others. Default: each strategy's own
     * posterior. Image experiments only.
     */
    evaluator: PosteriorCodec,
    /** Overrides applied by `--full`: the paper's scale. */
    full: strictFields(t.partial({
      ...ScaleFields,
      mcSamples: PositiveInt,
      initialPerClass: PositiveInt,
      initialLabelled: PositiveInt,
      strategies: t.array(StrategyCodec),
      stop: StopConfig,
      grid: GridConfig,
    })),
    description: t.string,
  }),
]));
/** The experiment configuration. */
export type ExperimentConfig = t.TypeOf<typeof ExperimentConfig>;
/** The configuration as a user writes it (plain numbers). */
export type ExperimentInput = t.OutputOf<typeof ExperimentConfig>;

/**
 * Checks an unknown value against {@link ExperimentConfig}, then the rules
 * across fields. Every object of the config is strict: a field it does not
 * know, at any depth, is reported with its path (`train.lr: unknown field
 * (known fields: ...)`), with every other problem of the value.
 *
 * @param value the decoded YAML or the module's default export
 * @returns the config, or every problem with its path
 */
export function decodeExperiment(value: unknown): E.Either<string[], ExperimentConfig> {
  return pipe(
    ExperimentConfig.decode(value),
    E.mapLeft(formatDecodeErrors),
    E.chain((config) => {
      const problems = checkConsistency(config);
      return problems.length > 0 ? E.left(problems) : E.right(config);
    }),
  );
}

function checkConsistency(c: ExperimentConfig): string[] {
  const problems: string[] = [];
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(c.name)) {
    problems.push(`name: expected letters, digits, '.', '_' or '-', got ${JSON.stringify(c.name)}`);
  }
  const shorthand = c.acquisitions ?? [];
  if (shorthand.length === 0 && (c.strategies ?? []).length === 0) {
    problems.push("strategies: expected at least one strategy (or names in acquisitions)");
  }
  if (shorthand.length > 0) {
    if (c.mcSamples === undefined) problems.push("mcSamples: required with acquisitions (the MC-dropout samples T)");
    if (c.acquireSize === undefined) problems.push("acquireSize: required with acquisitions (items per round)");
  }
  const text = isTextDataset(c.dataset);
  (c.strategies ?? []).forEach((s, i) => {
    // (The text pack samples its VOGN head with the same draws for every item: joint samples.)
    if (!text && s.acquire.needsConsistentSamples && !s.posterior.consistent) {
      problems.push(
        `strategies.${i}.acquire: ${s.acquire.name} needs joint samples, but posterior ${s.posterior.name} draws ` +
          `new weights per chunk (use e.g. { name: mc-dropout, samples: T, consistent: true }, or an ensemble)`,
      );
    }
  });
  const seen = new Map<string, string>();
  const named = [
    ...(c.strategies ?? []).map((s, i) => [s.name, `strategies.${i}.name`] as const),
    ...shorthand.map((a, i) => [a, `acquisitions.${i}`] as const),
  ];
  for (const [name, path] of named) {
    const first = seen.get(name);
    if (first !== undefined) {
      problems.push(`${path}: strategy name ${JSON.stringify(name)} is already used by ${first}; name each one`);
    } else seen.set(name, path);
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) {
      problems.push(`${path}: strategy names use letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`);
    }
  }
  if (c.seeds.length === 0) problems.push("seeds: expected at least one seed");
  if (c.evaluator !== undefined && isTextDataset(c.dataset)) {
    problems.push("evaluator: a common evaluator is for image experiments (the text pack evaluates its head)");
  }
  strategiesOf(c).forEach((s, i) => {
    const need = c.evaluator?.nets ?? 1, have = s.posterior.nets ?? 1;
    if (need > have) {
      problems.push(
        `evaluator: ${c.evaluator?.name} needs ${need} nets, but strategy ${i} (${s.name}) trains ${have}`,
      );
    }
  });
  if (isTextDataset(c.dataset)) return [...problems, ...checkTextRecord({ ...c, dataset: c.dataset })];
  if (isTextEncoder(c.model)) {
    return [...problems, `model: a text encoder reads text, but ${datasetLabel(c.dataset)} is an image data set`];
  }
  if (c.initialPerClass === undefined) {
    problems.push("initialPerClass: required field is missing (expected an integer >= 1)");
  }
  if (c.initialLabelled !== undefined) {
    problems.push("initialLabelled: a random warm start is for text; image experiments use initialPerClass");
  }
  if (c.train === undefined) {
    problems.push("train: required field is missing (expected epochs, batchSize, learningRate, weightDecay, init)");
  }
  // The model against its data set (sizes and rates are the codec's): layers that fit, the classes, the images.
  // A user's data set is checked once loaded (the image pack's preset does it before any stage runs).
  const data = typeof c.dataset === "string" ? imageDatasets[c.dataset] : undefined;
  problems.push(...checkModelShapes(c.model));
  if (data && typeof c.dataset === "string") {
    problems.push(...checkModelClasses(c.model, data.classes, c.dataset));
    problems.push(...checkModelInput(c.model, data.inputShape, c.dataset));
  } else problems.push(...checkModelOutput(c.model));
  return problems;
}

/**
 * Declares an experiment. Type-checks the literal; the runner decodes it again
 * at run time. An image experiment's value keeps its net's type (`model` is
 * a `NetSpec`), a text one's its encoder's.
 *
 * @param config the experiment
 * @returns the same value, typed
 */
export function experiment(config: ExperimentInput & { readonly model: NetSpec }): ExperimentInput & {
  readonly model: NetSpec;
};
/**
 * Declares an experiment of any model (e.g. a text encoder): the value as
 * written, typed as {@link ExperimentInput}.
 *
 * @param config the experiment
 * @returns the same value, typed
 */
export function experiment(config: ExperimentInput): ExperimentInput;
export function experiment(config: ExperimentInput): ExperimentInput {
  return config;
}

/**
 * Several experiments run one after another over one cache: an ablation
 * study is a base experiment and its variations, and the report shows which
 * stages each one reused.
 */
export interface Suite {
  /** Marks a suite, so the runner tells a suite file's export from a single experiment's. */
  readonly _tag: "suite";
  /** Names the results folder `results/<suite>/`: letters, digits, '.', '_' or '-'. */
  readonly name: string;
  /** Shown at the top of the suite's `reuse.md` report. */
  readonly description?: string;
  /** The experiments (preset records or composed experiments), run in this order over one cache; each needs its own name. */
  readonly experiments: readonly (ExperimentInput | Experiment)[];
}

/**
 * Declares a suite (`deno task exp` runs every experiment of it, in order,
 * writing `results/<suite>/<experiment>/` and `results/<suite>/reuse.md`).
 *
 * @param s the name, an optional description and the experiments
 * @returns the suite value
 */
export function suite(s: Omit<Suite, "_tag">): Suite {
  return { _tag: "suite", ...s };
}

/**
 * Applies the `full` overrides (the paper's scale) to a config.
 *
 * @param config the decoded config
 * @returns the config at full scale
 */
export function atFullScale(config: ExperimentConfig): ExperimentConfig {
  return { ...config, ...(config.full ?? {}) };
}

/**
 * Every strategy of an experiment: the explicit ones, then one per name in
 * the `acquisitions` shorthand (MC dropout with `mcSamples`, top-k with
 * `acquireSize`).
 *
 * @param config a decoded experiment
 * @returns the strategies, in order
 */
export function strategiesOf(config: ExperimentConfig): Strategy[] {
  const shorthand = (config.acquisitions ?? []).map((name) =>
    strategy({
      posterior: mcDropout({ samples: config.mcSamples ?? 1 }),
      score: scoresByName[name] as NonNullable<(typeof scoresByName)[string]>,
      acquire: topK(config.acquireSize ?? 1),
    })
  );
  return [...(config.strategies ?? []), ...shorthand];
}

/** What an image experiment has that a text one has not (see {@link imagePartsOf}). */
export interface ImageParts {
  /** The net each round trains. */
  readonly model: NetSpec;
  /** How each round's net is trained. */
  readonly train: TrainConfig;
  /** Labelled items per class before the first round (the balanced warm start). */
  readonly initialPerClass: number;
}

/**
 * The net, training settings and warm start of a decoded image experiment
 * (`decodeExperiment` requires them on image data sets).
 *
 * @param config a decoded experiment on an image data set
 * @returns its image parts
 * @throws TypeError for a text experiment (a text encoder, no `train` or no `initialPerClass`)
 */
export function imagePartsOf(config: ExperimentConfig): ImageParts {
  const { model, train, initialPerClass } = config;
  if (isTextEncoder(model) || train === undefined || initialPerClass === undefined) {
    throw new TypeError(`${config.name}: not an image experiment (it needs a net, train and initialPerClass)`);
  }
  return { model, train, initialPerClass };
}

/** One point of an experiment's grid. */
export interface Variant {
  /** `path=value` pairs joined by commas; "" when there is no grid. */
  readonly label: string;
  /** The experiment with this point's values set, decoded again (its `grid` left out). */
  readonly config: ExperimentConfig;
}

function getPath(value: unknown, path: readonly string[]): { found: boolean; value: unknown } {
  let v: unknown = value;
  for (const k of path) {
    if (typeof v !== "object" || v === null || !(k in v)) return { found: false, value: undefined };
    v = (v as Record<string, unknown>)[k];
  }
  return { found: true, value: v };
}

function setPath(value: unknown, path: readonly string[], to: unknown): unknown {
  if (path.length === 0) return to;
  const [head, ...rest] = path as [string, ...string[]];
  const obj = Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
  (obj as Record<string, unknown>)[head] = setPath((obj as Record<string, unknown>)[head], rest, to);
  return obj;
}

/**
 * Expands an experiment's grid into its variants (the product of every
 * path's values, in the order written), each decoded again so a bad value
 * is reported with its grid path. No grid gives one variant, labelled "".
 *
 * @param config a decoded experiment
 * @returns the variants, or every problem with its path
 */
export function expandGrid(config: ExperimentConfig): E.Either<string[], Variant[]> {
  const grid = Object.entries(config.grid ?? {});
  const { grid: _omit, ...base } = config;
  const encoded = ExperimentConfig.encode(base as ExperimentConfig);
  const problems: string[] = [];
  for (const [path, values] of grid) {
    // One load step per experiment: the data set cannot vary either.
    const fixed = ["grid", "name", "dataset"].some((f) => path === f || path.startsWith(`${f}.`));
    if (fixed || path.startsWith("full")) {
      problems.push(`grid.${path}: this field cannot vary in a grid`);
    } else if (!getPath(encoded, path.split(".")).found) {
      problems.push(`grid.${path}: no such field in the experiment (a grid path must name an existing field)`);
    }
    if (values.length === 0) problems.push(`grid.${path}: expected at least one value`);
  }
  if (problems.length > 0) return E.left(problems);
  let points: { label: string[]; value: unknown }[] = [{ label: [], value: encoded }];
  for (const [path, values] of grid) {
    points = points.flatMap((p) =>
      values.map((v) => ({
        // Objects print compactly, without quotes: model={preset:BNN-1,classes:10}.
        label: [
          ...p.label,
          `${path}=${typeof v === "object" && v !== null ? JSON.stringify(v).replaceAll('"', "") : JSON.stringify(v)}`,
        ],
        value: setPath(p.value, path.split("."), v),
      }))
    );
  }
  const variants: Variant[] = [];
  for (const p of points) {
    const label = p.label.join(",");
    const decoded = decodeExperiment(p.value);
    if (E.isLeft(decoded)) problems.push(...decoded.left.map((m) => `grid (variant ${label}): ${m}`));
    else variants.push({ label, config: decoded.right });
  }
  return problems.length > 0 ? E.left(problems) : E.right(variants);
}
