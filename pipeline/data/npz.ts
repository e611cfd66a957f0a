/**
 * Loaders for a user's own image data set saved from NumPy: an `.npz`
 * archive (`np.savez` / `np.savez_compressed`) with arrays `x`, `y` and
 * optionally `x_test`, `y_test`, or a pair of `.npy` files.
 *
 * ```python
 * np.savez_compressed("digits.npz", x=x_train, y=y_train, x_test=x_test, y_test=y_test)
 * ```
 *
 * `x` holds images as integers 0..255, `[N, H, W, C]` or `[N, H, W]`; `y`
 * holds class indices `0..K-1`, `[N]` (or `[N, 1]`). The zip is read with
 * `fflate`, the `.npy` arrays with `npyjs`.
 *
 * @module
 */

import { unzipSync } from "fflate";
import { type NpyArray, parse as parseNpyBuffer } from "npyjs";
import { computeContentHash } from "./files.ts";
import type { ImageDataset, ImageSplit } from "./types.ts";
import {
  baseName,
  checkTestFraction,
  describeUserFiles,
  holdOutMask,
  readUserFile,
  stripExtension,
  type UserFile,
  userFormatError,
} from "./user_files.ts";

/** Options shared by {@link loadNpz} and {@link loadNpyPair}. */
export interface ArrayLoadOptions {
  /** Short name of the data set; default: the file's base name without extension. */
  readonly name?: string | undefined;
  /**
   * Fraction of each class held out as the test split when there are no
   * test arrays (default 0.2, in `[0, 1)`); chosen by a hash of each index.
   */
  readonly testFraction?: number | undefined;
  /** Number of classes K; default: `labelNames.length`, else the largest label + 1. */
  readonly classes?: number | undefined;
  /** Class names by label; default `"0"`..`"K-1"`. */
  readonly labelNames?: readonly string[] | undefined;
}

/** Options of {@link loadNpz}: the array names are those given to `np.savez`. */
export interface NpzOptions extends ArrayLoadOptions {
  /** Name of the training images (default `"x"`). */
  readonly x?: string | undefined;
  /** Name of the training labels (default `"y"`). */
  readonly y?: string | undefined;
  /** Name of the test images (default `"x_test"`); used when present. */
  readonly xTest?: string | undefined;
  /** Name of the test labels (default `"y_test"`); used when present. */
  readonly yTest?: string | undefined;
}

/** Options of {@link loadNpyPair}. */
export interface NpyPairOptions extends ArrayLoadOptions {
  /** `.npy` file of test images; give it with `yTestPath`, or neither. */
  readonly xTestPath?: string | undefined;
  /** `.npy` file of test labels; give it with `xTestPath`, or neither. */
  readonly yTestPath?: string | undefined;
}

/** A decoded `.npy` array in C order. */
export interface NpyData {
  /** NumPy dtype without byte order, e.g. `"u1"`, `"i8"`, `"f4"`. */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** The values in C (row-major) order, `product(shape)` of them. */
  readonly data: ArrayLike<number | bigint | boolean | string>;
}

function why(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The values of a Fortran-order array rearranged into C order. */
function fortranToC<T>(
  data: ArrayLike<T>,
  shape: readonly number[],
  make: (n: number) => T[] | ArrayLike<T>,
): ArrayLike<T> {
  const n = data.length;
  const out = make(n) as { [i: number]: T; length: number };
  const rank = shape.length;
  const fStride = new Array<number>(rank);
  let s = 1;
  for (let d = 0; d < rank; d++) {
    fStride[d] = s;
    s *= shape[d]!;
  }
  const idx = new Array<number>(rank).fill(0);
  for (let c = 0; c < n; c++) {
    let f = 0;
    for (let d = 0; d < rank; d++) f += idx[d]! * fStride[d]!;
    out[c] = data[f]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Parses the bytes of one `.npy` array (with `npyjs`), checking that the data
 * fill the shape exactly and putting Fortran-order arrays into C order.
 *
 * @param bytes the `.npy` bytes
 * @param where the file (and array) to name in errors, e.g. `"d.npz, array x"`
 * @returns dtype, shape and the values in C order
 */
export function parseNpy(bytes: Uint8Array, where: string): NpyData {
  if (bytes.length < 10 || bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== "NUMPY") {
    userFormatError(where, "it is not a NumPy .npy array (no \\x93NUMPY magic)");
  }
  let arr: NpyArray;
  try {
    const exact = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    arr = parseNpyBuffer(exact && bytes.buffer instanceof ArrayBuffer ? bytes.buffer : bytes.slice().buffer);
  } catch (e) {
    const msg = why(e);
    if (/Unsupported dtype/.test(msg)) {
      return userFormatError(
        where,
        `its dtype is not supported (${msg})`,
        "Save plain little-endian integers, e.g. `x.astype(np.uint8)` and `y.astype(np.int64)`.",
      );
    }
    return userFormatError(where, `it is not a readable .npy array (${msg}); it may be truncated`);
  }
  const shape = arr.shape;
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    userFormatError(where, `its header gives an unreadable shape (${shape.join(", ")})`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const data = arr.data as unknown as ArrayLike<number | bigint | boolean | string>;
  // Complex values come as two floats each.
  const per = arr.dtype === "c8" || arr.dtype === "c16" ? 2 : 1;
  if (data.length !== count * per) {
    userFormatError(
      where,
      `its header announces shape (${shape.join(", ")}), i.e. ${count} values, but it holds ${data.length / per}; ` +
        "it is truncated or damaged",
    );
  }
  if (!arr.fortranOrder || shape.length < 2 || per !== 1) return { dtype: arr.dtype, shape, data };
  const Ctor = (data as unknown as { constructor: new (n: number) => ArrayLike<unknown> }).constructor;
  const make = Array.isArray(data) ? (n: number) => new Array(n) : (n: number) => new Ctor(n);
  return { dtype: arr.dtype, shape, data: fortranToC(data, shape, make as (n: number) => ArrayLike<never>) };
}

const isInteger = (dtype: string) => /^[iu][1248]$/.test(dtype);
const isFloat = (dtype: string) => /^f[248]$/.test(dtype);

/** Images of an array: `[N, H, W, C]` bytes. */
function toImages(arr: NpyData, where: string): { x: Uint8Array; shape: [number, number, number, number] } {
  if (isFloat(arr.dtype)) {
    userFormatError(
      where,
      `its dtype is float (${arr.dtype}); images must be integers 0..255`,
      "Export them as bytes, e.g. `(x*255).astype(np.uint8)` for values in 0..1 " +
        "(or `x.astype(np.uint8)` if they are already 0..255).",
    );
  }
  if (!isInteger(arr.dtype)) {
    userFormatError(where, `its dtype is ${arr.dtype}; images must be integers 0..255`, "Save `x.astype(np.uint8)`.");
  }
  const s = arr.shape;
  if (s.length !== 3 && s.length !== 4) {
    userFormatError(
      where,
      `it has shape (${s.join(", ")}); images must be [N, H, W, C] or [N, H, W]`,
    );
  }
  const shape = [s[0]!, s[1]!, s[2]!, s.length === 4 ? s[3]! : 1] as [number, number, number, number];
  if (s.length === 4 && (s[1] === 1 || s[1] === 3) && s[3]! > 4) {
    userFormatError(
      where,
      `it has shape (${s.join(", ")}), which looks like channels-first [N, C, H, W]`,
      "Save it channels-last: `x.transpose(0, 2, 3, 1)`.",
    );
  }
  const data = arr.data;
  // A fresh array: the parsed one is a view behind the .npy header.
  if (data instanceof Uint8Array) return { x: data.slice(), shape };
  const x = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]);
    if (!(v >= 0 && v <= 255)) {
      userFormatError(
        where,
        `value ${i} (image ${Math.floor(i / (shape[1] * shape[2] * shape[3]))}) is ${v}, outside 0..255`,
        "Images must hold pixel bytes 0..255; rescale them and save `x.astype(np.uint8)`.",
      );
    }
    x[i] = v;
  }
  return { x, shape };
}

/** Labels of an array: `[N]` or `[N, 1]` non-negative integers. */
function toLabels(arr: NpyData, where: string): Int32Array {
  if (!isInteger(arr.dtype)) {
    const hint = isFloat(arr.dtype) ? "Save `y.astype(np.int64)`." : "Save class indices as `y.astype(np.int64)`.";
    userFormatError(where, `its dtype is ${arr.dtype}; labels must be integers 0..K-1`, hint);
  }
  const s = arr.shape;
  if (!(s.length === 1 || (s.length === 2 && s[1] === 1))) {
    const hint = s.length === 2 ? "If it is one-hot, save `y.argmax(axis=1)`." : "Save one class index per image.";
    userFormatError(where, `it has shape (${s.join(", ")}); labels must be [N]`, hint);
  }
  const y = new Int32Array(arr.data.length);
  for (let i = 0; i < y.length; i++) {
    const v = Number(arr.data[i]);
    if (v < 0 || v > 0x7fffffff) userFormatError(where, `label ${i} is ${v}; labels must be 0..K-1`);
    y[i] = v;
  }
  return y;
}

/** One array as read from a file, with the words that name it in errors. */
interface NamedArray {
  readonly data: NpyData;
  readonly where: string;
}

/** Builds the data set from the decoded arrays (test arrays optional). */
async function buildDataset(
  kind: string,
  name: string,
  files: readonly UserFile[],
  arrays: { x: NamedArray; y: NamedArray; xTest?: NamedArray | undefined; yTest?: NamedArray | undefined },
  opts: ArrayLoadOptions,
  hashParams: Record<string, string | number>,
): Promise<ImageDataset> {
  const pair = (xa: NamedArray, ya: NamedArray) => {
    const img = toImages(xa.data, xa.where);
    const y = toLabels(ya.data, ya.where);
    if (y.length !== img.shape[0]) {
      userFormatError(ya.where, `it holds ${y.length} labels but ${xa.where} holds ${img.shape[0]} images`);
    }
    return { ...img, y };
  };
  const tr = pair(arrays.x, arrays.y);
  const te = arrays.xTest !== undefined && arrays.yTest !== undefined ? pair(arrays.xTest, arrays.yTest) : undefined;
  if (te !== undefined && !te.shape.slice(1).every((d, i) => d === tr.shape[i + 1])) {
    userFormatError(
      arrays.xTest!.where,
      `its images are ${te.shape.slice(1).join("x")} (HxWxC) but those of ${arrays.x.where} are ` +
        tr.shape.slice(1).join("x"),
    );
  }
  let max = -1;
  for (const y of te === undefined ? [tr.y] : [tr.y, te.y]) for (const v of y) max = Math.max(max, v);
  const classes = opts.classes ?? opts.labelNames?.length ?? max + 1;
  if (!Number.isSafeInteger(classes) || classes < 1) {
    throw new RangeError(`classes must be a positive integer, got ${String(opts.classes)}`);
  }
  if (opts.labelNames !== undefined && opts.labelNames.length !== classes) {
    throw new RangeError(`labelNames has ${opts.labelNames.length} names but classes is ${classes}`);
  }
  const checkRange = (y: Int32Array, where: string) => {
    const i = y.findIndex((v) => v >= classes);
    if (i >= 0) {
      userFormatError(
        where,
        `label ${i} is ${y[i]}, outside 0..${classes - 1}`,
        opts.classes !== undefined || opts.labelNames !== undefined
          ? `There are ${classes} classes (from the options); fix the labels or the class count.`
          : undefined,
      );
    }
  };
  checkRange(tr.y, arrays.y.where);
  if (te !== undefined) checkRange(te.y, arrays.yTest!.where);
  let train: ImageSplit;
  let test: ImageSplit;
  const params: Record<string, string | number> = { loader: `${kind}/1`, ...hashParams, classes };
  if (te !== undefined) {
    train = { x: tr.x, shape: tr.shape, y: tr.y };
    test = { x: te.x, shape: te.shape, y: te.y };
    params.split = "arrays";
  } else {
    const fraction = checkTestFraction(opts.testFraction);
    const n = tr.shape[0];
    const mask = holdOutMask(Array.from({ length: n }, (_, i) => String(i)), tr.y, fraction);
    const take = (flag: number): ImageSplit => {
      const idx: number[] = [];
      for (let i = 0; i < n; i++) if (mask[i] === flag) idx.push(i);
      const size = tr.shape[1] * tr.shape[2] * tr.shape[3];
      const x = new Uint8Array(idx.length * size);
      idx.forEach((i, k) => x.set(tr.x.subarray(i * size, (i + 1) * size), k * size));
      return {
        x,
        shape: [idx.length, tr.shape[1], tr.shape[2], tr.shape[3]],
        y: Int32Array.from(idx, (i) => tr.y[i]!),
      };
    };
    train = take(0);
    test = take(1);
    params.split = "hash";
    params.testFraction = fraction;
  }
  const labelNames = opts.labelNames ?? Array.from({ length: classes }, (_, i) => String(i));
  params.labelNames = labelNames.join("\n");
  const described = describeUserFiles(files);
  return {
    kind: "image",
    name,
    train,
    test,
    labelNames: [...labelNames],
    files: described,
    contentHash: await computeContentHash(kind, params, described),
  };
}

/**
 * Loads an image data set from a NumPy `.npz` archive, stored or deflated
 * (`np.savez` or `np.savez_compressed`).
 *
 * The archive must hold `x` (images, integers 0..255, `[N, H, W, C]` or
 * `[N, H, W]`, giving C=1) and `y` (class indices, `[N]` or `[N, 1]`); when
 * it also holds `x_test` and `y_test` they are the test split, otherwise
 * `testFraction` of each class is held out, chosen by a hash of the index.
 * The number of classes is `classes`, else `labelNames.length`, else the
 * largest label + 1 (over both splits).
 *
 * @param path the `.npz` file
 * @param opts array names, classes, label names, held-out fraction, name
 * @returns the data set, `files` holding the `.npz` file
 * @throws {DataError} `missing` when the file does not exist; `format` naming
 *   the file and the array when it is not a zip, an array is absent or not a
 *   readable `.npy`, x is float or out of 0..255, the shapes or counts of x
 *   and y disagree, or a label is out of range
 */
export async function loadNpz(path: string, opts: NpzOptions = {}): Promise<ImageDataset> {
  const names = {
    x: opts.x ?? "x",
    y: opts.y ?? "y",
    xTest: opts.xTest ?? "x_test",
    yTest: opts.yTest ?? "y_test",
  };
  const file = await readUserFile(path, ".npz file");
  const wanted = new Set(Object.values(names).flatMap((n) => [n, `${n}.npy`]));
  let entries: Record<string, Uint8Array>;
  let all: string[] = [];
  try {
    entries = unzipSync(file.data, {
      filter: (f) => {
        all.push(f.name);
        return wanted.has(f.name);
      },
    });
  } catch (e) {
    return userFormatError(
      path,
      `it is not a readable .npz (zip) archive (${why(e)}); it may be truncated`,
      "Write it with `np.savez` or `np.savez_compressed`.",
    );
  }
  all = all.map((n) => n.replace(/\.npy$/, ""));
  const get = (name: string): NamedArray | undefined => {
    const bytes = entries[`${name}.npy`] ?? entries[name];
    if (bytes === undefined) return undefined;
    const where = `${path}, array ${name}`;
    return { data: parseNpy(bytes, where), where };
  };
  const need = (name: string, role: string): NamedArray => {
    const a = get(name);
    if (a === undefined) {
      userFormatError(
        path,
        `it has no array "${name}" (the ${role}); it holds ${all.length === 0 ? "no arrays" : all.join(", ")}`,
        "Save with `np.savez(path, x=images, y=labels)`, or name the arrays in the options.",
      );
    }
    return a;
  };
  const x = need(names.x, "training images");
  const y = need(names.y, "training labels");
  const xTest = get(names.xTest);
  const yTest = get(names.yTest);
  if ((xTest === undefined) !== (yTest === undefined)) {
    const [has, lacks] = xTest !== undefined ? [names.xTest, names.yTest] : [names.yTest, names.xTest];
    userFormatError(path, `it has the test array "${has}" but not "${lacks}"`, "Save both test arrays, or neither.");
  }
  return buildDataset(
    "npz",
    opts.name ?? stripExtension(baseName(path)),
    [file],
    { x, y, xTest, yTest },
    opts,
    { x: names.x, y: names.y, xTest: names.xTest, yTest: names.yTest },
  );
}

/**
 * Loads an image data set from two `.npy` files (`np.save`): images and
 * labels, with the same rules as {@link loadNpz}; optionally two more for
 * the test split, else `testFraction` of each class is held out.
 *
 * @param xPath `.npy` file of the images
 * @param yPath `.npy` file of the labels
 * @param opts test files, classes, label names, held-out fraction, name
 * @returns the data set, `files` holding the `.npy` files
 * @throws {DataError} `missing` when a file does not exist; `format` naming
 *   the file as for {@link loadNpz}
 */
export async function loadNpyPair(xPath: string, yPath: string, opts: NpyPairOptions = {}): Promise<ImageDataset> {
  if ((opts.xTestPath === undefined) !== (opts.yTestPath === undefined)) {
    throw new TypeError("loadNpyPair: give both xTestPath and yTestPath, or neither");
  }
  const paths = [xPath, yPath, opts.xTestPath, opts.yTestPath];
  const roles = ["training images", "training labels", "test images", "test labels"];
  const files: UserFile[] = [];
  const arrays: (NamedArray | undefined)[] = [];
  // Which file plays which role changes the result, so it enters the hash.
  const hashParams: Record<string, string> = {};
  for (const [i, p] of paths.entries()) {
    if (p === undefined) {
      arrays.push(undefined);
      continue;
    }
    const f = await readUserFile(p, `.npy file of ${roles[i]}`);
    files.push(f);
    const where = `${p} (the ${roles[i]})`;
    arrays.push({ data: parseNpy(f.data, where), where });
    hashParams[["x", "y", "xTest", "yTest"][i]!] = f.sha256;
  }
  const [x, y, xTest, yTest] = arrays;
  return buildDataset(
    "npy",
    opts.name ?? stripExtension(baseName(xPath)),
    files,
    { x: x!, y: y!, xTest, yTest },
    opts,
    hashParams,
  );
}
