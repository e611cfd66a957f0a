/**
 * Shapes of the data sets the loaders return.
 *
 * Every data set carries `contentHash`, the sha256 of the exact input files
 * plus the loader parameters that change the result, and `files`, the list of
 * files it was built from. The hash is meant to be the root of cache keys.
 *
 * @module
 */

/** One file a data set was built from. */
export interface DatasetFile {
  /** Path relative to the data directory, with `/` separators. */
  readonly path: string;
  /** Lower-case hex sha256 of the file's bytes. */
  readonly sha256: string;
  /** Size of the file in bytes. */
  readonly bytes: number;
}

/** Images of one split: raw 0..255 bytes in NHWC order, and one label each. */
export interface ImageSplit {
  /** Pixels, `shape[0] * shape[1] * shape[2] * shape[3]` bytes, NHWC order. */
  readonly x: Uint8Array;
  /** `[N, H, W, C]`. */
  readonly shape: readonly [number, number, number, number];
  /** Class index of each image, `N` values in `0..labelNames.length-1`. */
  readonly y: Int32Array;
}

/** An image classification data set with a train and a test split. */
export interface ImageDataset {
  readonly kind: "image";
  /** Short name, e.g. `"mnist"`. */
  readonly name: string;
  readonly train: ImageSplit;
  readonly test: ImageSplit;
  /** Class names, indexed by label. */
  readonly labelNames: readonly string[];
  /** sha256 hex identifying the input files and loader parameters. */
  readonly contentHash: string;
  /** The files read, sorted by path. */
  readonly files: readonly DatasetFile[];
}

/** Texts of one split with a single label each. */
export interface TextSplit {
  readonly texts: readonly string[];
  /** Class index of each text, `texts.length` values. */
  readonly y: Int32Array;
}

/** A single-label text classification data set (TREC). */
export interface TextDataset {
  readonly kind: "text";
  /** Short name, e.g. `"trec-coarse"`. */
  readonly name: string;
  readonly train: TextSplit;
  readonly test: TextSplit;
  /** Class names, indexed by label. */
  readonly labelNames: readonly string[];
  /** sha256 hex identifying the input files and loader parameters. */
  readonly contentHash: string;
  /** The files read, sorted by path. */
  readonly files: readonly DatasetFile[];
}

/** Texts of one split with any number of labels each. */
export interface MultiLabelTextSplit {
  readonly texts: readonly string[];
  /** Multi-hot labels, `[N, L]` row-major with `L = labelNames.length`. */
  readonly y: Uint8Array;
  /** Source identifier of each text (Reuters NEWID). */
  readonly ids: Int32Array;
}

/** A multi-label text classification data set (Reuters-21578 ModApte). */
export interface MultiLabelTextDataset {
  readonly kind: "multilabel";
  /** Short name, e.g. `"reuters-modapte"`. */
  readonly name: string;
  readonly train: MultiLabelTextSplit;
  readonly test: MultiLabelTextSplit;
  /** Category names, indexed by column of `y`. */
  readonly labelNames: readonly string[];
  /** sha256 hex identifying the input files and loader parameters. */
  readonly contentHash: string;
  /** The files read, sorted by path. */
  readonly files: readonly DatasetFile[];
}

/** Any data set a loader returns. */
export type Dataset = ImageDataset | TextDataset | MultiLabelTextDataset;
