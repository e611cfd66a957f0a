/**
 * Helpers for the data loader tests: temp dirs, gzip, a tar writer, a local
 * file server and assertions on {@link DataError}s. Not part of the API.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DataError, type DataErrorCode } from "./errors.ts";

/** Runs `fn` with a fresh temp directory, removed afterwards. */
export async function withTempDir<T>(
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "dbal-data-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes `files` (relative path -> bytes or text) under `dir`. */
export async function writeTree(
  dir: string,
  files: Readonly<Record<string, Uint8Array | string>>,
): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const path = `${dir}/${rel}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
  }
}

/** Every file path under `dir`, relative, sorted. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (sub: string) => {
    for await (const e of Deno.readDir(sub === "" ? dir : `${dir}/${sub}`)) {
      const rel = sub === "" ? e.name : `${sub}/${e.name}`;
      if (e.isDirectory) await walk(rel);
      else out.push(rel);
    }
  };
  await walk("");
  return out.sort();
}

/** gzip-compresses with the platform's CompressionStream. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** sha256 hex computed directly with WebCrypto. */
export async function sha256(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const digest = await crypto.subtle.digest(
    "SHA-256",
    data as Uint8Array<ArrayBuffer>,
  );
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** sha256 of each entry, keyed like the loaders' `checksums` option. */
export async function checksumsOf(
  files: Readonly<Record<string, Uint8Array | string>>,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(files)) out[k] = await sha256(v);
  return out;
}

/** Builds an uncompressed ustar archive of regular files. */
export function makeTar(
  entries: readonly { name: string; data: Uint8Array | string }[],
): Uint8Array {
  const enc = new TextEncoder();
  const blocks: Uint8Array[] = [];
  const put = (h: Uint8Array, at: number, text: string) => h.set(enc.encode(text), at);
  const octal = (n: number, width: number) => n.toString(8).padStart(width - 1, "0") + "\0";
  for (const e of entries) {
    const data = typeof e.data === "string" ? enc.encode(e.data) : e.data;
    const h = new Uint8Array(512);
    let name = e.name;
    let prefix = "";
    if (name.length > 100) {
      // ustar: split at a "/" so the prefix fits 155 bytes and the rest 100.
      let cut = -1;
      for (let i = name.indexOf("/"); i >= 0; i = name.indexOf("/", i + 1)) {
        if (i <= 155 && name.length - i - 1 <= 100) {
          cut = i;
          break;
        }
      }
      if (cut < 0) throw new Error(`name too long for ustar: ${name}`);
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
    }
    put(h, 0, name);
    put(h, 100, octal(0o644, 8));
    put(h, 108, octal(0, 8));
    put(h, 116, octal(0, 8));
    put(h, 124, octal(data.length, 12));
    put(h, 136, octal(0, 12));
    put(h, 148, "        ");
    put(h, 156, "0");
    put(h, 257, "ustar\u000000");
    put(h, 345, prefix);
    let sum = 0;
    for (const b of h) sum += b;
    put(h, 148, sum.toString(8).padStart(6, "0") + "\0 ");
    blocks.push(h);
    const padded = new Uint8Array(Math.ceil(data.length / 512) * 512);
    padded.set(data);
    blocks.push(padded);
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of blocks) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

/** A local HTTP server for download tests. */
export interface FileServer {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  readonly baseUrl: string;
  /** Request paths served so far, in order. */
  readonly requests: string[];
  /** Stops the server. */
  close(): Promise<void>;
}

/** Serves `files` (URL path without the leading `/` -> bytes); others 404. */
export function serveFiles(
  files: Readonly<Record<string, Uint8Array>>,
): Promise<FileServer> {
  const requests: string[] = [];
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) => {
        resolve({
          baseUrl: `http://127.0.0.1:${port}`,
          requests,
          close: () => server.shutdown(),
        });
      },
    }, (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname.slice(1));
      requests.push(path);
      const body = files[path];
      return body === undefined
        ? new Response("not found", { status: 404 })
        : new Response(body as Uint8Array<ArrayBuffer>);
    });
  });
}

/**
 * Asserts that `promise` rejects with a {@link DataError} of `code` whose
 * message contains every string in `parts`; returns the error.
 */
export async function assertDataError(
  promise: Promise<unknown>,
  code: DataErrorCode,
  ...parts: string[]
): Promise<DataError> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(
    error instanceof DataError,
    `expected a DataError, got ${String(error)}`,
  );
  assert.equal(error.code, code, error.message);
  for (const part of parts) {
    assert.ok(
      error.message.includes(part),
      `message lacks ${JSON.stringify(part)}: ${error.message}`,
    );
  }
  return error;
}

/**
 * The real data directory (env `DBAL_DATA`, else `../shared/data` beside the project) when
 * it holds `probe` (a relative path), else `undefined`: real-data tests are
 * ignored then.
 */
export function realDataDir(probe: string): string | undefined {
  let dir: string | undefined;
  try {
    dir = Deno.env.get("DBAL_DATA");
  } catch {
    dir = undefined;
  }
  dir = dir === undefined || dir === "" ? "../shared/data" : dir;
  try {
    Deno.statSync(`${dir}/${probe}`);
    return dir;
  } catch {
    return undefined;
  }
}
