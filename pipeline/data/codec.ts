/**
 * Byte-level helpers shared by the loaders: hashing, gzip and Latin-1.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { formatError } from "./errors.ts";

/** Lower-case hex sha256 of `bytes`. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    bytes as Uint8Array<ArrayBuffer>,
  );
  return toHex(new Uint8Array(digest));
}

/** Lower-case hex md5 of `bytes`. */
export function md5Hex(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}

/** Lower-case hex sha256 of the UTF-8 encoding of `text`. */
export function sha256OfText(text: string): Promise<string> {
  return sha256Hex(new TextEncoder().encode(text));
}

function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/**
 * Decompresses gzip data. A damaged or truncated stream raises a `format`
 * {@link DataError} naming `file`.
 */
export function gunzip(bytes: Uint8Array, file: string): Uint8Array {
  let out: Uint8Array;
  try {
    out = gunzipSync(bytes);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return formatError(file, `it cannot be gunzipped (${why})`);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

const windows1252 = new TextDecoder("windows-1252");

/**
 * Decodes ISO-8859-1 (Latin-1): every byte becomes the code point of the
 * same value. (`TextDecoder("latin1")` is really windows-1252, which differs
 * for bytes 0x80..0x9F, so it is only used as a fast path when no such
 * difference shows up.)
 */
export function decodeLatin1(bytes: Uint8Array): string {
  const fast = windows1252.decode(bytes);
  // windows-1252 maps some bytes 0x80..0x9F above U+00FF; only then differ.
  if (!/[\u0100-\uffff]/.test(fast)) return fast;
  const parts: string[] = [];
  const chunk = 8192;
  for (let i = 0; i < bytes.length; i += chunk) {
    parts.push(
      String.fromCharCode(
        ...bytes.subarray(i, Math.min(i + chunk, bytes.length)),
      ),
    );
  }
  return parts.join("");
}
