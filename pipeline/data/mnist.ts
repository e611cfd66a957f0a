/**
 * MNIST and Fashion-MNIST loaders (IDX files, gzip-compressed).
 *
 * @module
 */

import { gunzip } from "./codec.ts";
import { formatError } from "./errors.ts";
import {
  computeContentHash,
  type DatasetSpec,
  describeFiles,
  fetchDatasetFiles,
  type LoadedFile,
  type LoadOptions,
} from "./files.ts";
import type { ImageDataset, ImageSplit } from "./types.ts";

/** IDX magic number of a uint8 rank-3 array (images). */
export const IDX_IMAGES_MAGIC = 0x00000803;
/** IDX magic number of a uint8 rank-1 array (labels). */
export const IDX_LABELS_MAGIC = 0x00000801;

/** Checks the 4-byte big-endian magic number at the start of an IDX file. */
function checkMagic(
  bytes: Uint8Array,
  want: number,
  what: string,
  file: string,
): void {
  if (bytes.length < 4) {
    formatError(
      file,
      `it is ${bytes.length} bytes long, too short for an IDX file`,
    );
  }
  const magic = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
  if (magic !== want) {
    formatError(
      file,
      `it starts with magic 0x${magic.toString(16)}, not 0x${want.toString(16)} (IDX uint8 ${what})`,
    );
  }
}

/** Images decoded from an IDX file. */
export interface IdxImages {
  /** `count * rows * cols` pixel bytes, row-major. */
  readonly x: Uint8Array;
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
}

/**
 * Decodes an uncompressed IDX image file (magic 0x803, then big-endian
 * uint32 count, rows, cols, then the pixels). The byte length must match the
 * header exactly; otherwise a `format` {@link DataError} naming `file`.
 */
export function parseIdxImages(bytes: Uint8Array, file: string): IdxImages {
  checkMagic(bytes, IDX_IMAGES_MAGIC, "images", file);
  if (bytes.length < 16) {
    formatError(
      file,
      `it is ${bytes.length} bytes long, shorter than an IDX image header (16)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(4);
  const rows = view.getUint32(8);
  const cols = view.getUint32(12);
  const want = 16 + count * rows * cols;
  if (bytes.length !== want) {
    formatError(
      file,
      `it has ${bytes.length} bytes but its header announces ${count} images of ` +
        `${rows}x${cols}, i.e. ${want} bytes`,
    );
  }
  return { x: bytes.slice(16), count, rows, cols };
}

/**
 * Decodes an uncompressed IDX label file (magic 0x801, then big-endian uint32
 * count, then one byte per label). The byte length must match the header.
 */
export function parseIdxLabels(bytes: Uint8Array, file: string): Uint8Array {
  checkMagic(bytes, IDX_LABELS_MAGIC, "labels", file);
  if (bytes.length < 8) {
    formatError(
      file,
      `it is ${bytes.length} bytes long, shorter than an IDX label header (8)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(4);
  if (bytes.length !== 8 + count) {
    formatError(
      file,
      `it has ${bytes.length} bytes but its header announces ${count} labels, ` +
        `i.e. ${8 + count} bytes`,
    );
  }
  return bytes.slice(8);
}

const FILE_NAMES = {
  trainImages: "train-images-idx3-ubyte.gz",
  trainLabels: "train-labels-idx1-ubyte.gz",
  testImages: "t10k-images-idx3-ubyte.gz",
  testLabels: "t10k-labels-idx1-ubyte.gz",
} as const;

/**
 * MNIST files: official md5 from the MNIST page; sha256 and sizes as pinned
 * by nixpkgs for the official URLs.
 */
export const MNIST_SPEC: DatasetSpec = {
  title: "MNIST",
  files: [
    {
      path: `mnist/${FILE_NAMES.trainImages}`,
      bytes: 9_912_422,
      md5: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
      sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    },
    {
      path: `mnist/${FILE_NAMES.trainLabels}`,
      bytes: 28_881,
      md5: "d53e105ee54ea40749a09fcbcd1e9432",
      sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    },
    {
      path: `mnist/${FILE_NAMES.testImages}`,
      bytes: 1_648_877,
      md5: "9fb629c4189551a2d022fa330f9573f3",
      sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    },
    {
      path: `mnist/${FILE_NAMES.testLabels}`,
      bytes: 4_542,
      md5: "ec29112dd5afa0611ce80d1b7f02629c",
      sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
  ],
  source: {
    kind: "files",
    urls: [
      "http://yann.lecun.com/exdb/mnist/",
      "https://ossci-datasets.s3.amazonaws.com/mnist/",
    ],
  },
};

/**
 * Fashion-MNIST files: md5 as published in the zalandoresearch/fashion-mnist
 * README (the only checksum published officially); sizes as served by the
 * official bucket.
 */
export const FASHION_MNIST_SPEC: DatasetSpec = {
  title: "Fashion-MNIST",
  files: [
    {
      path: `fashion-mnist/${FILE_NAMES.trainImages}`,
      bytes: 26_421_880,
      md5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    },
    {
      path: `fashion-mnist/${FILE_NAMES.trainLabels}`,
      bytes: 29_515,
      md5: "25c81989df183df01b3e8a0aad5dffbe",
    },
    {
      path: `fashion-mnist/${FILE_NAMES.testImages}`,
      bytes: 4_422_102,
      md5: "bef4ecab320f06d8554ea6380940ec79",
    },
    {
      path: `fashion-mnist/${FILE_NAMES.testLabels}`,
      bytes: 5_148,
      md5: "bb300cfdad3c16e7a12a480ee83cd310",
    },
  ],
  source: {
    kind: "files",
    urls: ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
  },
};

/** Digit names of MNIST, by label. */
export const MNIST_LABELS: readonly string[] = [
  "0",
  "1",
  "2",
  "3",
  "4",
  "5",
  "6",
  "7",
  "8",
  "9",
];

/** Fashion-MNIST class names, by label. */
export const FASHION_MNIST_LABELS: readonly string[] = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** Builds one split from a gzipped image file and a gzipped label file. */
function idxSplit(
  images: LoadedFile,
  labels: LoadedFile,
  classes: number,
): ImageSplit {
  const img = parseIdxImages(
    gunzip(images.data, images.absPath),
    images.absPath,
  );
  const lab = parseIdxLabels(
    gunzip(labels.data, labels.absPath),
    labels.absPath,
  );
  if (lab.length !== img.count) {
    formatError(
      labels.absPath,
      `it holds ${lab.length} labels but ${images.absPath} holds ${img.count} images`,
    );
  }
  for (let i = 0; i < lab.length; i++) {
    if (lab[i]! >= classes) {
      formatError(
        labels.absPath,
        `label ${i} is ${lab[i]}, outside 0..${classes - 1}`,
      );
    }
  }
  return {
    x: img.x,
    shape: [img.count, img.rows, img.cols, 1],
    y: Int32Array.from(lab),
  };
}

async function loadIdxDataset(
  name: string,
  spec: DatasetSpec,
  labelNames: readonly string[],
  opts: LoadOptions,
): Promise<ImageDataset> {
  const { files } = await fetchDatasetFiles(spec, opts);
  const [trainImages, trainLabels, testImages, testLabels] = files;
  if (!trainImages || !trainLabels || !testImages || !testLabels) {
    throw new Error("unreachable: the spec lists four files");
  }
  const train = idxSplit(trainImages, trainLabels, labelNames.length);
  const test = idxSplit(testImages, testLabels, labelNames.length);
  if (train.shape[1] !== test.shape[1] || train.shape[2] !== test.shape[2]) {
    formatError(
      testImages.absPath,
      `it holds ${test.shape[1]}x${test.shape[2]} images but the training images are ` +
        `${train.shape[1]}x${train.shape[2]}`,
    );
  }
  const described = describeFiles(files);
  return {
    kind: "image",
    name,
    train,
    test,
    labelNames,
    files: described,
    contentHash: await computeContentHash(name, { loader: 1 }, described),
  };
}

/**
 * Loads MNIST (60,000 train / 10,000 test digits, 28x28x1) from
 * `<dataDir>/mnist/`, downloading missing files unless disabled.
 */
export function loadMnist(opts: LoadOptions = {}): Promise<ImageDataset> {
  return loadIdxDataset("mnist", MNIST_SPEC, MNIST_LABELS, opts);
}

/**
 * Loads Fashion-MNIST (60,000 / 10,000 images, 28x28x1, same format as MNIST)
 * from `<dataDir>/fashion-mnist/`, downloading missing files unless disabled.
 */
export function loadFashionMnist(
  opts: LoadOptions = {},
): Promise<ImageDataset> {
  return loadIdxDataset(
    "fashion-mnist",
    FASHION_MNIST_SPEC,
    FASHION_MNIST_LABELS,
    opts,
  );
}
