/**
 * Cache keys for pipeline stages, DVC run-cache style: a key is the sha256 of
 * the canonical JSON of a stage's identity (name, version, params, seed and
 * the keys of its inputs). Keys are made of keys: the root of every chain is a
 * data set's content hash (`Dataset.contentHash`, the sha256 of its files), so
 * raw bytes are hashed once, at load.
 *
 * @module
 */
import { describePath, encodeCanonical, isTypedArray, typedArrayName } from "./_json.ts";
import { sha256Hex, sha256HexOfText } from "./_sha256.ts";

/** The key a typed array's canonical form is tagged with. */
const TYPED_KEY = "$typed";

/** What makes a stage's output what it is; {@link stageKey} hashes exactly these fields. */
export interface StageIdentity {
  /** Stage name, e.g. `train`. */
  readonly name: string;
  /** Bumped by hand when the stage's maths changes (a non-negative integer). */
  readonly version: number;
  /** The stage's parameters: plain JSON values, optionally typed arrays. */
  readonly params: unknown;
  /** Random seed, when the stage has one (a seed is a param; it is kept apart for readability). */
  readonly seed?: number | undefined;
  /**
   * Keys of the stage's inputs, in the stage's argument order: upstream stage
   * keys, or a data set's content hash (the root key).
   */
  readonly inputs: readonly string[];
}

/**
 * True when `value` is a cache key: 64 lower-case hex digits (a sha256).
 *
 * @param value anything
 * @returns whether `value` has the form of a key
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isCacheKey } from "./key.ts";
 * assert.ok(isCacheKey("0".repeat(64)));
 * assert.ok(!isCacheKey("ABC"));
 * ```
 */
export function isCacheKey(value: unknown): value is string {
  return typeof value === "string" && /^[0-9a-f]{64}$/.test(value);
}

/**
 * Canonical JSON of `value`: object keys sorted (UTF-16 code-unit order) at
 * every level, no whitespace, arrays in order, numbers as JSON writes them,
 * properties whose value is `undefined` left out (as JSON does). A typed array
 * becomes `{"$typed":"Float32Array","sha256":"<hex of its raw bytes>"}`
 * (joblib style: dtype and bytes; its shape, if any, lives beside it in the
 * enclosing object, e.g. `{data, shape}`). WebCrypto being async, the hashes
 * of typed arrays are passed in: see {@link hashTypedArrays}, or use
 * {@link stageKey}, which does both steps.
 *
 * A value that cannot be hashed faithfully throws, naming its path; the
 * caller should treat such a stage as uncacheable (a miss), never guess.
 *
 * @param value the value to encode
 * @param typedArrayHashes sha256 hex of each typed array in `value`
 * @returns the canonical JSON text
 * @throws {RangeError} for NaN and ±Infinity, e.g. `params.train.lr: cannot hash NaN`
 * @throws {TypeError} for undefined in arrays, functions, symbols, bigint,
 *   non-plain objects (Map, Date, ...), cycles, the reserved key `$typed`, and
 *   typed arrays missing from `typedArrayHashes`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalJson } from "./key.ts";
 * assert.ok(canonicalJson({ b: [1, { d: true, c: null }], a: "x" }) === '{"a":"x","b":[1,{"c":null,"d":true}]}');
 * ```
 */
export function canonicalJson(
  value: unknown,
  typedArrayHashes: ReadonlyMap<ArrayBufferView, string> = new Map(),
): string {
  return encodeCanonical(value, "", {
    verb: "hash",
    reservedKey: TYPED_KEY,
    encodeTyped: (view, path) => {
      const sha256 = typedArrayHashes.get(view);
      if (sha256 === undefined) {
        throw new TypeError(
          `${describePath(path)}: no sha256 given for this ${typedArrayName(view)}; ` +
            "use stageKey, or pass the map from hashTypedArrays",
        );
      }
      return `{${JSON.stringify(TYPED_KEY)}:${JSON.stringify(typedArrayName(view))},"sha256":${
        JSON.stringify(sha256)
      }}`;
    },
  });
}

/**
 * The sha256 hex of the raw bytes of every typed array inside `value` (plain
 * objects and arrays are searched), ready for {@link canonicalJson}.
 *
 * @param value the value to search
 * @returns a map from each typed array found to the sha256 hex of its bytes
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalJson, hashTypedArrays } from "./key.ts";
 * const params = { w: new Float32Array([1, 2]) };
 * const text = canonicalJson(params, await hashTypedArrays(params));
 * assert.ok(text.startsWith('{"w":{"$typed":"Float32Array","sha256":"'));
 * ```
 */
export async function hashTypedArrays(value: unknown): Promise<Map<ArrayBufferView, string>> {
  const found = new Set<ArrayBufferView>();
  const seen = new Set<object>();
  const visit = (v: unknown): void => {
    if (typeof v !== "object" || v === null || seen.has(v)) return;
    seen.add(v);
    if (isTypedArray(v)) {
      found.add(v);
    } else if (Array.isArray(v)) {
      for (const item of v) visit(item);
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto === Object.prototype || proto === null) {
        for (const item of Object.values(v)) visit(item);
      }
    }
  };
  visit(value);
  const hashes = new Map<ArrayBufferView, string>();
  for (const view of found) {
    let bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    if (!(view.buffer instanceof ArrayBuffer)) bytes = bytes.slice(); // WebCrypto refuses shared memory
    hashes.set(view, await sha256Hex(bytes));
  }
  return hashes;
}

/**
 * The cache key of a stage's output: sha256 hex of the canonical JSON of
 * `{inputs, name, params, seed?, version}` (other fields of `identity` are
 * ignored, so a whole stage value can be passed). The chain of keys starts at
 * a data set's content hash, given as an input of the first stage.
 *
 * @param identity the stage's name, version, params, seed and input keys
 * @returns 64 lower-case hex digits
 * @throws {TypeError} when `name` is empty, an input is not a key, or the params cannot be hashed
 * @throws {RangeError} when `version` is not a non-negative integer, or for NaN/Infinity in params
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stageKey } from "./key.ts";
 * const dataKey = "ab".repeat(32); // a data set's content hash
 * const key = await stageKey({ name: "train", version: 1, params: { epochs: 3 }, seed: 7, inputs: [dataKey] });
 * assert.ok(/^[0-9a-f]{64}$/.test(key));
 * ```
 */
export async function stageKey(identity: StageIdentity): Promise<string> {
  const { name, version, params, seed, inputs } = identity;
  if (typeof name !== "string" || name === "") throw new TypeError(`name: expected a non-empty string`);
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new RangeError(`version: expected a non-negative integer, got ${String(version)}`);
  }
  if (!Array.isArray(inputs)) throw new TypeError(`inputs: expected an array of keys`);
  inputs.forEach((input, i) => {
    if (!isCacheKey(input)) {
      throw new TypeError(`inputs[${i}]: expected a key (64 lower-case hex digits), got ${JSON.stringify(input)}`);
    }
  });
  const hashed = seed === undefined ? { name, version, params, inputs } : { name, version, params, seed, inputs };
  return sha256HexOfText(canonicalJson(hashed, await hashTypedArrays(params)));
}
