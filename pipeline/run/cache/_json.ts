/**
 * The canonical JSON writer behind both cache keys (`key.ts`) and stored JSON
 * payloads (`store.ts`): sorted object keys at every level, no whitespace,
 * arrays in order, and a loud error naming the path for anything JSON would
 * silently drop or change (NaN, Infinity, undefined in arrays, functions,
 * symbols, bigint, Map, Date, class instances, cycles).
 *
 * @module
 */

/** What a caller does with the canonical text, used in error messages. */
export type CanonicalVerb = "hash" | "store";

/** How {@link encodeCanonical} treats typed arrays and reserved keys. */
export interface CanonicalOptions {
  /** `hash` for keys, `store` for payloads; appears in error messages. */
  readonly verb: CanonicalVerb;
  /** Encodes (or rejects) a typed array found at `path`. */
  readonly encodeTyped: (view: ArrayBufferView, path: string) => string;
  /** A plain-object key that is rejected because encodings of typed arrays use it. */
  readonly reservedKey?: string;
}

/** True for typed arrays (Float32Array, Uint8Array, ...), false for DataView and the rest. */
export function isTypedArray(value: unknown): value is ArrayBufferView {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

/** The constructor name of a typed array, e.g. `Float32Array`. */
export function typedArrayName(view: ArrayBufferView): string {
  return Object.prototype.toString.call(view).slice(8, -1);
}

/** A path for messages: `value` for the root, else the path itself. */
export function describePath(path: string): string {
  return path === "" ? "value" : path;
}

/**
 * Canonical JSON text of `value`.
 *
 * @param value the value to encode
 * @param path path of `value` in messages (`""` for the root)
 * @param options typed-array handling and the verb for messages
 * @returns the canonical JSON text
 * @throws {RangeError} for NaN and ±Infinity
 * @throws {TypeError} for values JSON cannot carry faithfully
 */
export function encodeCanonical(value: unknown, path: string, options: CanonicalOptions): string {
  return encode(value, path, options, new Set());
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function childPath(path: string, key: string): string {
  if (!IDENTIFIER.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path === "" ? key : `${path}.${key}`;
}

function encode(value: unknown, path: string, options: CanonicalOptions, stack: Set<object>): string {
  const cannot = (what: string) => `${describePath(path)}: cannot ${options.verb} ${what}`;
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new RangeError(cannot(String(value)));
      return JSON.stringify(value);
    case "undefined":
      throw new TypeError(cannot("undefined"));
    case "bigint":
      throw new TypeError(cannot(`a bigint (${value}n); convert it to a number or a string`));
    case "function":
      throw new TypeError(cannot("a function"));
    case "symbol":
      throw new TypeError(cannot("a symbol"));
  }
  if (value === null) return "null";
  const object = value as object;
  if (isTypedArray(object)) return options.encodeTyped(object, path);
  if (stack.has(object)) throw new TypeError(cannot("a circular reference"));
  stack.add(object);
  try {
    if (Array.isArray(object)) {
      const parts: string[] = [];
      for (let i = 0; i < object.length; i++) {
        parts.push(encode(object[i], `${path}[${i}]`, options, stack));
      }
      return `[${parts.join(",")}]`;
    }
    const proto = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) {
      const name = (object as { constructor?: { name?: unknown } }).constructor?.name;
      throw new TypeError(
        cannot(`a ${typeof name === "string" && name !== "" ? name : "non-plain object"}`) +
          "; use plain objects, arrays, strings, finite numbers, booleans and null",
      );
    }
    if (Object.getOwnPropertySymbols(object).length > 0) throw new TypeError(cannot("symbol-keyed properties"));
    const record = object as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of Object.keys(record).sort()) {
      if (key === options.reservedKey) {
        throw new TypeError(`${describePath(path)}: the key "${key}" is reserved for typed arrays`);
      }
      const item = record[key];
      if (item === undefined) continue; // like JSON: an undefined property is an absent one
      parts.push(`${JSON.stringify(key)}:${encode(item, childPath(path, key), options, stack)}`);
    }
    return `{${parts.join(",")}}`;
  } finally {
    stack.delete(object);
  }
}
