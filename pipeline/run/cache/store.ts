/**
 * A content-addressed store for stage outputs, DVC run-cache style. An entry
 * lives in `<dir>/<key[0..2]>/<key>/`: `value.json` (the JSON payload, in
 * canonical form), one raw little-endian `<name>.bin` per array, and
 * `meta.json` (written last) with the key, the stage name, the creation time
 * and, for every file, its size and sha256.
 *
 * Entries are built in `<dir>/tmp/` and renamed into place, and removed by
 * renaming them back into `tmp/` before deleting them, so other processes see
 * an entry whole or not at all. Reads verify every size and checksum; a
 * damaged entry is reported through `warn`, removed, and read as a miss.
 *
 * @module
 */
import { join } from "node:path";
import { encodeCanonical } from "./_json.ts";
import { sha256Hex } from "./_sha256.ts";
import { isCacheKey } from "./key.ts";
import { lockResultsDir } from "../results_lock.ts";

/** The array types an entry can hold. */
export type StoredArrayData = Float32Array | Int32Array | Uint8Array | Float64Array;

/** One array of an entry: its elements (row-major) and its shape. */
export interface StoredArray {
  /** Elements; `data.length` is the product of `shape`. */
  data: StoredArrayData;
  /** Dimensions; `[]` for a scalar (one element). */
  shape: number[];
}

/** The value of an entry: a JSON payload and named arrays. */
export interface Entry {
  /** Plain JSON value (read back with object keys in sorted order). */
  json: unknown;
  /** Named arrays; names match `[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}`. */
  arrays: Record<string, StoredArray>;
}

/** What {@link Store.put} accepts: an {@link Entry}, arrays optional, shapes read-only. */
export interface EntryInput {
  /** Plain JSON value: no NaN/Infinity, undefined in arrays, typed arrays, Map, Date, ... */
  readonly json: unknown;
  /** Named arrays. */
  readonly arrays?: Readonly<Record<string, { readonly data: StoredArrayData; readonly shape: readonly number[] }>>;
}

/** Options of {@link openStore}. */
export interface StoreOptions {
  /** Told about every damaged entry before it is removed (default: `console.warn`). */
  readonly warn?: (message: string) => void;
  /** Temp dirs older than this are removed on open, in ms (default: one hour). */
  readonly staleTempMs?: number;
}

/** Size of a store. */
export interface StoreStats {
  /** Entries with a `meta.json` (not verified). */
  entries: number;
  /** Bytes of all their files, `meta.json` included. */
  bytes: number;
}

/** `written`: this call placed the entry; `exists`: an entry for the key was already there (kept). */
export type PutOutcome = "written" | "exists";

/**
 * What the interpreter needs of a store: the filesystem {@link Store} (one
 * machine, or many on a shared mount) and `RedisStore` (a fleet without a
 * shared mount) both provide it.
 */
export interface StageStore {
  /** Where it is, for messages (a folder, or a URL without its password). */
  readonly location: string;
  /** Whether an entry for `key` is in place (not verified). */
  has(key: string): Promise<boolean>;
  /** Whether the entry for `key` is whole (sizes), without reading its data. */
  check(key: string): Promise<"hit" | "miss" | "damaged">;
  /** The entry for `key`, verified; a damaged one is reported, removed and read as a miss. */
  get(key: string): Promise<Entry | undefined>;
  /** Stores an entry unless one is in place; readers never see it half written. */
  put(key: string, stageName: string, value: EntryInput): Promise<PutOutcome>;
  /** Removes the entry for `key`. */
  remove(key: string): Promise<boolean>;
  /**
   * Leases `key` for computing it: waits while a live worker holds it (a dead
   * worker's lease expires) and resolves with the lease; release it when done.
   */
  lease(key: string, onWarning: (message: string) => void): Promise<AsyncDisposable>;
}

const FORMAT = "dbal-cache/1";
const META = "meta.json";
const VALUE = "value.json";
const TMP = "tmp";
const ARRAY_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;
const HOUR_MS = 60 * 60 * 1000;

type Dtype = "float32" | "int32" | "uint8" | "float64";
const CONSTRUCTORS = {
  float32: Float32Array,
  int32: Int32Array,
  uint8: Uint8Array,
  float64: Float64Array,
} as const;

interface FileMeta {
  file: string;
  bytes: number;
  sha256: string;
}
interface ArrayMeta extends FileMeta {
  dtype: Dtype;
  shape: number[];
}
/** The content of `meta.json`. */
interface Meta {
  format: typeof FORMAT;
  key: string;
  stage: string;
  created: string;
  /** Random; tells two writes of the same key apart. */
  id: string;
  json: FileMeta;
  arrays: Record<string, ArrayMeta>;
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("The cache store writes little-endian arrays and needs a little-endian machine");
}

/**
 * Opens (creating it if needed) the store in `dir`, e.g. `results/.cache`,
 * and removes temp dirs left by killed writers.
 *
 * @param dir the store's directory
 * @param options `warn` callback and temp-dir age limit
 * @returns the store
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openStore } from "./store.ts";
 * const dir = await Deno.makeTempDir();
 * const store = await openStore(dir);
 * const key = "ab".repeat(32);
 * await store.put(key, "train", { json: { acc: 0.9 }, arrays: { w: { data: new Float32Array([1, 2]), shape: [2] } } });
 * const entry = await store.get(key);
 * assert.ok(entry?.arrays["w"]?.data[1] === 2);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openStore(dir: string, options: StoreOptions = {}): Promise<Store> {
  const store = new Store(dir, options);
  await Deno.mkdir(join(dir, TMP), { recursive: true });
  await store.cleanTemp(options.staleTempMs ?? HOUR_MS);
  return store;
}

type ReadResult =
  | { kind: "hit"; entry: Entry }
  | { kind: "miss" }
  | { kind: "damaged"; problem: string; metaText: string | undefined };

/** A content-addressed store of stage outputs; see the module doc. Made by {@link openStore}. */
export class Store implements StageStore {
  /** The store's directory. */
  readonly dir: string;

  /** The store's directory, for messages. */
  get location(): string {
    return this.dir;
  }

  /**
   * Leases a key (`<dir>/leases/<key>/`, the results folder's lock): a live
   * holder is waited for; a dead one's lease is taken over (same host: at
   * once, by pid; another host: after 30 s without a heartbeat).
   *
   * @param key a cache key
   * @param onWarning told when a dead worker's lease is taken over
   * @returns the lease
   */
  async lease(key: string, onWarning: (message: string) => void): Promise<AsyncDisposable> {
    if (!isCacheKey(key)) throw new TypeError(`Cache key must be 64 lower-case hex digits, got ${JSON.stringify(key)}`);
    const lock = await lockResultsDir(join(this.dir, "leases", key), { wait: true, pollMs: 200, onWarning });
    return { [Symbol.asyncDispose]: () => lock.release() };
  }
  readonly #warn: (message: string) => void;

  /**
   * Prefer {@link openStore}, which also creates the directory and cleans temp dirs.
   *
   * @param dir the store's directory
   * @param options the `warn` callback
   */
  constructor(dir: string, options: StoreOptions = {}) {
    this.dir = dir;
    this.#warn = options.warn ?? ((message) => console.warn(message));
  }

  /**
   * Whether an entry for `key` is in place (its `meta.json` exists). Does not
   * verify it: {@link Store.get} does.
   *
   * @param key a cache key
   * @returns true when the entry is present
   */
  async has(key: string): Promise<boolean> {
    return await exists(join(this.#entryDir(key), META));
  }

  /**
   * Checks, without reading the data, whether the entry for `key` is whole:
   * its `meta.json` parses and every file it lists has the recorded size.
   * (Checksums are verified by {@link Store.get} when the entry is read.)
   *
   * @param key a cache key
   * @returns "hit" when whole, "miss" when absent, "damaged" otherwise
   */
  async check(key: string): Promise<"hit" | "miss" | "damaged"> {
    const dir = this.#entryDir(key);
    const metaText = await readTextIfExists(join(dir, META));
    if (metaText === undefined) return (await exists(dir)) ? "damaged" : "miss";
    let meta: Meta;
    try {
      meta = parseMeta(JSON.parse(metaText), key);
    } catch {
      return "damaged";
    }
    for (const file of [meta.json, ...Object.values(meta.arrays)]) {
      try {
        if ((await Deno.stat(join(dir, file.file))).size !== file.bytes) return "damaged";
      } catch {
        return "damaged";
      }
    }
    return "hit";
  }

  /**
   * The entry for `key`, verified: sizes and sha256 of every file against
   * `meta.json`. A damaged entry (no `meta.json`, a size or checksum
   * mismatch, unreadable JSON) is reported through `warn`, removed, and read
   * as a miss, so that the caller recomputes it.
   *
   * @param key a cache key
   * @returns the entry, or undefined on a miss
   * @throws {TypeError} when `key` is not a key
   */
  async get(key: string): Promise<Entry | undefined> {
    const dir = this.#entryDir(key);
    // An entry replaced or removed by another process while we read it is read again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const result = await readEntry(dir, key);
      if (result.kind === "hit") return result.entry;
      if (result.kind === "miss") return undefined;
      if ((await readTextIfExists(join(dir, META))) !== result.metaText) continue;
      this.#warn(`cache entry ${key}: ${result.problem}; removing it`);
      await this.remove(key);
      return undefined;
    }
    return undefined;
  }

  /**
   * Stores `value` under `key`, atomically: the entry is written to a temp
   * dir, `meta.json` last, then renamed into place. When an entry for `key`
   * is already there (e.g. another process won the race), it is kept and ours
   * is discarded: both have the same content by construction of keys.
   *
   * @param key the cache key, e.g. from `stageKey`
   * @param stageName the stage's name, recorded in `meta.json`
   * @param value the JSON payload and named arrays
   * @returns whether this call wrote the entry
   * @throws {TypeError} for a bad key, stage name, array name or array type, or JSON that cannot be stored
   * @throws {RangeError} for a shape that does not match its data, or NaN/Infinity in the JSON
   */
  async put(key: string, stageName: string, value: EntryInput): Promise<PutOutcome> {
    const dir = this.#entryDir(key);
    const encoded = await encodeEntry(key, stageName, value);
    if (await exists(join(dir, META))) return "exists";

    const tmp = join(this.dir, TMP, `${key}.${Deno.pid}.${randomHex(6)}`);
    await Deno.mkdir(tmp, { recursive: true });
    try {
      for (const [file, bytes] of encoded.files) await Deno.writeFile(join(tmp, file), bytes);
      const meta = encoded.meta;
      await Deno.writeTextFile(join(tmp, META), JSON.stringify(meta, null, 1) + "\n");
      await Deno.mkdir(join(dir, ".."), { recursive: true });
      for (let attempt = 0;; attempt++) {
        try {
          await Deno.rename(tmp, dir);
          return "written";
        } catch (e) {
          if (await exists(join(dir, META))) return "exists";
          // Entries appear whole, by rename; a dir without meta.json is debris (or just went away).
          if (attempt < 2 && await exists(dir)) {
            this.#warn(`cache entry ${key}: found without meta.json (incomplete entry); replacing it`);
            await this.#discard(dir);
            continue;
          }
          if (attempt < 2 && !(await exists(dir))) continue;
          throw e;
        }
      }
    } finally {
      await removeIfExists(tmp);
    }
  }

  /**
   * Removes the entry for `key`, atomically for readers (it is first renamed
   * into the temp dir).
   *
   * @param key a cache key
   * @returns whether there was an entry (complete or not) to remove
   */
  async remove(key: string): Promise<boolean> {
    return await this.#discard(this.#entryDir(key));
  }

  /**
   * The keys of the entries in place (those with a `meta.json`; not verified).
   *
   * @returns keys, sorted
   */
  async list(): Promise<string[]> {
    const keys: string[] = [];
    for (const shard of await readDirNames(this.dir)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      for (const name of await readDirNames(join(this.dir, shard))) {
        if (isCacheKey(name) && name.startsWith(shard) && await exists(join(this.dir, shard, name, META))) {
          keys.push(name);
        }
      }
    }
    return keys.sort();
  }

  /**
   * Number of entries in place and the bytes of their files.
   *
   * @returns entries and bytes
   */
  async stats(): Promise<StoreStats> {
    let entries = 0;
    let bytes = 0;
    for (const key of await this.list()) {
      const dir = this.#entryDir(key);
      entries++;
      for (const name of await readDirNames(dir)) {
        try {
          bytes += (await Deno.stat(join(dir, name))).size;
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
      }
    }
    return { entries, bytes };
  }

  /**
   * Removes temp dirs (partial writes of killed processes, half-deleted
   * entries) last modified more than `maxAgeMs` ago. {@link openStore} calls it.
   *
   * @param maxAgeMs age limit in ms (default: one hour)
   * @returns how many were removed
   */
  async cleanTemp(maxAgeMs: number = HOUR_MS): Promise<number> {
    const tmpDir = join(this.dir, TMP);
    let removed = 0;
    for (const name of await readDirNames(tmpDir)) {
      const path = join(tmpDir, name);
      try {
        const info = await Deno.lstat(path);
        if (Date.now() - (info.mtime?.getTime() ?? 0) > maxAgeMs) {
          await Deno.remove(path, { recursive: true });
          removed++;
        }
      } catch {
        // Another process may be cleaning it too.
      }
    }
    return removed;
  }

  #entryDir(key: string): string {
    if (!isCacheKey(key)) throw new TypeError(`Cache key must be 64 lower-case hex digits, got ${JSON.stringify(key)}`);
    return join(this.dir, key.slice(0, 2), key);
  }

  async #discard(dir: string): Promise<boolean> {
    const trash = join(this.dir, TMP, `${dir.slice(-64)}.${Deno.pid}.${randomHex(6)}.removed`);
    try {
      await Deno.mkdir(join(this.dir, TMP), { recursive: true });
      await Deno.rename(dir, trash);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
    await removeIfExists(trash);
    return true;
  }
}

/** An entry as a store keeps it: named byte blobs (`value.json`, `<array>.bin`) and the meta that lists them. */
export interface EncodedEntry {
  /** The meta (`meta.json`'s content): key, stage, sizes and sha256 of every blob. */
  readonly meta: Meta;
  /** The blobs by file name, `meta.json` excluded. */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

/**
 * Encodes a value for a store: canonical JSON, raw little-endian arrays, and
 * their sizes and checksums.
 *
 * @param key the cache key
 * @param stageName the stage's name
 * @param value the JSON payload and named arrays
 * @returns the blobs and meta
 * @throws {TypeError} for a bad stage name, array name or array type, or JSON that cannot be stored
 * @throws {RangeError} for a shape that does not match its data, or NaN/Infinity in the JSON
 */
export async function encodeEntry(key: string, stageName: string, value: EntryInput): Promise<EncodedEntry> {
  if (!isCacheKey(key)) throw new TypeError(`Cache key must be 64 lower-case hex digits, got ${JSON.stringify(key)}`);
  if (typeof stageName !== "string" || stageName === "") {
    throw new TypeError("stageName: expected a non-empty string");
  }
  const jsonText = encodeCanonical(value.json, "json", {
    verb: "store",
    encodeTyped: (_view, path) => {
      throw new TypeError(`${path}: cannot store a typed array in json; put it in arrays`);
    },
  });
  const arrays = checkArrays(value.arrays ?? {});
  const files = new Map<string, Uint8Array>();
  const jsonBytes = new TextEncoder().encode(jsonText);
  files.set(VALUE, jsonBytes);
  const arrayMetas: Record<string, ArrayMeta> = {};
  for (const [name, { dtype, shape, bytes }] of arrays) {
    const file = `${name}.bin`;
    files.set(file, bytes);
    arrayMetas[name] = { file, dtype, shape, bytes: bytes.byteLength, sha256: await sha256Hex(bytes) };
  }
  const meta: Meta = {
    format: FORMAT,
    key,
    stage: stageName,
    created: new Date().toISOString(),
    id: randomHex(8),
    json: { file: VALUE, bytes: jsonBytes.byteLength, sha256: await sha256Hex(jsonBytes) },
    arrays: arrayMetas,
  };
  return { meta, files };
}

/** What reading an entry found. */
export type DecodedEntry =
  | { readonly kind: "hit"; readonly entry: Entry }
  | { readonly kind: "damaged"; readonly problem: string };

/**
 * Decodes and verifies an entry from its meta text and a reader of its blobs.
 *
 * @param key the key it must be for
 * @param metaText the meta (`meta.json`'s text)
 * @param read a blob's bytes by file name, undefined when missing
 * @returns the entry, or what is wrong with it
 */
export async function decodeEntry(
  key: string,
  metaText: string,
  read: (file: string) => Promise<Uint8Array | undefined>,
): Promise<DecodedEntry> {
  const damaged = (problem: string): DecodedEntry => ({ kind: "damaged", problem });
  let meta: Meta;
  try {
    meta = parseMeta(JSON.parse(metaText), key);
  } catch (e) {
    return damaged(`meta.json is unreadable (${(e as Error).message})`);
  }
  const verified = async (file: FileMeta): Promise<Uint8Array | string> => {
    const bytes = await read(file.file);
    if (bytes === undefined) return `${file.file} is missing`;
    if (bytes.byteLength !== file.bytes) {
      return `size of ${file.file} is ${bytes.byteLength} bytes, expected ${file.bytes}`;
    }
    const sha256 = await sha256Hex(bytes);
    if (sha256 !== file.sha256) return `sha256 of ${file.file} is ${sha256}, expected ${file.sha256}`;
    return bytes;
  };
  const jsonBytes = await verified(meta.json);
  if (typeof jsonBytes === "string") return damaged(jsonBytes);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(jsonBytes));
  } catch (e) {
    return damaged(`${meta.json.file} is unreadable (${(e as Error).message})`);
  }
  const arrays: Array<[string, StoredArray]> = [];
  for (const [name, array] of Object.entries(meta.arrays)) {
    const bytes = await verified(array);
    if (typeof bytes === "string") return damaged(bytes);
    // Own an exactly-sized, aligned buffer, so that `data.buffer` is safe to hand on.
    const buffer = bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength
      ? bytes.buffer as ArrayBuffer
      : bytes.slice().buffer;
    arrays.push([name, { data: new CONSTRUCTORS[array.dtype](buffer), shape: array.shape }]);
  }
  // fromEntries defines own properties, whatever the names.
  return { kind: "hit", entry: { json, arrays: Object.fromEntries(arrays) } };
}

/**
 * The blob sizes a meta lists, by file name (to check an entry is whole without reading it).
 *
 * @param key the key it must be for
 * @param metaText the meta's text
 * @returns sizes, or undefined when the meta is unreadable
 */
export function listedSizes(key: string, metaText: string): Map<string, number> | undefined {
  try {
    const meta = parseMeta(JSON.parse(metaText), key);
    return new Map([meta.json, ...Object.values(meta.arrays)].map((f) => [f.file, f.bytes]));
  } catch {
    return undefined;
  }
}

/** Checks arrays and returns their bytes, before anything is written. */
function checkArrays(
  arrays: NonNullable<EntryInput["arrays"]>,
): Array<[string, { dtype: Dtype; shape: number[]; bytes: Uint8Array }]> {
  const checked: Array<[string, { dtype: Dtype; shape: number[]; bytes: Uint8Array }]> = [];
  const lowerNames = new Set<string>();
  for (const [name, array] of Object.entries(arrays)) {
    const path = `arrays[${JSON.stringify(name)}]`;
    if (!ARRAY_NAME.test(name)) {
      throw new TypeError(`${path}: array names must match ${ARRAY_NAME.source}`);
    }
    if (lowerNames.has(name.toLowerCase())) {
      throw new TypeError(`${path}: another array has the same name but for case (file names clash on some disks)`);
    }
    lowerNames.add(name.toLowerCase());
    const { data, shape } = array;
    const dtype = dtypeOf(data);
    if (dtype === undefined) {
      throw new TypeError(`${path}: data must be a Float32Array, Int32Array, Uint8Array or Float64Array`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new TypeError(`${path}: shape must be an array of non-negative integers`);
    }
    const size = shape.reduce((a, d) => a * d, 1);
    if (size !== data.length) {
      throw new RangeError(`${path}: shape [${shape.join(",")}] has ${size} elements, data has ${data.length}`);
    }
    checked.push([name, {
      dtype,
      shape: [...shape],
      bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    }]);
  }
  return checked;
}

function dtypeOf(data: unknown): Dtype | undefined {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof Uint8Array) return "uint8";
  if (data instanceof Float64Array) return "float64";
  return undefined;
}

/** Reads and verifies one entry. Other I/O errors than "not found" are thrown. */
async function readEntry(dir: string, key: string): Promise<ReadResult> {
  const metaText = await readTextIfExists(join(dir, META));
  if (metaText === undefined) {
    if (!(await exists(dir))) return { kind: "miss" };
    return { kind: "damaged", problem: "meta.json is missing (incomplete entry)", metaText };
  }
  const decoded = await decodeEntry(key, metaText, async (file) => {
    try {
      return await Deno.readFile(join(dir, file));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  });
  return decoded.kind === "hit" ? decoded : { ...decoded, metaText };
}

/** Validates the parsed `meta.json`; throws an Error saying what is wrong. */
function parseMeta(raw: unknown, key: string): Meta {
  const fail = (what: string): never => {
    throw new Error(what);
  };
  const isRecord = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  const fileMeta = (v: unknown, where: string): FileMeta => {
    if (!isRecord(v)) return fail(`${where} is not an object`);
    const { file, bytes, sha256 } = v;
    if (typeof file !== "string" || !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(file)) {
      fail(`${where}.file is not a file name`);
    }
    if (!Number.isSafeInteger(bytes) || (bytes as number) < 0) fail(`${where}.bytes is not a size`);
    if (!isCacheKey(sha256)) fail(`${where}.sha256 is not a sha256`);
    return { file: file as string, bytes: bytes as number, sha256: sha256 as string };
  };
  if (!isRecord(raw)) return fail("not an object");
  if (raw.format !== FORMAT) fail(`format is ${JSON.stringify(raw.format)}, expected "${FORMAT}"`);
  if (raw.key !== key) fail(`key is ${JSON.stringify(raw.key)}`);
  if (typeof raw.stage !== "string") fail("stage is not a string");
  if (typeof raw.created !== "string") fail("created is not a string");
  if (typeof raw.id !== "string") fail("id is not a string");
  const json = fileMeta(raw.json, "json");
  if (json.file !== VALUE) fail(`json.file is not ${VALUE}`);
  if (!isRecord(raw.arrays)) return fail("arrays is not an object");
  const arrays: Array<[string, ArrayMeta]> = [];
  for (const [name, v] of Object.entries(raw.arrays)) {
    const where = `arrays[${JSON.stringify(name)}]`;
    if (!ARRAY_NAME.test(name)) fail(`${where}: bad array name`);
    const file = fileMeta(v, where);
    if (file.file !== `${name}.bin`) fail(`${where}.file is not ${name}.bin`);
    const { dtype, shape } = v as Record<string, unknown>;
    if (typeof dtype !== "string" || !Object.hasOwn(CONSTRUCTORS, dtype)) fail(`${where}.dtype is not a dtype`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${where}.shape is not a shape`);
    }
    const size = (shape as number[]).reduce((a, d) => a * d, 1);
    const perElement = CONSTRUCTORS[dtype as Dtype].BYTES_PER_ELEMENT;
    if (size * perElement !== file.bytes) {
      fail(`${where}: shape and dtype give ${size * perElement} bytes, not ${file.bytes}`);
    }
    arrays.push([name, { ...file, dtype: dtype as Dtype, shape: shape as number[] }]);
  }
  return {
    format: FORMAT,
    key,
    stage: raw.stage as string,
    created: raw.created as string,
    id: raw.id as string,
    json,
    arrays: Object.fromEntries(arrays),
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

async function readDirNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const item of Deno.readDir(dir)) names.push(item.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return names;
}

async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

function randomHex(bytes: number): string {
  let hex = "";
  for (const b of crypto.getRandomValues(new Uint8Array(bytes))) hex += b.toString(16).padStart(2, "0");
  return hex;
}
