/**
 * Data loaders for the benchmark data sets: MNIST, Fashion-MNIST, CIFAR-10,
 * TREC and Reuters-21578. Everything public is re-exported from here.
 * Loaders for users' own data sets: image folders, NumPy .npz/.npy arrays,
 * CSV/TSV/JSONL text tables.
 *
 * @module
 */

export type {
  Dataset,
  DatasetFile,
  ImageDataset,
  ImageSplit,
  MultiLabelTextDataset,
  MultiLabelTextSplit,
  TextDataset,
  TextSplit,
} from "./types.ts";
export { DataError, type DataErrorCode, isDataError } from "./errors.ts";
export {
  type ChecksumPolicy,
  computeContentHash,
  type DatasetSpec,
  describeFiles,
  fetchDatasetFiles,
  type FileSource,
  type FileSpec,
  type LoadedFile,
  type LoadOptions,
  resolveDataDir,
} from "./files.ts";
export { decodeLatin1, gunzip, md5Hex, sha256Hex } from "./codec.ts";
export { readTar, type TarEntry } from "./tar.ts";
export {
  FASHION_MNIST_LABELS,
  FASHION_MNIST_SPEC,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  type IdxImages,
  loadFashionMnist,
  loadMnist,
  MNIST_LABELS,
  MNIST_SPEC,
  parseIdxImages,
  parseIdxLabels,
} from "./mnist.ts";
export {
  CIFAR10_SPEC,
  CIFAR_RECORD_BYTES,
  type CifarBatch,
  decodeCifarBatches,
  loadCifar10,
  parseCifarLabelNames,
} from "./cifar10.ts";
export { loadTrec, parseTrec, TREC_SPEC, type TrecLabels, type TrecQuestion } from "./trec.ts";
export {
  decodeSgmlText,
  loadReuters,
  type ModApte,
  modApte,
  parseReutersSgml,
  REUTERS_SPEC,
  type ReutersStory,
} from "./reuters.ts";
export {
  type DecodedImage,
  decodeImage,
  decodeJpegImage,
  decodePngImage,
  type ImageFolderOptions,
  loadImageFolder,
} from "./image_folder.ts";
export {
  type ArrayLoadOptions,
  loadNpyPair,
  loadNpz,
  type NpyData,
  type NpyPairOptions,
  type NpzOptions,
  parseNpy,
} from "./npz.ts";
export { loadTextTable, type TextTableFormat, type TextTableOptions } from "./text_table.ts";
export { DEFAULT_TEST_FRACTION, holdOutMask } from "./user_files.ts";
