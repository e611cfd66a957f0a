/**
 * Input checks shared by the pure acquisition code: a row-major matrix of
 * finite numbers with the stated shape.
 *
 * @module
 */

/**
 * Checks a row-major [rows, cols] matrix: a valid shape, the matching
 * length, and finite values.
 *
 * @param fn the caller, for the message
 * @param what the argument, for the message
 * @param data the values
 * @param rows rows (>= 0)
 * @param cols columns (>= 1)
 * @throws RangeError naming the caller, the argument and the row at fault
 */
export function checkMatrix(fn: string, what: string, data: ArrayLike<number>, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 1) {
    throw new RangeError(`${fn}: ${what} shape [${rows}, ${cols}] is not valid`);
  }
  if (data.length !== rows * cols) {
    throw new RangeError(`${fn}: ${what} holds ${data.length} values, expected ${rows} x ${cols} = ${rows * cols}`);
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new RangeError(`${fn}: ${what} row ${Math.floor(i / cols)} holds a non-finite value (${data[i]})`);
    }
  }
}
