/**
 * A small in-memory tar reader (ustar, GNU long names, pax `path`), enough
 * to unpack the official CIFAR-10 and Reuters-21578 archives.
 *
 * @module
 */

import { formatError } from "./errors.ts";

/** One member of a tar archive. */
export interface TarEntry {
  /** Member path as stored, without a leading `./`. */
  readonly name: string;
  /** `file` for regular files, `directory`, or `other` (links, devices...). */
  readonly type: "file" | "directory" | "other";
  /** Contents (a view into the archive bytes; empty for non-files). */
  readonly data: Uint8Array;
}

const BLOCK = 512;
const latin1 = new TextDecoder("windows-1252");

/** Reads a NUL-terminated string field. */
function field(block: Uint8Array, start: number, length: number): string {
  const bytes = block.subarray(start, start + length);
  const end = bytes.indexOf(0);
  return latin1.decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/** Reads a numeric field: octal text, or GNU base-256 when the top bit is set. */
function numberField(block: Uint8Array, start: number, length: number): number {
  const first = block[start] ?? 0;
  if (first & 0x80) {
    let n = first & 0x7f;
    for (let i = start + 1; i < start + length; i++) {
      n = n * 256 + (block[i] ?? 0);
    }
    return n;
  }
  const text = field(block, start, length).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) return NaN;
  return parseInt(text, 8);
}

function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** Header checksum: byte sum with the checksum field read as spaces. */
function headerChecksum(block: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) {
    sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  }
  return sum;
}

/** Extracts the `path` record of a pax extended header, if any. */
function paxPath(data: Uint8Array): string | undefined {
  const text = new TextDecoder().decode(data);
  let i = 0;
  let path: string | undefined;
  while (i < text.length) {
    const space = text.indexOf(" ", i);
    if (space < 0) break;
    const len = parseInt(text.slice(i, space), 10);
    if (!(len > 0)) break;
    const record = text.slice(space + 1, i + len - 1);
    const eq = record.indexOf("=");
    if (eq > 0 && record.slice(0, eq) === "path") path = record.slice(eq + 1);
    i += len;
  }
  return path;
}

/**
 * Lists the members of an uncompressed tar archive. Raises a `format`
 * {@link DataError} naming `archive` on a bad header or a truncated member.
 */
export function readTar(bytes: Uint8Array, archive: string): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  let longName: string | undefined;
  let paxName: string | undefined;
  while (offset + BLOCK <= bytes.length) {
    const header = bytes.subarray(offset, offset + BLOCK);
    if (isZeroBlock(header)) break;
    const stored = numberField(header, 148, 8);
    if (stored !== headerChecksum(header)) {
      formatError(
        archive,
        `the tar header at byte ${offset} has a bad checksum`,
      );
    }
    const size = numberField(header, 124, 12);
    if (!Number.isFinite(size)) {
      formatError(archive, `the tar member at byte ${offset} has a bad size`);
    }
    const start = offset + BLOCK;
    if (start + size > bytes.length) {
      formatError(
        archive,
        `the tar member at byte ${offset} needs ${size} bytes but the archive ` +
          `ends after ${bytes.length - start}`,
      );
    }
    const data = bytes.subarray(start, start + size);
    offset = start + Math.ceil(size / BLOCK) * BLOCK;

    const flag = String.fromCharCode(header[156]!);
    if (flag === "L") {
      longName = field(data, 0, data.length);
      continue;
    }
    if (flag === "x") {
      paxName = paxPath(data) ?? paxName;
      continue;
    }
    if (flag === "g") continue;

    let name = field(header, 0, 100);
    // POSIX ustar ("ustar\0") keeps a path prefix; GNU ("ustar  ") does not.
    if (field(header, 257, 6) === "ustar" && header[262] === 0) {
      const prefix = field(header, 345, 155);
      if (prefix !== "") name = `${prefix}/${name}`;
    }
    name = paxName ?? longName ?? name;
    longName = undefined;
    paxName = undefined;
    while (name.startsWith("./")) name = name.slice(2);

    const type = flag === "0" || flag === "\0" || flag === "7" ? "file" : flag === "5" ? "directory" : "other";
    entries.push({
      name,
      type,
      data: type === "file" ? data : new Uint8Array(0),
    });
  }
  return entries;
}
