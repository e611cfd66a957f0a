/**
 * CIFAR-10 loader (the official "binary version").
 *
 * @module
 */

import { decodeLatin1 } from "./codec.ts";
import { formatError } from "./errors.ts";
import { computeContentHash, type DatasetSpec, describeFiles, fetchDatasetFiles, type LoadOptions } from "./files.ts";
import type { ImageDataset, ImageSplit } from "./types.ts";

/** Image side length. */
const SIDE = 32;
/** Pixels per image plane. */
const PLANE = SIDE * SIDE;
/** Bytes per record: one label byte, then the R, G and B planes. */
export const CIFAR_RECORD_BYTES = 1 + 3 * PLANE;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Aligned copy of one record's three planes, read four bytes at a time. */
const planes = new Uint8Array(3 * PLANE);
const planes32 = new Uint32Array(planes.buffer);

/**
 * Writes one image from planar RGB (`rgb`: 1,024 R, then G, then B bytes) to
 * interleaved RGB bytes `out[offset..offset+3072)`; `out32` is a 32-bit view
 * of `out`'s buffer. On little-endian machines it moves four pixels
 * (12 bytes) per step as three 32-bit words.
 */
function interleave(
  rgb: Uint8Array,
  out: Uint8Array,
  out32: Uint32Array,
  offset: number,
): void {
  if (!LITTLE_ENDIAN) {
    for (let p = 0, o = offset; p < PLANE; p++) {
      out[o++] = rgb[p]!;
      out[o++] = rgb[PLANE + p]!;
      out[o++] = rgb[2 * PLANE + p]!;
    }
    return;
  }
  planes.set(rgb);
  const quarter = PLANE / 4;
  for (let q = 0, o = offset / 4; q < quarter; q++) {
    // Four pixels: r = r0..r3, g = g0..g3, b = b0..b3 (low byte = pixel 0).
    const r = planes32[q]!;
    const g = planes32[quarter + q]!;
    const b = planes32[2 * quarter + q]!;
    // Output bytes r0 g0 b0 r1 | g1 b1 r2 g2 | b2 r3 g3 b3.
    out32[o++] = (r & 0xff) | ((g & 0xff) << 8) | ((b & 0xff) << 16) |
      ((r & 0xff00) << 16);
    out32[o++] = ((g >>> 8) & 0xff) | (b & 0xff00) | (r & 0xff0000) |
      ((g & 0xff0000) << 8);
    out32[o++] = ((b >>> 16) & 0xff) | ((r >>> 16) & 0xff00) |
      ((g >>> 8) & 0xff0000) |
      (b & 0xff000000);
  }
}

/** A batch file's bytes and its name (for messages). */
export interface CifarBatch {
  readonly data: Uint8Array;
  readonly file: string;
}

/**
 * Decodes CIFAR binary batches into one split: records of 3,073 bytes
 * (label, 1,024 red, 1,024 green, 1,024 blue bytes, planes row-major) become
 * NHWC `[N, 32, 32, 3]` pixels. Batches are concatenated in order. A length
 * that is not a whole number of records, or a label `>= classes`, raises a
 * `format` {@link DataError} naming the file.
 */
export function decodeCifarBatches(
  batches: readonly CifarBatch[],
  classes: number,
): ImageSplit {
  let total = 0;
  for (const b of batches) {
    if (b.data.length === 0 || b.data.length % CIFAR_RECORD_BYTES !== 0) {
      formatError(
        b.file,
        `it has ${b.data.length} bytes, not a positive multiple of the ` +
          `${CIFAR_RECORD_BYTES}-byte CIFAR record`,
      );
    }
    total += b.data.length / CIFAR_RECORD_BYTES;
  }
  const x = new Uint8Array(total * PLANE * 3);
  const x32 = new Uint32Array(x.buffer);
  const y = new Int32Array(total);
  let n = 0;
  for (const { data, file } of batches) {
    const records = data.length / CIFAR_RECORD_BYTES;
    for (let r = 0; r < records; r++, n++) {
      const src = r * CIFAR_RECORD_BYTES;
      const label = data[src]!;
      if (label >= classes) {
        formatError(
          file,
          `record ${r} has label ${label}, outside 0..${classes - 1}`,
        );
      }
      y[n] = label;
      interleave(
        data.subarray(src + 1, src + CIFAR_RECORD_BYTES),
        x,
        x32,
        n * PLANE * 3,
      );
    }
  }
  return { x, shape: [total, SIDE, SIDE, 3], y };
}

/**
 * Reads class names from `batches.meta.txt`: one per line, surrounding
 * whitespace and blank lines ignored. Exactly `classes` names are required.
 */
export function parseCifarLabelNames(
  data: Uint8Array,
  file: string,
  classes = 10,
): string[] {
  const names = decodeLatin1(data)
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  if (names.length !== classes) {
    formatError(
      file,
      `it lists ${names.length} class names, expected ${classes}`,
    );
  }
  return names;
}

const DIR = "cifar-10/cifar-10-batches-bin";

/**
 * CIFAR-10 files. Only the archive has an official checksum (md5); the
 * per-file md5 and sha256 are the values other projects pin for the files
 * inside it. `batches.meta.txt` has no reference checksum, so it is only
 * parsed.
 */
export const CIFAR10_SPEC: DatasetSpec = {
  title: "CIFAR-10",
  files: [
    {
      path: `${DIR}/data_batch_1.bin`,
      bytes: 30_730_000,
      md5: "5dd7e06a14cb22eb9f671a540d1b7c25",
      sha256: "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5",
    },
    {
      path: `${DIR}/data_batch_2.bin`,
      bytes: 30_730_000,
      md5: "5ea93a67294ea407fff1d09f752e9692",
      sha256: "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed",
    },
    {
      path: `${DIR}/data_batch_3.bin`,
      bytes: 30_730_000,
      md5: "942cd6a4bcdd0dd3c604fbe906cb4421",
      sha256: "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67",
    },
    {
      path: `${DIR}/data_batch_4.bin`,
      bytes: 30_730_000,
      md5: "ae636b3ba5c66a11e91e8cb52e771fcb",
      sha256: "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48",
    },
    {
      path: `${DIR}/data_batch_5.bin`,
      bytes: 30_730_000,
      md5: "53f37980c15c3d472c316c40844f3f0d",
      sha256: "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add",
    },
    {
      path: `${DIR}/test_batch.bin`,
      bytes: 30_730_000,
      md5: "803d5f7f4d78ea53de84dbe85f74fb6d",
      sha256: "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b",
    },
    { path: `${DIR}/batches.meta.txt` },
  ],
  source: {
    kind: "archive",
    archive: {
      path: "cifar-10-binary.tar.gz",
      md5: "c32a1d4ab5d03f1284b67883e8d87530",
    },
    urls: ["https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"],
    into: "cifar-10",
  },
};

/**
 * Loads CIFAR-10 (50,000 train / 10,000 test images, NHWC `[N, 32, 32, 3]`)
 * from `<dataDir>/cifar-10/cifar-10-batches-bin/`, downloading and unpacking
 * the official archive when files are missing (unless disabled).
 */
export async function loadCifar10(
  opts: LoadOptions = {},
): Promise<ImageDataset> {
  const { files } = await fetchDatasetFiles(CIFAR10_SPEC, opts);
  const meta = files[6];
  if (meta === undefined) {
    throw new Error("unreachable: the spec lists seven files");
  }
  const labelNames = parseCifarLabelNames(meta.data, meta.absPath);
  const batches = files.slice(0, 6).map((f) => ({
    data: f.data,
    file: f.absPath,
  }));
  const train = decodeCifarBatches(batches.slice(0, 5), labelNames.length);
  const test = decodeCifarBatches(batches.slice(5), labelNames.length);
  const described = describeFiles(files);
  return {
    kind: "image",
    name: "cifar-10",
    train,
    test,
    labelNames,
    files: described,
    contentHash: await computeContentHash("cifar-10", { loader: 1 }, described),
  };
}
