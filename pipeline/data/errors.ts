/**
 * The one error type the data loaders throw.
 *
 * @module
 */

/**
 * What went wrong while loading data:
 * - `missing`: files are absent and downloading is off;
 * - `checksum`: a file (or a download) does not match its expected checksum;
 * - `format`: a file is not in the expected format (e.g. truncated);
 * - `download`: files are absent and could not be downloaded.
 */
export type DataErrorCode = "missing" | "checksum" | "format" | "download";

/** Error raised by the data loaders; `code` tells the kind of failure. */
export class DataError extends Error {
  /** Discriminant shared by every instance, for tagged-union style matching. */
  readonly _tag = "DataError" as const;
  /** Kind of failure. */
  readonly code: DataErrorCode;

  /**
   * @param code kind of failure
   * @param message full sentence(s) naming the file and what to do
   * @param options standard error options (`cause`)
   */
  constructor(code: DataErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DataError";
    this.code = code;
  }
}

/** True when `e` is a {@link DataError}, optionally of the given code. */
export function isDataError(
  e: unknown,
  code?: DataErrorCode,
): e is DataError {
  return e instanceof DataError && (code === undefined || e.code === code);
}

/** Throws a `format` error about `file`. */
export function formatError(file: string, problem: string): never {
  throw new DataError(
    "format",
    `Cannot read ${file}: ${problem}. The file is damaged, truncated or ` +
      `not the expected data file; delete it and download it again.`,
  );
}
