/**
 * Load stage for image experiments: picks the loader by data-set name and
 * shapes its output for the AL loop.
 *
 * @module
 */
import type { ImageDatasetName } from "../../dsl/experiment.ts";
import type { LabelledImages } from "../tensor/stages.ts";
import { type ChecksumPolicy, loadCifar10, loadFashionMnist, loadMnist } from "./mod.ts";

/** Options passed to the data loaders. */
export interface DatasetOptions {
  readonly dataDir?: string;
  readonly download: boolean;
  readonly checksums?: ChecksumPolicy;
  readonly log: (msg: string) => void;
}

/**
 * An image data set split for active learning (train and test images, classes, the content hash): the
 * `ImageData` that the image pack's load stages give and its other stages read.
 */
export interface LoadedImages {
  /** The train split: the labelled set and the pool are indices into it. */
  readonly train: LabelledImages;
  /** The test split, which the evaluate stage reads. */
  readonly test: LabelledImages;
  /** C: number of classes; labels are 0..C-1. */
  readonly classes: number;
  /** Class names, indexed by label. */
  readonly labelNames: readonly string[];
  /** sha256 of the files read: the root of every cache key. */
  readonly contentHash: string;
}

/**
 * Loads an image data set by name.
 *
 * @param name the data set
 * @param opts data directory, download policy, log sink
 * @returns train and test images with labels
 */
export async function loadImageDataset(name: ImageDatasetName, opts: DatasetOptions): Promise<LoadedImages> {
  const loader = { "mnist": loadMnist, "fashion-mnist": loadFashionMnist, "cifar10": loadCifar10 }[name];
  const ds = await loader(opts);
  return {
    train: ds.train,
    test: ds.test,
    classes: ds.labelNames.length,
    labelNames: ds.labelNames,
    contentHash: ds.contentHash,
  };
}
