/**
 * Locating, verifying and downloading data files.
 *
 * Each loader describes its files in a {@link DatasetSpec}: the path of each
 * file relative to the data directory, its official size and checksums, and
 * where to download it from. {@link fetchDatasetFiles} makes sure the files
 * are present (downloading missing ones when allowed), reads them and checks
 * them against the chosen {@link ChecksumPolicy}.
 *
 * @module
 */

import { gunzip, md5Hex, sha256Hex, sha256OfText } from "./codec.ts";
import { DataError } from "./errors.ts";
import { readTar } from "./tar.ts";
import type { DatasetFile } from "./types.ts";

/**
 * Which checksums files must match:
 * - `"official"`: the published size and sha256 in the loader's table (md5
 *   where no sha256 is known);
 * - `"skip"`: none (files are still parsed and hashed);
 * - a record from path to sha256 hex: exactly those values. Keys are paths
 *   relative to the data directory (`"mnist/t10k-labels-idx1-ubyte.gz"`), or
 *   the archive's file name for a downloaded archive
 *   (`"cifar-10-binary.tar.gz"`). A file without an entry is rejected.
 */
export type ChecksumPolicy =
  | "official"
  | "skip"
  | Readonly<Record<string, string>>;

/** Options common to every loader. */
export interface LoadOptions {
  /** Data directory; default: env `DBAL_DATA`, else the per-user cache. */
  readonly dataDir?: string | undefined;
  /** Download missing files (default `true`). */
  readonly download?: boolean | undefined;
  /** `fetch` used for downloads (default `globalThis.fetch`). */
  readonly fetch?: typeof fetch | undefined;
  /** Replaces the official download location (a base URL), e.g. in tests. */
  readonly baseUrl?: string | undefined;
  /** Receives progress messages (downloads); default: silent. */
  readonly log?: ((msg: string) => void) | undefined;
  /** Which checksums to enforce (default `"official"`). */
  readonly checksums?: ChecksumPolicy | undefined;
}

/** One file of a data set, with its official size and checksums if known. */
export interface FileSpec {
  /** Path relative to the data directory (or archive name), `/`-separated. */
  readonly path: string;
  /** Size in bytes. */
  readonly bytes?: number;
  /** Lower-case hex sha256. */
  readonly sha256?: string;
  /** Lower-case hex md5. */
  readonly md5?: string;
}

/** Where missing files come from. */
export type FileSource =
  | {
    /** Each file is fetched on its own from `<base>/<file name>`. */
    readonly kind: "files";
    /** Base URLs, tried in order (official first, then mirrors). */
    readonly urls: readonly string[];
  }
  | {
    /** All files come out of one (optionally gzipped) tar archive. */
    readonly kind: "archive";
    /** The archive; `path` is its file name, used under a `baseUrl` too. */
    readonly archive: FileSpec;
    /** Full URLs of the archive, tried in order. */
    readonly urls: readonly string[];
    /** Directory, relative to the data directory, the members unpack into. */
    readonly into: string;
  };

/** Everything the file layer needs to know about a data set. */
export interface DatasetSpec {
  /** Human-readable name used in messages, e.g. `"MNIST"`. */
  readonly title: string;
  /** The files the loader reads. */
  readonly files: readonly FileSpec[];
  /** Where to download them. */
  readonly source: FileSource;
}

/** A file that was read and verified. */
export interface LoadedFile {
  /** Path relative to the data directory. */
  readonly path: string;
  /** Absolute path on disk (for messages). */
  readonly absPath: string;
  /** File contents. */
  readonly data: Uint8Array;
  /** sha256 hex of `data`. */
  readonly sha256: string;
}

/** Reads an environment variable, or `undefined` when unset or not allowed. */
function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

function isAbsolute(p: string): boolean {
  return p.startsWith("/") || p.startsWith("\\") || /^[A-Za-z]:[\\/]/.test(p);
}

/** Joins path pieces with `/`, dropping duplicate separators. */
export function joinPath(...parts: string[]): string {
  return parts
    .filter((p) => p !== "")
    .map((
      p,
      i,
    ) => (i === 0 ? p.replace(/[\\/]+$/, "") : p.replace(/^[\\/]+|[\\/]+$/g, "")))
    .join("/") || "/";
}

function dirName(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? (i === 0 ? "/" : ".") : p.slice(0, i);
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

/** The data directory and what chose it. */
interface DataDirChoice {
  readonly dir: string;
  readonly origin: string;
}

function chooseDataDir(
  opts: { readonly dataDir?: string | undefined },
  env: (name: string) => string | undefined,
): DataDirChoice {
  const absolute = (p: string) => (isAbsolute(p) ? p : joinPath(Deno.cwd(), p));
  if (opts.dataDir !== undefined && opts.dataDir !== "") {
    return {
      dir: absolute(opts.dataDir),
      origin: "set by --data-dir",
    };
  }
  const fromEnv = env("DBAL_DATA");
  if (fromEnv !== undefined && fromEnv !== "") {
    return {
      dir: absolute(fromEnv),
      origin: "set by DBAL_DATA",
    };
  }
  const xdg = env("XDG_CACHE_HOME");
  if (xdg !== undefined && isAbsolute(xdg)) {
    return {
      dir: joinPath(xdg, "dbal", "data"),
      origin: "the default per-user cache",
    };
  }
  const home = env("HOME") ?? env("USERPROFILE");
  if (home !== undefined && home !== "") {
    return {
      dir: joinPath(home, ".cache", "dbal", "data"),
      origin: "the default per-user cache",
    };
  }
  throw new DataError(
    "missing",
    "No data directory is set and no home directory is known, so there is " +
      "no default cache. Pass --data-dir or set DBAL_DATA.",
  );
}

/**
 * The data directory to use, as an absolute path: the `dataDir` option (the
 * CLI's `--data-dir`), else env `DBAL_DATA`, else `$XDG_CACHE_HOME/dbal/data`,
 * else `~/.cache/dbal/data`. `env` reads environment variables (injectable
 * for tests).
 */
export function resolveDataDir(
  opts: { readonly dataDir?: string | undefined } = {},
  env: (name: string) => string | undefined = readEnv,
): string {
  return chooseDataDir(opts, env).dir;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Formats a byte count with thousands separators. */
function fmtBytes(n: number): string {
  return n.toLocaleString("en-US");
}

/**
 * Checks `data` against `policy`; `problem` describes a mismatch in words
 * (`undefined` when it matches). Also returns the sha256, computed anyway.
 */
async function mismatch(
  data: Uint8Array,
  spec: FileSpec,
  policy: ChecksumPolicy,
  key: string,
): Promise<{ problem: string | undefined; sha256: string }> {
  const sha256 = await sha256Hex(data);
  if (policy === "skip") return { problem: undefined, sha256 };
  if (policy === "official") {
    if (spec.bytes !== undefined && spec.bytes !== data.length) {
      return {
        problem: `expected ${fmtBytes(spec.bytes)} bytes, found ${fmtBytes(data.length)}`,
        sha256,
      };
    }
    if (spec.sha256 !== undefined && spec.sha256 !== sha256) {
      return {
        problem: `expected sha256 ${spec.sha256}, got ${sha256}`,
        sha256,
      };
    }
    // md5 is only a fallback for files whose sha256 is not known.
    if (spec.sha256 === undefined && spec.md5 !== undefined) {
      const md5 = md5Hex(data);
      if (spec.md5 !== md5) {
        return { problem: `expected md5 ${spec.md5}, got ${md5}`, sha256 };
      }
    }
    return { problem: undefined, sha256 };
  }
  const want = policy[key];
  if (want === undefined) {
    return {
      problem: `the checksums option gives no sha256 for "${key}"`,
      sha256,
    };
  }
  if (want.toLowerCase() !== sha256) {
    return {
      problem: `expected sha256 ${want.toLowerCase()}, got ${sha256}`,
      sha256,
    };
  }
  return { problem: undefined, sha256 };
}

/** Writes `data` to `path` through a temporary file and a rename. */
async function writeAtomic(path: string, data: Uint8Array): Promise<void> {
  await Deno.mkdir(dirName(path), { recursive: true });
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** A failed download attempt: which URL and why. */
interface Attempt {
  readonly url: string;
  readonly why: string;
  readonly checksum: boolean;
}

/** Fetches `url` fully into memory; throws with a short reason on failure. */
async function download(
  url: string,
  fetchFn: typeof fetch,
): Promise<Uint8Array> {
  const res = await fetchFn(url);
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(
      `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`,
    );
  }
  return new Uint8Array(await res.arrayBuffer());
}

/** Downloads `urls` in turn until one gives bytes that pass the checks. */
async function downloadVerified(
  urls: readonly string[],
  spec: FileSpec,
  key: string,
  opts: LoadOptions,
  attempts: Attempt[],
): Promise<{ readonly data: Uint8Array; readonly url: string } | undefined> {
  const fetchFn = opts.fetch ?? globalThis.fetch;
  const policy = opts.checksums ?? "official";
  for (const url of urls) {
    opts.log?.(`Downloading ${url}`);
    let data: Uint8Array;
    try {
      data = await download(url, fetchFn);
    } catch (e) {
      attempts.push({
        url,
        why: e instanceof Error ? e.message : String(e),
        checksum: false,
      });
      continue;
    }
    const check = await mismatch(data, spec, policy, key);
    if (check.problem !== undefined) {
      attempts.push({
        url,
        why: `checksum mismatch: ${check.problem}`,
        checksum: true,
      });
      continue;
    }
    return { data, url };
  }
  return undefined;
}

function sourceUrls(source: FileSource, opts: LoadOptions): readonly string[] {
  if (opts.baseUrl === undefined) return source.urls;
  const base = opts.baseUrl.replace(/\/+$/, "");
  return source.kind === "files" ? [base] : [`${base}/${source.archive.path}`];
}

/** How to supply missing files by hand (the end of a sentence). */
function supplyHint(spec: DatasetSpec, dataDir: string): string {
  const how = spec.source.kind === "files"
    ? `put them into ${dataDir} yourself`
    : `unpack ${spec.source.archive.path} yourself so that the files land ` +
      `under ${joinPath(dataDir, spec.source.into)}`;
  return `${how}, or pass --data-dir (or set DBAL_DATA) to a ` +
    `directory that holds them at the same relative paths.`;
}

function downloadFailure(
  spec: DatasetSpec,
  choice: DataDirChoice,
  missing: readonly string[],
  attempts: readonly Attempt[],
): DataError {
  const code = attempts.length > 0 && attempts.every((a) => a.checksum) ? "checksum" : "download";
  const tried = attempts.map((a) => `${a.url} (${a.why})`).join("; ");
  return new DataError(
    code,
    `Could not download the ${spec.title} files ${missing.join(", ")} into ` +
      `${choice.dir} (${choice.origin}). Tried: ${tried}. ` +
      `None of these files was saved. To fix it, ${supplyHint(spec, choice.dir)}`,
  );
}

/** Downloads the missing files of `spec` into the data directory. */
async function downloadMissing(
  spec: DatasetSpec,
  choice: DataDirChoice,
  missing: readonly FileSpec[],
  opts: LoadOptions,
): Promise<void> {
  const names = missing.map((f) => f.path);
  const source = spec.source;
  const urls = sourceUrls(source, opts);
  if (source.kind === "files") {
    for (const [i, file] of missing.entries()) {
      const attempts: Attempt[] = [];
      const left = names.slice(i);
      const fileUrls = urls.map((u) => `${u.replace(/\/+$/, "")}/${baseName(file.path)}`);
      const got = await downloadVerified(
        fileUrls,
        file,
        file.path,
        opts,
        attempts,
      );
      if (got === undefined) {
        throw downloadFailure(spec, choice, left, attempts);
      }
      await writeAtomic(joinPath(choice.dir, file.path), got.data);
      opts.log?.(
        `Saved ${joinPath(choice.dir, file.path)} (${fmtBytes(got.data.length)} bytes)`,
      );
    }
    return;
  }
  const attempts: Attempt[] = [];
  const got = await downloadVerified(
    urls,
    source.archive,
    source.archive.path,
    opts,
    attempts,
  );
  if (got === undefined) throw downloadFailure(spec, choice, names, attempts);
  const archiveName = got.url;
  const tarBytes = /\.t?gz$/.test(source.archive.path) ? gunzip(got.data, archiveName) : got.data;
  const members = readTar(tarBytes, archiveName).filter((e) => e.type === "file");
  const found: { file: FileSpec; data: Uint8Array }[] = [];
  const absent: string[] = [];
  for (const file of missing) {
    const inner = file.path.slice(source.into.length + 1);
    const entry = members.find((m) => m.name === inner) ??
      members.find((m) => m.name.endsWith(`/${inner}`));
    if (entry === undefined) absent.push(inner);
    else found.push({ file, data: entry.data });
  }
  if (absent.length > 0) {
    const lacking = absent.join(", ");
    throw new DataError(
      "format",
      `The archive ${archiveName} lacks ${lacking}, so the ${spec.title} ` +
        `files could not be unpacked into ${choice.dir}; none was saved. To fix it, ` +
        supplyHint(spec, choice.dir),
    );
  }
  for (const { file, data } of found) {
    await writeAtomic(joinPath(choice.dir, file.path), data);
    opts.log?.(
      `Unpacked ${joinPath(choice.dir, file.path)} (${fmtBytes(data.length)} bytes)`,
    );
  }
}

/**
 * Makes sure every file of `spec` is in the data directory (downloading the
 * missing ones unless `opts.download === false`), then reads and verifies
 * them, in the order of `spec.files`.
 *
 * Throws a {@link DataError}: `missing` (absent, downloading off), `download`
 * (absent, download failed), `checksum` (a file or download does not match).
 */
export async function fetchDatasetFiles(
  spec: DatasetSpec,
  opts: LoadOptions = {},
): Promise<
  { readonly dataDir: string; readonly files: readonly LoadedFile[] }
> {
  const choice = chooseDataDir(opts, readEnv);
  const missing: FileSpec[] = [];
  for (const file of spec.files) {
    if (!(await exists(joinPath(choice.dir, file.path)))) missing.push(file);
  }
  if (missing.length > 0) {
    if (opts.download === false) {
      const where = sourceUrls(spec.source, opts).join(" or ");
      const list = missing.map((f) => f.path).join(", ");
      throw new DataError(
        "missing",
        `The ${spec.title} files ${list} are missing from ${choice.dir} ` +
          `(${choice.origin}), and downloading is turned off. ` +
          `Allow downloading (the source is ${where}). Otherwise, ` +
          supplyHint(spec, choice.dir),
      );
    }
    await downloadMissing(spec, choice, missing, opts);
  }
  const policy = opts.checksums ?? "official";
  // Every file is read and checked; the first bad one in the spec's order is reported, whatever finished first.
  const settled = await Promise.allSettled(
    spec.files.map(async (file): Promise<LoadedFile> => {
      const absPath = joinPath(choice.dir, file.path);
      const data = await Deno.readFile(absPath);
      const check = await mismatch(data, file, policy, file.path);
      if (check.problem !== undefined) {
        throw new DataError(
          "checksum",
          `Checksum mismatch for ${absPath}: ${check.problem}. The file is damaged, ` +
            `incomplete or a different version; delete it and load again to download ` +
            `it afresh, or replace it with a good copy.`,
        );
      }
      return { path: file.path, absPath, data, sha256: check.sha256 };
    }),
  );
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  const files = settled.map((r) => (r as PromiseFulfilledResult<LoadedFile>).value);
  return { dataDir: choice.dir, files };
}

/** The `files` list of a data set: path, sha256 and size, sorted by path. */
export function describeFiles(files: readonly LoadedFile[]): DatasetFile[] {
  return files
    .map((f) => ({ path: f.path, sha256: f.sha256, bytes: f.data.length }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The `contentHash` of a data set: sha256 hex of a canonical JSON text of the
 * data set name, its parameters (sorted by key) and the (path, sha256) pairs
 * of its files (sorted by path).
 */
export function computeContentHash(
  dataset: string,
  params: Readonly<Record<string, string | number | boolean>>,
  files: readonly DatasetFile[],
): Promise<string> {
  const sortedParams = Object.keys(params).sort().map((k) => [k, params[k]]);
  const pairs = [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => [f.path, f.sha256]);
  return sha256OfText(
    JSON.stringify({
      format: "dbal-data/1",
      dataset,
      params: sortedParams,
      files: pairs,
    }),
  );
}
