/**
 * Small assertion helpers on top of `node:assert/strict` (JSR's std is not
 * reachable from our machines).
 *
 * @module
 */
import nodeAssert from "node:assert/strict";

/** Asserts that a condition holds. */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  nodeAssert.ok(condition, message);
}

/** Asserts deep equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Asserts |actual - expected| <= tolerance. */
export function assertAlmostEquals(actual: number, expected: number, tolerance: number, message?: string): void {
  nodeAssert.ok(
    Math.abs(actual - expected) <= tolerance,
    message ?? `expected ${expected} ± ${tolerance}, got ${actual}`,
  );
}

/** Asserts that `fn` throws (or rejects) with a message matching `pattern`. */
export async function assertRejects(fn: () => unknown, pattern: RegExp): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    nodeAssert.match((e as Error).message, pattern);
    return e as Error;
  }
  throw new nodeAssert.AssertionError({ message: `expected an error matching ${pattern}` });
}
