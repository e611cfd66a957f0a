/**
 * Load stages for a user's own image data: a folder of class folders
 * ({@link imageFolder}), a NumPy `.npz` archive ({@link npzImages}) or a
 * pair of `.npy` files ({@link npyImages}). Each gives the {@link ImageData}
 * that the image pack's stages read, so `source(imageFolder("data/pets"))`
 * feeds the standard round as the built-in data sets do.
 *
 * A load step's cache key is the `contentHash` of what it read: the bytes
 * of every file and the options that change the result (the held-out
 * fraction, the array names, the classes), never the path of the folder or
 * file. Moving the data keeps every key; changing one byte changes them all.
 * The path and the options are the stage's params (what the results show).
 *
 * Relative paths resolve against the current directory when the stage runs.
 * (A preset's `dataset: { folder: ... }` is resolved against the experiment
 * file's directory before it reaches these stages.)
 *
 * @module
 */
import { isAbsolute, join } from "node:path";
import * as TE from "fp-ts/TaskEither.js";
import { datasetLabel, type FolderDataset, imagePartsOf, type NpzDataset, type Variant } from "../../dsl/experiment.ts";
import { checkModelClasses, checkModelInput, type NetSpec } from "../../dsl/model.ts";
import { type Stage, stageError } from "../../dsl/stage.ts";
import { loadImageFolder } from "../data/image_folder.ts";
import { loadNpyPair, loadNpz } from "../data/npz.ts";
import type { ImageDataset } from "../data/types.ts";
import type { LoadedImages as ImageData } from "../data/datasets.ts";
import { allowResidentImages, releaseResidentImages, residentImageTensors } from "../tensor/train.ts";

/**
 * What a load stage adds so that its splits may stay on a GPU for the run
 * (uploaded once, see `allowResidentImages`): the runner frees the copies
 * through `release` when the run no longer needs the data, and counts them
 * through `tensors`.
 */
export const residentImages = {
  allow(data: ImageData): ImageData {
    allowResidentImages(data.train);
    allowResidentImages(data.test);
    return data;
  },
  release(data: ImageData): void {
    releaseResidentImages(data.train);
    releaseResidentImages(data.test);
  },
  tensors(data: ImageData): number {
    return residentImageTensors(data.train) + residentImageTensors(data.test);
  },
};

/** Options of {@link imageFolder}. */
export interface ImageFolderSourceOptions {
  /**
   * Fraction of each class held out as the test split when the folder has
   * no `train/` and `test/` folders (default 0.2, in `[0, 1)`), chosen by a
   * hash of each file's path relative to the folder.
   */
  readonly testFraction?: number;
}

/** Options of {@link npzImages}: the array names are those given to `np.savez`. */
export interface NpzSourceOptions {
  /** Name of the training images (default `"x"`). */
  readonly x?: string;
  /** Name of the training labels (default `"y"`). */
  readonly y?: string;
  /** Name of the test images (default `"x_test"`); used when present. */
  readonly xTest?: string;
  /** Name of the test labels (default `"y_test"`); used when present. */
  readonly yTest?: string;
  /** Fraction of each class held out as the test split when there are no test arrays (default 0.2). */
  readonly testFraction?: number;
  /** Number of classes; default: `labelNames.length`, else the largest label + 1. */
  readonly classes?: number;
  /** Class names by label; default `"0"`..`"K-1"`. */
  readonly labelNames?: readonly string[];
}

/** Options of {@link npyImages}. */
export interface NpySourceOptions {
  /** `.npy` file of test images; give it with `yTestPath`, or neither. */
  readonly xTestPath?: string;
  /** `.npy` file of test labels; give it with `xTestPath`, or neither. */
  readonly yTestPath?: string;
  /** Fraction of each class held out as the test split without test files (default 0.2). */
  readonly testFraction?: number;
  /** Number of classes; default: `labelNames.length`, else the largest label + 1. */
  readonly classes?: number;
  /** Class names by label; default `"0"`..`"K-1"`. */
  readonly labelNames?: readonly string[];
}

/** A loaded data set as the image pack's stages read it. */
function toImageData(ds: ImageDataset): ImageData {
  return {
    train: ds.train,
    test: ds.test,
    classes: ds.labelNames.length,
    labelNames: ds.labelNames,
    contentHash: ds.contentHash,
  };
}

/** The options that were given (params hold no `undefined`, so they stay plain JSON). */
function given<T extends object>(opts: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
}

/** A load stage running `load`, its failures (a `DataError` naming the file) as the stage's error. */
function loadStage(
  name: string,
  params: Record<string, unknown>,
  what: string,
  load: () => Promise<ImageDataset>,
): Stage<Record<string, never>, ImageData> {
  return {
    kind: "load",
    name,
    version: 1,
    params,
    numeric: false,
    release: residentImages.release,
    tensors: residentImages.tensors,
    run: (_input, ctx) =>
      TE.tryCatch(
        async () => {
          ctx.progress(`reading ${what}`);
          return residentImages.allow(toImageData(await load()));
        },
        (e) => stageError(name, (e as Error).message ?? String(e), e),
      ),
  };
}

/**
 * Load: a folder of PNG/JPEG images with one sub-folder per class (the
 * class names, sorted, give the labels), or `train/` and `test/` folders
 * each holding the class folders. See `loadImageFolder` for the rules
 * (same size for every image, grayscale or RGB, no transparency).
 *
 * @param root the folder; a relative path resolves against the current directory when the stage runs
 * @param opts the held-out test fraction
 * @returns the load stage (`load/image-folder`), keyed by the images' bytes
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { composeExperiment, source } from "../../dsl/compose.ts";
 * import { imageFolder } from "./image_sources.ts";
 * const data = source(imageFolder("data/pets", { testFraction: 0.25 }));
 * const exp = composeExperiment({ name: "pets", load: data, runs: () => [] });
 * assert(exp.load.stage.params["folder"] === "data/pets");
 * ```
 */
export function imageFolder(
  root: string,
  opts: ImageFolderSourceOptions = {},
): Stage<Record<string, never>, ImageData> {
  return loadStage(
    "load/image-folder",
    { folder: root, ...given(opts) },
    `the image folder ${root}`,
    () => loadImageFolder(root, opts),
  );
}

/**
 * Load: a NumPy `.npz` archive (`np.savez` or `np.savez_compressed`) with
 * images `x` (integers 0..255, `[N, H, W, C]` or `[N, H, W]`) and labels
 * `y` (`[N]`), and optionally `x_test`, `y_test`; without test arrays a
 * fraction of each class is held out. See `loadNpz` for the rules.
 *
 * @param path the `.npz` file; a relative path resolves against the current directory when the stage runs
 * @param opts array names, classes, label names, held-out fraction
 * @returns the load stage (`load/npz`), keyed by the archive's bytes and the options
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { source } from "../../dsl/compose.ts";
 * import { npzImages } from "./image_sources.ts";
 * const data = source(npzImages("data/digits.npz", { x: "images", y: "labels", classes: 10 }));
 * assert(data.stage.name === "load/npz");
 * ```
 */
export function npzImages(path: string, opts: NpzSourceOptions = {}): Stage<Record<string, never>, ImageData> {
  return loadStage("load/npz", { npz: path, ...given(opts) }, path, () => loadNpz(path, opts));
}

/**
 * Load: images and labels from two `.npy` files (`np.save`), with the same
 * rules as {@link npzImages}; optionally two more files for the test split.
 *
 * @param xPath `.npy` file of the images; relative paths resolve against the current directory when the stage runs
 * @param yPath `.npy` file of the labels
 * @param opts test files, classes, label names, held-out fraction
 * @returns the load stage (`load/npy`), keyed by the files' bytes and the options
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { source } from "../../dsl/compose.ts";
 * import { npyImages } from "./image_sources.ts";
 * const data = source(npyImages("data/x.npy", "data/y.npy", { testFraction: 0.1 }));
 * assert(data.stage.params["y"] === "data/y.npy");
 * ```
 */
export function npyImages(
  xPath: string,
  yPath: string,
  opts: NpySourceOptions = {},
): Stage<Record<string, never>, ImageData> {
  return loadStage(
    "load/npy",
    { x: xPath, y: yPath, ...given(opts) },
    `${xPath} and ${yPath}`,
    () => loadNpyPair(xPath, yPath, opts),
  );
}

/**
 * The load stage of a preset's own data set (`dataset: { folder: ... }` or
 * `{ npz: ... }`): a relative path is taken relative to `baseDir`, the
 * directory of the experiment file (absolute paths are kept).
 *
 * @param dataset the preset's `dataset` field
 * @param baseDir the experiment file's directory; without it, relative paths stay relative to the current directory
 * @returns the load stage
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { presetImages } from "./image_sources.ts";
 * const stage = presetImages({ folder: "data/pets" }, "examples");
 * assert(stage.params["folder"] === "examples/data/pets");
 * ```
 */
export function presetImages(
  dataset: FolderDataset | NpzDataset,
  baseDir?: string,
): Stage<Record<string, never>, ImageData> {
  const at = (path: string) => (baseDir === undefined || isAbsolute(path) ? path : join(baseDir, path));
  if ("folder" in dataset) {
    const { folder, ...opts } = dataset;
    return imageFolder(at(folder), opts);
  }
  const { npz, ...opts } = dataset;
  return npzImages(at(npz), opts);
}

/**
 * What is wrong with a model for data that were loaded: its last layer
 * against the classes, its input shape against the images.
 *
 * @param model the net
 * @param data the loaded data
 * @param label how messages name the data (the path as the user wrote it)
 * @returns one message per problem, none when the net fits
 */
export function checkModelForData(model: NetSpec, data: ImageData, label: string): string[] {
  const [, h, w, c] = data.train.shape;
  return [...checkModelClasses(model, data.classes, label), ...checkModelInput(model, [h, w, c], label)];
}

/**
 * Checks every grid point's model against a preset's own data set once it
 * is loaded, before any stage runs (a built-in data set's model is checked
 * when the experiment is decoded).
 *
 * @param variants the preset's grid points
 * @param data the loaded data
 * @throws {Error} naming every problem, e.g. `model.layers.6.units: the last
 *   layer has 7 units but data/imgs has 3 classes` (with the grid point when
 *   the points differ)
 */
export function checkPresetModels(variants: readonly Variant[], data: ImageData): void {
  const per = variants.map((v: Variant) => ({
    label: v.label,
    problems: checkModelForData(imagePartsOf(v.config).model, data, datasetLabel(v.config.dataset)),
  }));
  const first = JSON.stringify(per[0]?.problems ?? []);
  const problems = per.every((p) => JSON.stringify(p.problems) === first)
    ? per[0]?.problems ?? []
    : per.flatMap((p) => p.problems.map((m) => `grid (variant ${p.label}): ${m}`));
  if (problems.length > 0) throw new Error(problems.join("\n"));
}
