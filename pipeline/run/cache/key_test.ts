import { assert, assertEquals, assertRejects } from "../../../tests/asserts.ts";
import { canonicalJson, hashTypedArrays, isCacheKey, type StageIdentity, stageKey } from "./key.ts";

const DATA_KEY = "a".repeat(64);
const OTHER_KEY = "b".repeat(64);
const base: StageIdentity = {
  name: "train",
  version: 2,
  params: { lr: 0.001, epochs: 3 },
  seed: 7,
  inputs: [DATA_KEY],
};

async function sha256OfText(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("canonicalJson sorts keys at every level, keeps array order and writes no whitespace", () => {
  const text = canonicalJson({ b: { d: 1, c: [3, { f: 1, e: [2, 1] }] }, a: "x y", n: null, t: true, skip: undefined });
  assertEquals(text, '{"a":"x y","b":{"c":[3,{"e":[2,1],"f":1}],"d":1},"n":null,"t":true}');
  assertEquals(canonicalJson([1.5, -0, 1e21, "é\n"]), '[1.5,0,1e+21,"é\\n"]');
});

Deno.test("stageKey does not depend on the order of keys", async () => {
  const one = await stageKey({ ...base, params: { a: 1, b: { c: 2, d: 3 } } });
  const two = await stageKey({ ...base, params: { b: { d: 3, c: 2 }, a: 1 } });
  assertEquals(one, two);
  assert(isCacheKey(one));
  // Fields other than the identity's are ignored; an undefined seed is an absent one.
  assertEquals(await stageKey({ ...base, run: () => 0 } as StageIdentity), await stageKey(base));
  const { seed: _seed, ...noSeed } = base;
  assertEquals(await stageKey({ ...noSeed, seed: undefined }), await stageKey(noSeed));
});

Deno.test("stageKey changes with name, version, params, seed and inputs", async () => {
  const variants: StageIdentity[] = [
    base,
    { ...base, name: "train2" },
    { ...base, version: 3 },
    { ...base, params: { lr: 0.002, epochs: 3 } },
    { ...base, params: { lr: 0.001, epochs: 3, extra: null } },
    { ...base, params: { lr: "0.001", epochs: 3 } },
    { ...base, seed: 8 },
    { name: base.name, version: base.version, params: base.params, inputs: base.inputs },
    { ...base, inputs: [OTHER_KEY] },
    { ...base, inputs: [DATA_KEY, OTHER_KEY] },
    { ...base, inputs: [OTHER_KEY, DATA_KEY] },
    { ...base, inputs: [] },
  ];
  const keys = await Promise.all(variants.map(stageKey));
  assertEquals(new Set(keys).size, variants.length);
});

Deno.test("stageKey matches a known vector", async () => {
  const canonical = `{"inputs":["${DATA_KEY}"],"name":"train","params":{"epochs":3,"lr":0.001},"seed":7,"version":2}`;
  assertEquals(canonicalJson(base), canonical);
  const key = await stageKey(base);
  assertEquals(key, await sha256OfText(canonical));
  // Also from `printf '%s' "$canonical" | sha256sum`.
  assertEquals(key, "fd8ae093943e4d1cf9812a0a65db1e3d80e64b38caa4ad06bed190d4c2664a63");
});

Deno.test("stageKey rejects what it cannot hash, naming the path", async () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const cases: Array<[unknown, RegExp]> = [
    [{ train: { lr: NaN } }, /^params\.train\.lr: cannot hash NaN$/],
    [{ lr: Infinity }, /^params\.lr: cannot hash Infinity$/],
    [{ layers: [1, undefined, 3] }, /^params\.layers\[1\]: cannot hash undefined$/],
    [{ "odd key": [[-Infinity]] }, /^params\["odd key"\]\[0\]\[0\]: cannot hash -Infinity$/],
    [{ f: () => 1 }, /^params\.f: cannot hash a function$/],
    [{ s: Symbol("s") }, /^params\.s: cannot hash a symbol$/],
    [{ n: 10n }, /^params\.n: cannot hash a bigint/],
    [{ m: new Map() }, /^params\.m: cannot hash a Map/],
    [{ d: new Date(0) }, /^params\.d: cannot hash a Date/],
    [circular, /^params\.self: cannot hash a circular reference$/],
    [{ $typed: "Float32Array" }, /^params: the key "\$typed" is reserved/],
  ];
  for (const [params, pattern] of cases) {
    await assertRejects(() => stageKey({ ...base, params }), pattern);
  }
  assert((await assertRejects(() => canonicalJson({ x: NaN }), /^x: cannot hash NaN$/)) instanceof RangeError);
  assert((await assertRejects(() => canonicalJson(undefined), /^value: cannot hash undefined$/)) instanceof TypeError);
  await assertRejects(() => stageKey({ ...base, seed: NaN }), /^seed: cannot hash NaN$/);
  await assertRejects(() => stageKey({ ...base, inputs: ["not-a-key"] }), /^inputs\[0\]: expected a key/);
  await assertRejects(() => stageKey({ ...base, version: 1.5 }), /^version: expected a non-negative integer/);
  await assertRejects(() => stageKey({ ...base, name: "" }), /^name: expected a non-empty string/);
});

Deno.test("typed arrays are hashed by dtype and raw bytes", async () => {
  const w = new Float32Array([1, 2, 3]);
  const params = { w, shape: [3] };
  const hashes = await hashTypedArrays(params);
  const bytesHash = await crypto.subtle.digest("SHA-256", new Uint8Array(w.buffer));
  const hex = [...new Uint8Array(bytesHash)].map((b) => b.toString(16).padStart(2, "0")).join("");
  assertEquals(canonicalJson(params, hashes), `{"shape":[3],"w":{"$typed":"Float32Array","sha256":"${hex}"}}`);

  const keyOf = (p: unknown) => stageKey({ ...base, params: p });
  const key = await keyOf(params);
  assertEquals(await keyOf({ shape: [3], w: new Float32Array([1, 2, 3]) }), key);
  // Same bytes, other dtype; other values; a view hashes only its own bytes.
  assert(await keyOf({ w: new Int32Array(w.buffer), shape: [3] }) !== key);
  assert(await keyOf({ w: new Float32Array([1, 2, 4]), shape: [3] }) !== key);
  assertEquals(await keyOf({ w: new Float32Array([0, 1, 2, 3, 9]).subarray(1, 4), shape: [3] }), key);

  const missing = await assertRejects(() => canonicalJson({ w }), /^w: no sha256 given for this Float32Array/);
  assert(missing instanceof TypeError);
});
