/**
 * Small io-ts codecs shared by experiment configs, and a reporter that turns
 * decoding errors into one line per problem, each naming its path.
 *
 * @module
 */
import * as E from "fp-ts/Either.js";
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
  string: "a string",
  number: "a number",
  boolean: "true or false",
};

/** A value as a message shows it: JSON, except numbers JSON cannot write (NaN, Infinity). */
function show(value: unknown): string {
  return typeof value === "number" && !Number.isFinite(value) ? String(value) : JSON.stringify(value);
}

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
          : `${where}: expected ${expected}, got ${show(e.value)}`),
    );
  }
  return [...lines];
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u);

/**
 * The field names a codec made of `t.type`, `t.partial`, `t.strict`,
 * `t.exact`, `t.readonly`, refinements, intersections and {@link strictFields}
 * knows, in order; undefined for any other codec.
 *
 * @param codec the codec
 * @returns its field names, or undefined
 */
export function fieldsOf(codec: t.Any): readonly string[] | undefined {
  if (codec instanceof StrictFieldsType) return codec.fields;
  if (codec instanceof t.InterfaceType || codec instanceof t.PartialType) return Object.keys(codec.props);
  if (codec instanceof t.ExactType || codec instanceof t.RefinementType || codec instanceof t.ReadonlyType) {
    return fieldsOf(codec.type);
  }
  if (codec instanceof t.IntersectionType) {
    const members = (codec.types as t.Any[]).map(fieldsOf);
    if (members.some((m) => m === undefined)) return undefined;
    return [...new Set(members.flatMap((m) => m ?? []))];
  }
  return undefined;
}

/** A codec that also rejects the fields its inner codec does not know (see {@link strictFields}). */
export class StrictFieldsType<C extends t.Any> extends t.Type<t.TypeOf<C>, t.OutputOf<C>, unknown> {
  /** Tells this codec apart from io-ts's own, as their `_tag`s do (e.g. "InterfaceType"). */
  readonly _tag = "StrictFieldsType" as const;
  /**
   * Wraps an object codec (prefer {@link strictFields}, which finds its fields).
   *
   * @param codec the object codec that checks the known fields
   * @param fields the codec's field names, listed in messages
   * @param also fields accepted besides, not listed in messages (e.g. a `_tag`)
   */
  constructor(readonly codec: C, readonly fields: readonly string[], readonly also: readonly string[]) {
    const known = new Set([...fields, ...also]);
    // Fields named with a leading "_" (tags) are the library's, not the user's: not listed.
    const message = `unknown field (known fields: ${fields.filter((f) => !f.startsWith("_")).join(", ")})`;
    super(
      codec.name,
      (u): u is t.TypeOf<C> => codec.is(u) && isRecord(u) && Object.keys(u).every((k) => known.has(k)),
      (u, c) => {
        const inner = codec.validate(u, c) as t.Validation<t.TypeOf<C>>;
        if (!isRecord(u)) return inner;
        const extra: t.ValidationError[] = Object.keys(u).filter((k) => !known.has(k)).map((k) => ({
          value: u[k],
          context: [...c, { key: k, type: t.never, actual: u[k] }],
          message,
        }));
        if (extra.length === 0) return inner;
        return E.left([...extra, ...(E.isLeft(inner) ? inner.left : [])]);
      },
      (a) => codec.encode(a),
    );
  }
}

/**
 * Makes an object codec strict: a field it does not know is an error
 * (`train.lr: unknown field (known fields: epochs, batchSize, ...)`), reported
 * with every other problem of the value, instead of being ignored (io-ts's
 * `t.type`) or silently dropped (`t.strict`/`t.exact`). Use it for every
 * object of a configuration, so a misspelt field fails at any depth.
 *
 * @param codec `t.type`, `t.partial`, `t.strict`, or an intersection of them
 * @param also fields accepted besides the codec's own, not listed in messages (e.g. a `_tag`)
 * @returns the strict codec, with the same static types
 */
export function strictFields<C extends t.Any>(codec: C, also: readonly string[] = []): StrictFieldsType<C> {
  const fields = fieldsOf(codec);
  if (fields === undefined) throw new Error(`strictFields: ${codec.name} is not an object codec`);
  return new StrictFieldsType(codec, fields, also);
}

/**
 * A union of object codecs told apart by one field (e.g. a layer's `kind`):
 * the value is checked against the member its tag names only, so a bad field
 * is reported once, not once per member of the union.
 *
 * @param name the codec's name
 * @param tag the field that names the member
 * @param members the codec of each tag value
 * @returns the codec
 */
export function taggedUnion<M extends Record<string, t.Mixed>>(
  name: string,
  tag: string,
  members: M,
): t.Type<t.TypeOf<M[keyof M]>, t.OutputOf<M[keyof M]>, unknown> {
  const names = Object.keys(members).join(", ");
  const memberOf = (u: unknown): t.Mixed | undefined => {
    const k = isRecord(u) ? u[tag] : undefined;
    return typeof k === "string" && Object.hasOwn(members, k) ? members[k] : undefined;
  };
  return new t.Type<t.TypeOf<M[keyof M]>, t.OutputOf<M[keyof M]>, unknown>(
    name,
    (u): u is t.TypeOf<M[keyof M]> => memberOf(u)?.is(u) ?? false,
    (u, c) => {
      if (!isRecord(u)) return t.failure(u, c, `expected an object with a ${tag}, got ${JSON.stringify(u)}`);
      const member = memberOf(u);
      if (member) return member.validate(u, c);
      const k = u[tag];
      return t.failure(
        k,
        [...c, { key: tag, type: t.string, actual: k }],
        k === undefined
          ? `required field is missing (expected one of ${names})`
          : `expected one of ${names}, got ${JSON.stringify(k)}`,
      );
    },
    (a) => (memberOf(a)?.encode(a) ?? a) as t.OutputOf<M[keyof M]>,
  );
}

/**
 * Makes a tuple codec strict: an array with more elements than the tuple has
 * is an error (io-ts's `t.tuple` drops them silently).
 *
 * @param codec a `t.tuple`
 * @returns the strict codec, with the same static types
 */
export function strictTuple<C extends t.TupleType<[t.Mixed, ...t.Mixed[]]>>(
  codec: C,
): t.Type<t.TypeOf<C>, t.OutputOf<C>, unknown> {
  const n = codec.types.length;
  return new t.Type<t.TypeOf<C>, t.OutputOf<C>, unknown>(
    codec.name,
    (u): u is t.TypeOf<C> => codec.is(u) && Array.isArray(u) && u.length === n,
    (u, c) =>
      Array.isArray(u) && u.length > n
        ? t.failure(u, c, `expected ${n} elements, got ${u.length} (${JSON.stringify(u)})`)
        : codec.validate(u, c) as t.Validation<t.TypeOf<C>>,
    (a) => codec.encode(a),
  );
}
