/**
 * Helpers shared by the loaders of users' own data sets (image folders,
 * `.npz`/`.npy` arrays, CSV/JSONL text tables): reading a file the user
 * named, naming it in the data set's file list, errors that tell the user
 * what to fix, and the deterministic held-out test split.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { sha256Hex } from "./codec.ts";
import { DataError } from "./errors.ts";
import type { DatasetFile } from "./types.ts";

/** Default fraction of each class held out as the test split. */
export const DEFAULT_TEST_FRACTION = 0.2;

/** A file the user named, read once. */
export interface UserFile {
  /** The path as given (for messages). */
  readonly path: string;
  /** The bytes of the file. */
  readonly data: Uint8Array;
  /** Lower-case hex sha256 of `data`. */
  readonly sha256: string;
}

/**
 * Throws a `format` {@link DataError} about a user's file.
 *
 * @param file the path to name in the message
 * @param problem what is wrong, e.g. `"row 3 has no label"`
 * @param fix optional sentence telling how to fix it
 * @returns never; it always throws
 */
export function userFormatError(file: string, problem: string, fix?: string): never {
  throw new DataError(
    "format",
    `Cannot load ${file}: ${problem}.${fix === undefined ? "" : ` ${fix}`}`,
  );
}

/**
 * Reads a file the user named. A path that does not exist, or that is a
 * directory, raises a `missing` {@link DataError} naming it.
 *
 * @param path the file to read
 * @param what what the file is, for the message (e.g. `"training table"`)
 * @returns the bytes and their sha256
 */
export async function readUserFile(path: string, what: string): Promise<UserFile> {
  let data: Uint8Array;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) {
      throw new DataError("missing", `The ${what} ${path} is not a file (it is a directory or a special file).`);
    }
    data = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new DataError("missing", `The ${what} ${path} does not exist. Check the path.`, { cause: e });
    }
    throw e;
  }
  return { path, data, sha256: await sha256Hex(data) };
}

/** The last component of a `/`- or `\`-separated path. */
export function baseName(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, "");
  return trimmed.slice(Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\")) + 1);
}

/** `name` without its last extension (`"a.tar.gz"` gives `"a.tar"`). */
export function stripExtension(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}

/**
 * The `files` list of a data set built from files the user named: each is
 * listed by its base name (so moving the files does not change the content
 * hash), or by its path as given when two files share a base name.
 *
 * @param files the files read
 * @returns path, sha256 and size of each, sorted by path
 */
export function describeUserFiles(files: readonly UserFile[]): DatasetFile[] {
  const bases = files.map((f) => baseName(f.path));
  const unique = new Set(bases).size === bases.length;
  return files
    .map((f, i) => ({
      path: unique ? bases[i]! : f.path.replaceAll("\\", "/"),
      sha256: f.sha256,
      bytes: f.data.length,
    }))
    .sort((a, b) => compareStrings(a.path, b.path));
}

/** Orders strings by UTF-16 code units (locale-independent). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Checks a `testFraction` option: a finite number in `[0, 1)`.
 *
 * @param fraction the option's value, `undefined` for the default
 * @returns the fraction to use
 */
export function checkTestFraction(fraction: number | undefined): number {
  const f = fraction ?? DEFAULT_TEST_FRACTION;
  if (typeof f !== "number" || !Number.isFinite(f) || f < 0 || f >= 1) {
    throw new RangeError(`testFraction must be a number in [0, 1), got ${String(fraction)}`);
  }
  return f;
}

/**
 * Chooses the held-out test items deterministically: within each group
 * (class), the `round(fraction * n)` items whose `sha256(key)` is smallest
 * (ties broken by key) go to the test split, but never all items of a group
 * (at least one stays for training). The choice depends only on the keys,
 * the groups and the fraction: not on the order of the items, nor on a seed.
 *
 * @param keys a stable identifier of each item (a relative path, a row number)
 * @param groups the group of each item (`keys.length` values), or `undefined`
 *   for one group holding everything
 * @param fraction the fraction to hold out, in `[0, 1)`
 * @returns `keys.length` flags, 1 for a test item
 */
export function holdOutMask(
  keys: readonly string[],
  groups: ArrayLike<number> | undefined,
  fraction: number,
): Uint8Array {
  checkTestFraction(fraction);
  const mask = new Uint8Array(keys.length);
  const byGroup = new Map<number, number[]>();
  for (let i = 0; i < keys.length; i++) {
    const g = groups === undefined ? 0 : groups[i]!;
    let members = byGroup.get(g);
    if (members === undefined) byGroup.set(g, members = []);
    members.push(i);
  }
  for (const members of byGroup.values()) {
    const count = Math.min(Math.round(fraction * members.length), members.length - 1);
    if (count <= 0) continue;
    const ranked = members.map((i) => ({ i, h: createHash("sha256").update(keys[i]!).digest("hex") }));
    ranked.sort((a, b) => compareStrings(a.h, b.h) || compareStrings(keys[a.i]!, keys[b.i]!));
    for (let r = 0; r < count; r++) mask[ranked[r]!.i] = 1;
  }
  return mask;
}
