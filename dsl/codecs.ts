/**
 * Small io-ts codecs shared by experiment configs, and a reporter that turns
 * decoding errors into one line per problem, each naming its path.
 *
 * @module
 */
import * as t from "io-ts";

interface PositiveIntBrand {
  readonly PositiveInt: unique symbol;
}
/** An integer >= 1. */
export const PositiveInt = t.brand(
  t.number,
  (n): n is t.Branded<number, PositiveIntBrand> => Number.isInteger(n) && n >= 1,
  "PositiveInt",
);
/** An integer >= 1. */
export type PositiveInt = t.TypeOf<typeof PositiveInt>;

interface NonNegativeIntBrand {
  readonly NonNegativeInt: unique symbol;
}
/** An integer >= 0. */
export const NonNegativeInt = t.brand(
  t.number,
  (n): n is t.Branded<number, NonNegativeIntBrand> => Number.isInteger(n) && n >= 0,
  "NonNegativeInt",
);
/** An integer >= 0. */
export type NonNegativeInt = t.TypeOf<typeof NonNegativeInt>;

interface PositiveNumberBrand {
  readonly PositiveNumber: unique symbol;
}
/** A finite number > 0. */
export const PositiveNumber = t.brand(
  t.number,
  (n): n is t.Branded<number, PositiveNumberBrand> => Number.isFinite(n) && n > 0,
  "PositiveNumber",
);

interface NonNegativeNumberBrand {
  readonly NonNegativeNumber: unique symbol;
}
/** A finite number >= 0. */
export const NonNegativeNumber = t.brand(
  t.number,
  (n): n is t.Branded<number, NonNegativeNumberBrand> => Number.isFinite(n) && n >= 0,
  "NonNegativeNumber",
);

interface ProbabilityBrand {
  readonly Probability: unique symbol;
}
/** A number in [0, 1). */
export const DropRate = t.brand(
  t.number,
  (n): n is t.Branded<number, ProbabilityBrand> => Number.isFinite(n) && n >= 0 && n < 1,
  "Probability",
);

interface UnitIntervalBrand {
  readonly UnitInterval: unique symbol;
}
/** A number in (0, 1], e.g. a target accuracy. */
export const UnitInterval = t.brand(
  t.number,
  (n): n is t.Branded<number, UnitIntervalBrand> => Number.isFinite(n) && n > 0 && n <= 1,
  "UnitInterval",
);

const expectations: Record<string, string> = {
  UnitInterval: "a number in (0, 1]",
  PositiveInt: "an integer >= 1",
  NonNegativeInt: "an integer >= 0",
  PositiveNumber: "a number > 0",
  NonNegativeNumber: "a number >= 0",
  Probability: "a number in [0, 1)",
};

/**
 * Formats io-ts errors as one line per problem: `path: expected X, got Y`.
 * For unions, only the deepest failing branch is reported per path.
 *
 * @param errors the decoder's errors
 * @returns deduplicated messages, in order
 */
export function formatDecodeErrors(errors: t.Errors): string[] {
  const lines = new Set<string>();
  for (const e of errors) {
    const keys = e.context.map((c) => c.key).filter((k) => k !== "");
    // Union branches add numeric keys that are not part of the user's path.
    const path: string[] = [];
    for (let i = 0; i < e.context.length; i++) {
      const c = e.context[i];
      const parent = e.context[i - 1];
      if (!c || c.key === "") continue;
      if (parent && (parent.type instanceof t.UnionType || parent.type instanceof t.IntersectionType)) continue;
      // A sub-codec looking at the same value (an intersection member inside a custom type) adds no path step.
      if (parent && /^\d+$/.test(c.key) && c.actual === parent.actual) continue;
      path.push(c.key);
    }
    const last = e.context[e.context.length - 1];
    const name = last ? expectations[last.type.name] ?? last.type.name : "a value";
    const expected = name.length > 100 ? `${name.slice(0, 97)}...` : name;
    const where = path.length > 0 ? path.join(".") : keys.length > 0 ? keys.join(".") : "(root)";
    lines.add(
      e.message !== undefined
        ? `${where}: ${e.message}`
        : (e.value === undefined
          ? `${where}: required field is missing (expected ${expected})`
          : `${where}: expected ${expected}, got ${JSON.stringify(e.value)}`),
    );
  }
  return [...lines];
}
