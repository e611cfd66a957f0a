/**
 * Loader for a user's own image classification data set: a folder with one
 * sub-folder of PNG and JPEG files per class.
 *
 * ```text
 * root/                      root/
 *   cat/001.png                train/cat/001.png
 *   cat/002.jpg      or        train/dog/003.png
 *   dog/003.jpeg               test/cat/104.png
 *                              test/dog/207.jpg
 * ```
 *
 * PNGs are decoded with `fast-png`, JPEGs with `jpeg-js`.
 *
 * @module
 */

import { convertIndexedToRgb, decode as decodePng, type DecodedPng, hasPngSignature } from "fast-png";
import { decode as decodeJpeg } from "jpeg-js";
import { sha256Hex } from "./codec.ts";
import { DataError } from "./errors.ts";
import { computeContentHash } from "./files.ts";
import type { DatasetFile, ImageDataset, ImageSplit } from "./types.ts";
import { baseName, checkTestFraction, compareStrings, holdOutMask, userFormatError } from "./user_files.ts";

/** Options of {@link loadImageFolder}. */
export interface ImageFolderOptions {
  /** Short name of the data set; default: the base name of the root folder. */
  readonly name?: string | undefined;
  /**
   * Fraction of each class held out as the test split when the root has no
   * `train/` and `test/` folders (default 0.2, in `[0, 1)`). Which files are
   * held out depends only on a hash of their relative paths.
   */
  readonly testFraction?: number | undefined;
}

/** File name endings read as images (case-insensitive). */
const IMAGE_EXTENSIONS = /\.(png|jpe?g)$/i;
/** Image formats that are recognised but not supported, to say so. */
const OTHER_IMAGE_EXTENSIONS = /\.(gif|bmp|webp|tiff?|heic|heif|avif)$/i;

/** An image decoded to 8-bit samples. */
export interface DecodedImage {
  readonly width: number;
  readonly height: number;
  /** 1 (grayscale) or 3 (RGB). */
  readonly channels: 1 | 3;
  /** `height * width * channels` bytes, row-major, channels interleaved. */
  readonly data: Uint8Array;
}

function why(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * One sample value per byte or word: unpacks the 1/2/4-bit rows of a PNG
 * (rows are padded to whole bytes), leaves 8- and 16-bit data as it is.
 */
function pngSamples(png: DecodedPng): Uint8Array | Uint16Array {
  const { width, height, depth, channels } = png;
  if (depth >= 8) return png.data instanceof Uint8ClampedArray ? new Uint8Array(png.data) : png.data;
  const perRow = width * channels;
  const rowBytes = Math.ceil((perRow * depth) / 8);
  const mask = (1 << depth) - 1;
  const out = new Uint8Array(perRow * height);
  for (let r = 0; r < height; r++) {
    for (let i = 0; i < perRow; i++) {
      const bit = i * depth;
      const byte = png.data[r * rowBytes + (bit >> 3)]!;
      out[r * perRow + i] = (byte >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

/**
 * Decodes a PNG to 8-bit grayscale or RGB. Palette images become RGB; 16-bit
 * samples are rounded to 8 bits, 1/2/4-bit ones scaled to 0..255. An alpha
 * channel is dropped when it is fully opaque; any transparent pixel (alpha
 * or `tRNS` colour key) is an error naming `file`.
 *
 * @param bytes the PNG file
 * @param file its path, for messages
 * @returns the decoded image
 */
export function decodePngImage(bytes: Uint8Array, file: string): DecodedImage {
  let png: DecodedPng;
  try {
    png = decodePng(bytes, { checkCrc: true });
  } catch (e) {
    return userFormatError(file, `it is not a readable PNG file (${why(e)}); it may be truncated or damaged`);
  }
  const { width, height } = png;
  const pixels = width * height;
  const transparent = () =>
    userFormatError(
      file,
      "it has transparent pixels (alpha below the maximum)",
      "Images must be opaque grayscale or RGB; flatten them onto a background first.",
    );
  if (png.palette !== undefined && png.channels === 1) {
    let rgb: Uint8Array;
    try {
      rgb = convertIndexedToRgb(png);
    } catch (e) {
      return userFormatError(file, `its palette data cannot be read (${why(e)})`);
    }
    const stride = png.palette[0]?.length ?? 3;
    if (stride === 3) return { width, height, channels: 3, data: rgb };
    const data = new Uint8Array(pixels * 3);
    for (let p = 0; p < pixels; p++) {
      if (rgb[p * 4 + 3] !== 255) transparent();
      data[p * 3] = rgb[p * 4]!;
      data[p * 3 + 1] = rgb[p * 4 + 1]!;
      data[p * 3 + 2] = rgb[p * 4 + 2]!;
    }
    return { width, height, channels: 3, data };
  }
  const c = png.channels;
  const raw = pngSamples(png);
  if (raw.length !== pixels * c) {
    userFormatError(file, `it decodes to ${raw.length} samples, not ${pixels}x${c}; it may be damaged`);
  }
  const max = (1 << png.depth) - 1;
  const hasAlpha = c === 2 || c === 4;
  const colours = hasAlpha ? c - 1 : c;
  const key = png.transparency;
  const checkKey = !hasAlpha && key !== undefined && key.length >= colours;
  const data = new Uint8Array(pixels * colours);
  for (let p = 0; p < pixels; p++) {
    if (hasAlpha && raw[p * c + c - 1] !== max) transparent();
    let keyed = checkKey;
    for (let k = 0; k < colours; k++) {
      const v = raw[p * c + k]!;
      if (keyed && v !== key![k]) keyed = false;
      data[p * colours + k] = max === 255 ? v : Math.round((v * 255) / max);
    }
    if (keyed) transparent();
  }
  return { width, height, channels: colours === 1 ? 1 : 3, data };
}

/**
 * The number of colour components in a JPEG's frame header (SOFn), or
 * `undefined` when no frame header is found before the scan data.
 */
function jpegComponents(bytes: Uint8Array): number | undefined {
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) return undefined;
    const marker = bytes[i + 1]!;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2; // markers without a length
      continue;
    }
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) return i + 9 < bytes.length ? bytes[i + 9] : undefined;
    if (marker === 0xda) return undefined; // start of scan
    i += 2 + ((bytes[i + 2]! << 8) | bytes[i + 3]!);
  }
  return undefined;
}

/**
 * Decodes a baseline or progressive JPEG to 8-bit grayscale (one-component
 * JPEGs) or RGB (YCbCr and CMYK JPEGs).
 *
 * @param bytes the JPEG file
 * @param file its path, for messages
 * @returns the decoded image
 */
export function decodeJpegImage(bytes: Uint8Array, file: string): DecodedImage {
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = decodeJpeg(bytes, { useTArray: true, formatAsRGBA: false });
  } catch (e) {
    return userFormatError(file, `it is not a readable JPEG file (${why(e)}); it may be truncated or damaged`);
  }
  const { width, height } = img;
  if (img.data.length !== width * height * 3) {
    userFormatError(file, `it decodes to ${img.data.length} bytes, not ${width}x${height}x3`);
  }
  if (jpegComponents(bytes) !== 1) return { width, height, channels: 3, data: img.data };
  const data = new Uint8Array(width * height);
  for (let p = 0; p < data.length; p++) data[p] = img.data[p * 3]!;
  return { width, height, channels: 1, data };
}

/**
 * Decodes a PNG or JPEG file, chosen by its first bytes (not its name).
 *
 * @param bytes the file
 * @param file its path, for messages
 * @returns the decoded image
 */
export function decodeImage(bytes: Uint8Array, file: string): DecodedImage {
  if (hasPngSignature(bytes)) return decodePngImage(bytes, file);
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return decodeJpegImage(bytes, file);
  }
  return userFormatError(
    file,
    bytes.length === 0
      ? "it is empty"
      : "it is neither a PNG nor a JPEG file (its first bytes are not a PNG or JPEG signature)",
  );
}

async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** Every image path under `dir` (recursively), relative to `dir`, `/`-separated. */
async function listImages(dir: string, rel: string, out: string[]): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(".")) continue; // .DS_Store, ._x.png, .git ...
    const path = `${dir}/${e.name}`;
    const relPath = `${rel}/${e.name}`;
    let isDir = e.isDirectory;
    let isFile = e.isFile;
    if (e.isSymlink) {
      const info = await statOrUndefined(path);
      isDir = info?.isDirectory ?? false;
      isFile = info?.isFile ?? false;
    }
    if (isDir) await listImages(path, relPath, out);
    else if (isFile && IMAGE_EXTENSIONS.test(e.name)) out.push(relPath);
    else if (isFile && OTHER_IMAGE_EXTENSIONS.test(e.name)) {
      userFormatError(path, "it is not a PNG or JPEG file", "Convert it to PNG or JPEG, or move it out of the folder.");
    }
  }
}

/** One class-folder tree: class name -> image paths relative to the root. */
interface ClassTree {
  readonly classes: readonly string[];
  readonly files: readonly { readonly rel: string; readonly label: number }[];
}

/** Lists a tree of class folders under `root/prefix` (`prefix` may be ""). */
async function readClassTree(root: string, prefix: string): Promise<ClassTree> {
  const dir = prefix === "" ? root : `${root}/${prefix}`;
  const classes: string[] = [];
  const stray: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(".")) continue;
    const isDir = e.isDirectory || (e.isSymlink && (await statOrUndefined(`${dir}/${e.name}`))?.isDirectory === true);
    if (isDir) classes.push(e.name);
    else if (IMAGE_EXTENSIONS.test(e.name)) stray.push(e.name);
  }
  classes.sort(compareStrings);
  if (stray.length > 0) {
    userFormatError(
      `${dir}/${stray.sort(compareStrings)[0]}`,
      `it lies directly in ${dir}, not in a class folder`,
      "Put every image into a sub-folder named after its class.",
    );
  }
  if (classes.length === 0) {
    userFormatError(dir, "it has no class folders", "Make one sub-folder per class holding its PNG or JPEG images.");
  }
  const files: { rel: string; label: number }[] = [];
  for (const [label, name] of classes.entries()) {
    const found: string[] = [];
    const classRel = prefix === "" ? name : `${prefix}/${name}`;
    await listImages(`${root}/${classRel}`, classRel, found);
    if (found.length === 0) {
      userFormatError(`${root}/${classRel}`, "this class folder holds no PNG or JPEG image (.png, .jpg, .jpeg)");
    }
    for (const rel of found) files.push({ rel, label });
  }
  files.sort((a, b) => compareStrings(a.rel, b.rel));
  return { classes, files };
}

/** The first decoded image's size, to compare the others with. */
interface Reference {
  readonly file: string;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
}

/** Reads, hashes and decodes images; all must match the first one's size. */
class ImageReader {
  readonly described: DatasetFile[] = [];
  private reference: Reference | undefined;

  constructor(private readonly root: string) {}

  async read(rel: string): Promise<DecodedImage> {
    const path = `${this.root}/${rel}`;
    const bytes = await Deno.readFile(path);
    this.described.push({ path: rel, sha256: await sha256Hex(bytes), bytes: bytes.length });
    const img = decodeImage(bytes, path);
    const ref = this.reference;
    if (ref === undefined) {
      this.reference = { file: path, width: img.width, height: img.height, channels: img.channels };
    } else if (ref.width !== img.width || ref.height !== img.height || ref.channels !== img.channels) {
      const size = (w: number, h: number, c: number) => `${w}x${h} with ${c} channel${c === 1 ? "" : "s"}`;
      userFormatError(
        path,
        `it is ${size(img.width, img.height, img.channels)} but ${ref.file} is ` +
          size(ref.width, ref.height, ref.channels),
        "All images must have the same width, height and channel count (grayscale or RGB); resize or convert them.",
      );
    }
    return img;
  }

  /** `[height, width, channels]` of the images read so far. */
  get hwc(): readonly [number, number, number] {
    const r = this.reference;
    return r === undefined ? [0, 0, 0] : [r.height, r.width, r.channels];
  }
}

/** The base name of `dir`, resolving `.` and `..` to the real folder's name. */
async function folderName(dir: string): Promise<string> {
  const base = baseName(dir);
  if (base !== "" && base !== "." && base !== "..") return base;
  return baseName(await Deno.realPath(dir)) || "images";
}

/** Packs decoded images and labels into one NHWC split. */
function toSplit(images: readonly DecodedImage[], labels: readonly number[], hwc: readonly number[]): ImageSplit {
  const [h, w, c] = hwc as [number, number, number];
  const size = h * w * c;
  const x = new Uint8Array(images.length * size);
  images.forEach((img, i) => x.set(img.data, i * size));
  return { x, shape: [images.length, h, w, c], y: Int32Array.from(labels) };
}

/**
 * Loads an image classification data set from a folder of class folders.
 *
 * The class names are the sub-folder names, sorted; an image's label is the
 * index of its class. Images are found recursively inside each class folder;
 * names starting with `.` are skipped, as are files that are not `.png`,
 * `.jpg` or `.jpeg` (case-insensitive). Files are read in order of their
 * relative paths. If `root/train/` and `root/test/` both exist, each is such a
 * tree and both must have the same class folders (other folders beside them,
 * e.g. `val/`, are ignored); otherwise `root` itself is the tree and
 * `testFraction` of each class is held out as the test split, chosen by a
 * hash of each file's relative path.
 *
 * All images must have the same height, width and channel count: grayscale
 * gives C=1, RGB C=3; RGBA (or gray+alpha) whose alpha is fully opaque drops
 * the alpha; palette PNGs become RGB and 16-bit PNGs are rounded to 8 bits.
 * EXIF orientation is not applied.
 *
 * @param root the folder holding the class folders (or `train/` and `test/`)
 * @param opts name and held-out fraction
 * @returns the data set: raw 0..255 pixels in NHWC order, `files` listing every
 *   image by its path relative to `root`, `contentHash` over those files and
 *   the split parameters
 * @throws {DataError} `missing` when `root` does not exist or is not a folder;
 *   `format` naming the file or folder when an image cannot be decoded, is
 *   transparent or has another size than the first, a class folder is empty,
 *   or the train and test class folders differ
 */
export async function loadImageFolder(root: string, opts: ImageFolderOptions = {}): Promise<ImageDataset> {
  const dir = root.length > 1 ? root.replace(/[\\/]+$/, "") : root;
  const info = await statOrUndefined(dir);
  if (info === undefined) {
    throw new DataError("missing", `The image folder ${dir} does not exist. Check the path.`);
  }
  if (!info.isDirectory) {
    throw new DataError(
      "missing",
      `${dir} is not a folder. Pass a folder holding one sub-folder of PNG/JPEG images per class.`,
    );
  }
  const fraction = checkTestFraction(opts.testFraction);
  const trainInfo = await statOrUndefined(`${dir}/train`);
  const testInfo = await statOrUndefined(`${dir}/test`);
  const presplit = trainInfo?.isDirectory === true && testInfo?.isDirectory === true;
  if (!presplit && (trainInfo?.isDirectory === true || testInfo?.isDirectory === true)) {
    const [has, lacks] = trainInfo?.isDirectory === true ? ["train", "test"] : ["test", "train"];
    userFormatError(
      dir,
      `it has a ${has}/ folder but no ${lacks}/ folder`,
      `Add ${dir}/${lacks}/ with the same class folders, or put the class folders directly into ${dir} ` +
        "to hold out a test fraction.",
    );
  }
  const reader = new ImageReader(dir);
  let labelNames: readonly string[];
  let train: ImageSplit;
  let test: ImageSplit;
  if (presplit) {
    const trainTree = await readClassTree(dir, "train");
    const testTree = await readClassTree(dir, "test");
    const onlyTrain = trainTree.classes.filter((c) => !testTree.classes.includes(c));
    const onlyTest = testTree.classes.filter((c) => !trainTree.classes.includes(c));
    if (onlyTrain.length > 0 || onlyTest.length > 0) {
      const parts = [
        onlyTrain.length > 0 ? `${dir}/test lacks the class folders ${onlyTrain.join(", ")}` : "",
        onlyTest.length > 0 ? `${dir}/train lacks the class folders ${onlyTest.join(", ")}` : "",
      ].filter((p) => p !== "");
      userFormatError(
        dir,
        `its train/ and test/ folders have different classes: ${parts.join("; ")}`,
        "Both must hold the same class folders.",
      );
    }
    labelNames = trainTree.classes;
    const load = async (tree: ClassTree) => {
      const images: DecodedImage[] = [];
      for (const f of tree.files) images.push(await reader.read(f.rel));
      return { images, labels: tree.files.map((f) => f.label) };
    };
    const tr = await load(trainTree);
    const te = await load(testTree);
    train = toSplit(tr.images, tr.labels, reader.hwc);
    test = toSplit(te.images, te.labels, reader.hwc);
  } else {
    const tree = await readClassTree(dir, "");
    labelNames = tree.classes;
    const mask = holdOutMask(tree.files.map((f) => f.rel), tree.files.map((f) => f.label), fraction);
    const parts = {
      train: [] as DecodedImage[],
      trainY: [] as number[],
      test: [] as DecodedImage[],
      testY: [] as number[],
    };
    for (const [i, f] of tree.files.entries()) {
      const img = await reader.read(f.rel);
      if (mask[i] === 1) {
        parts.test.push(img);
        parts.testY.push(f.label);
      } else {
        parts.train.push(img);
        parts.trainY.push(f.label);
      }
    }
    train = toSplit(parts.train, parts.trainY, reader.hwc);
    test = toSplit(parts.test, parts.testY, reader.hwc);
  }
  const files = reader.described.sort((a, b) => compareStrings(a.path, b.path));
  const params: Record<string, string | number> = presplit
    ? { loader: "image-folder/1", split: "folders" }
    : { loader: "image-folder/1", split: "hash", testFraction: fraction };
  return {
    kind: "image",
    name: opts.name ?? await folderName(dir),
    train,
    test,
    labelNames,
    files,
    contentHash: await computeContentHash("image-folder", params, files),
  };
}
