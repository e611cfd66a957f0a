/**
 * Tiny data sets in the real file formats, for end-to-end tests.
 *
 * @module
 */
import { type CliFlags, type CliResult, runExperimentCommand } from "../pipeline/cli/cli.ts";
import { gzip, sha256 } from "../pipeline/data/testutil.ts";
import tiny from "./tiny_mnist.ts";
import { makeRng } from "../pipeline/tensor/rng.ts";

function idx(magic: number, dims: number[], body: Uint8Array): Uint8Array {
  const header = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  header.setUint32(0, magic);
  dims.forEach((d, i) => header.setUint32(4 + 4 * i, d));
  const out = new Uint8Array(header.byteLength + body.length);
  out.set(new Uint8Array(header.buffer), 0);
  out.set(body, header.byteLength);
  return out;
}

/**
 * Easy MNIST-format images: class k is a bright 8x8 square at a position
 * that depends on k, over faint noise. Labels cycle 0..9.
 */
function images(count: number, seed: number): { x: Uint8Array; y: Uint8Array } {
  const rng = makeRng(seed);
  const x = new Uint8Array(count * 784);
  const y = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const k = i % 10;
    y[i] = k;
    const top = 2 + 9 * Math.floor(k / 3), left = 2 + 9 * (k % 3);
    for (let p = 0; p < 784; p++) x[i * 784 + p] = rng.int(40);
    for (let r = 0; r < 8; r++) {
      for (let c = 0; c < 8; c++) x[i * 784 + (top + r) * 28 + left + c] = 200 + rng.int(56);
    }
  }
  return { x, y };
}

/**
 * Writes `mnist/*.gz` under `dir` and returns their sha256s, keyed by path
 * relative to `dir` (the loaders' `checksums` option).
 *
 * @param dir data directory
 * @param train training images
 * @param test test images
 * @returns checksums of the written files
 */
export async function writeTinyMnist(dir: string, train: number, test: number): Promise<Record<string, string>> {
  await Deno.mkdir(`${dir}/mnist`, { recursive: true });
  const tr = images(train, 1), te = images(test, 2);
  const files: Record<string, Uint8Array> = {
    "mnist/train-images-idx3-ubyte.gz": await gzip(idx(0x803, [train, 28, 28], tr.x)),
    "mnist/train-labels-idx1-ubyte.gz": await gzip(idx(0x801, [train], tr.y)),
    "mnist/t10k-images-idx3-ubyte.gz": await gzip(idx(0x803, [test, 28, 28], te.x)),
    "mnist/t10k-labels-idx1-ubyte.gz": await gzip(idx(0x801, [test], te.y)),
  };
  const sums: Record<string, string> = {};
  for (const [path, bytes] of Object.entries(files)) {
    await Deno.writeFile(`${dir}/${path}`, bytes);
    sums[path] = await sha256(bytes);
  }
  return sums;
}

/**
 * Writes tiny CIFAR-10 binary batches under `dir` (five train batches and a
 * test batch of `perBatch` records each, plus the label names): class k is a
 * bright 8x8 square at a position that depends on k, in one colour plane.
 *
 * @param dir data directory
 * @param perBatch records per batch
 * @returns checksums of the written files, keyed by path relative to `dir`
 */
export async function writeTinyCifar(dir: string, perBatch: number): Promise<Record<string, string>> {
  const base = "cifar-10/cifar-10-batches-bin";
  await Deno.mkdir(`${dir}/${base}`, { recursive: true });
  const rng = makeRng(4);
  const batch = () => {
    const out = new Uint8Array(perBatch * 3073);
    for (let i = 0; i < perBatch; i++) {
      const k = i % 10, rec = i * 3073;
      out[rec] = k;
      for (let p = 1; p < 3073; p++) out[rec + p] = rng.int(40);
      const top = 2 + 10 * Math.floor(k / 3), left = 2 + 10 * (k % 3), plane = k % 3;
      for (let r = 0; r < 8; r++) {
        for (let c = 0; c < 8; c++) out[rec + 1 + plane * 1024 + (top + r) * 32 + left + c] = 200 + rng.int(56);
      }
    }
    return out;
  };
  const names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
  const files: Record<string, Uint8Array> = {
    ...Object.fromEntries([1, 2, 3, 4, 5].map((b) => [`${base}/data_batch_${b}.bin`, batch()])),
    [`${base}/test_batch.bin`]: batch(),
    [`${base}/batches.meta.txt`]: new TextEncoder().encode(`${names.join("\n")}\n`),
  };
  const sums: Record<string, string> = {};
  for (const [path, bytes] of Object.entries(files)) {
    await Deno.writeFile(`${dir}/${path}`, bytes);
    sums[path] = await sha256(bytes);
  }
  return sums;
}

/** Runs an experiment file on the tiny MNIST files: `out` is a folder name under the fixture's directory. */
export type TinyRun = (file: string, out: string, more?: Partial<CliFlags>) => Promise<CliResult>;

/**
 * Gives `fn` a temporary directory holding tiny MNIST files (300 train, 100
 * test images) and tiny CIFAR-10 files (300 train, 60 test) and a runner of the real CLI code path on them (wasm backend,
 * cache in `<dir>/cache`); removes the directory afterwards.
 *
 * @param fn the test body
 */
export async function withTinyMnist(fn: (dir: string, run: TinyRun) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "dbal-tiny-" });
  try {
    const checksums = {
      ...(await writeTinyMnist(`${dir}/data`, 300, 100)),
      ...(await writeTinyCifar(`${dir}/data`, 60)),
    };
    await fn(dir, (file, out, more = {}) =>
      runExperimentCommand({
        file,
        backend: "wasm",
        dataDir: `${dir}/data`,
        full: false,
        download: false,
        checksums,
        out: `${dir}/${out}`,
        cacheDir: `${dir}/cache`,
        noCache: false,
        refresh: [],
        dryRun: false,
        ...more,
      }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Writes the tiny experiment with some fields changed as a YAML file (JSON is YAML).
 *
 * @param dir where
 * @param name file name without extension
 * @param changes fields to replace
 * @returns the file's path
 */
export async function tinyVariant(dir: string, name: string, changes: Record<string, unknown>): Promise<string> {
  const file = `${dir}/${name}.yaml`;
  await Deno.writeTextFile(file, JSON.stringify({ ...tiny, ...changes }, null, 2));
  return file;
}

/**
 * Whether a file or folder exists.
 *
 * @param path the path
 * @returns true when `stat` finds it
 */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
