import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../../../tests/asserts.ts";
import { sha256Hex, sha256HexOfText } from "./_sha256.ts";
import { FIXTURE_KEYS, fixtureKey, fixtureValue, sameEntry } from "./_store_writer_fixture.ts";
import { type Entry, openStore, type StoreOptions } from "./store.ts";

async function withStore(
  fn: (ctx: { dir: string; store: Awaited<ReturnType<typeof openStore>>; warnings: string[] }) => Promise<void>,
  options: StoreOptions = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "dbal_store_test_" });
  const warnings: string[] = [];
  try {
    const store = await openStore(dir, { warn: (m) => warnings.push(m), ...options });
    await fn({ dir, store, warnings });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const keyOf = (name: string) => sha256HexOfText(name);
const entryDir = (dir: string, key: string) => join(dir, key.slice(0, 2), key);

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

function bytesOf(data: ArrayBufferView): number[] {
  return [...new Uint8Array(data.buffer, data.byteOffset, data.byteLength)];
}

function sample(): Entry {
  const f32 = new Float32Array([1.5, -0, NaN, Infinity, -3.4e38, 1e-45]);
  const f64 = new Float64Array([Math.PI, -0, NaN, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE]);
  // A NaN with a payload survives: arrays are stored as raw bytes.
  new Uint32Array(f32.buffer)[2] = 0x7fc0_1234;
  return {
    json: { accuracy: 0.97, rounds: [1, 2, 3], nested: { b: null, a: "é" }, ok: true },
    arrays: {
      w0: { data: f32, shape: [2, 3] },
      idx: { data: new Int32Array([0, -1, 2147483647, -2147483648]), shape: [4] },
      mask: { data: new Uint8Array([0, 255, 7]), shape: [3, 1] },
      "loss_N.v2": { data: f64, shape: [6] },
      scalar: { data: new Float32Array([42]), shape: [] },
      empty: { data: new Int32Array(0), shape: [0, 5] },
    },
  };
}

function assertSameEntry(actual: Entry | undefined, expected: Entry): void {
  assert(actual !== undefined, "expected a hit");
  assertEquals(actual.json, expected.json);
  assertEquals(Object.keys(actual.arrays).sort(), Object.keys(expected.arrays).sort());
  for (const [name, want] of Object.entries(expected.arrays)) {
    const got = actual.arrays[name];
    assert(got !== undefined, name);
    assertEquals(got.data.constructor, want.data.constructor, name);
    assertEquals(got.shape, want.shape, name);
    assertEquals(bytesOf(got.data), bytesOf(want.data), name);
  }
}

Deno.test("put then get round-trips json and every array type bit-exactly", async () => {
  await withStore(async ({ dir, store, warnings }) => {
    const key = await keyOf("round trip");
    const value = sample();
    assertEquals(await store.put(key, "train", value), "written");
    assertSameEntry(await store.get(key), value);
    assert(await store.has(key));

    // Layout: <dir>/<key[0..2]>/<key>/ with meta.json, value.json and one .bin per array.
    const files = [];
    for await (const item of Deno.readDir(entryDir(dir, key))) files.push(item.name);
    assertEquals(files.sort(), [
      "empty.bin",
      "idx.bin",
      "loss_N.v2.bin",
      "mask.bin",
      "meta.json",
      "scalar.bin",
      "value.json",
      "w0.bin",
    ]);
    const meta = JSON.parse(await Deno.readTextFile(join(entryDir(dir, key), "meta.json")));
    assertEquals([meta.key, meta.stage, meta.format], [key, "train", "dbal-cache/1"]);
    assert(!Number.isNaN(Date.parse(meta.created)));
    const w0 = await Deno.readFile(join(entryDir(dir, key), "w0.bin"));
    assertEquals(meta.arrays.w0, {
      file: "w0.bin",
      dtype: "float32",
      shape: [2, 3],
      bytes: 24,
      sha256: await sha256Hex(w0),
    });
    const valueJson = await Deno.readFile(join(entryDir(dir, key), "value.json"));
    assertEquals(meta.json, { file: "value.json", bytes: valueJson.byteLength, sha256: await sha256Hex(valueJson) });
    assertEquals(
      new TextDecoder().decode(valueJson),
      '{"accuracy":0.97,"nested":{"a":"é","b":null},"ok":true,"rounds":[1,2,3]}',
    );

    // A view into a larger buffer stores only its own elements.
    const key2 = await keyOf("view");
    const view = new Float64Array([9, 1, 2, 9]).subarray(1, 3);
    await store.put(key2, "s", { json: null, arrays: { v: { data: view, shape: [2] } } });
    assertEquals([...(await store.get(key2))!.arrays.v!.data], [1, 2]);

    assertEquals(await store.list(), [key, key2].sort());
    const stats = await store.stats();
    assertEquals(stats.entries, 2);
    assert(stats.bytes > 24 + 16 + 8 + 48 + 3 + 4, `bytes ${stats.bytes}`);
    assertEquals(await store.remove(key), true);
    assertEquals(await store.remove(key), false);
    assertEquals(await store.get(key), undefined);
    assertEquals(await store.list(), [key2]);
    assertEquals(warnings, []);
    assertEquals([...Deno.readDirSync(join(dir, "tmp"))], [], "no temp dirs left");
  });
});

Deno.test("a missing key is a quiet miss", async () => {
  await withStore(async ({ store, warnings }) => {
    const key = await keyOf("absent");
    assertEquals(await store.get(key), undefined);
    assertEquals(await store.has(key), false);
    assertEquals(await store.list(), []);
    assertEquals(await store.stats(), { entries: 0, bytes: 0 });
    assertEquals(warnings, []);
  });
});

Deno.test("put keeps an existing entry, and concurrent puts of one key place exactly one", async () => {
  await withStore(async ({ dir, store, warnings }) => {
    const key = await keyOf("race");
    const value = sample();
    const outcomes = await Promise.all([1, 2, 3, 4].map(() => store.put(key, "train", value)));
    assertEquals(outcomes.filter((o) => o === "written").length, 1);
    const meta = await Deno.readTextFile(join(entryDir(dir, key), "meta.json"));
    assertEquals(await store.put(key, "train", value), "exists");
    assertEquals(await Deno.readTextFile(join(entryDir(dir, key), "meta.json")), meta);
    assertSameEntry(await store.get(key), value);
    assertEquals([...Deno.readDirSync(join(dir, "tmp"))], []);
    assertEquals(warnings, []);
  });
});

/** Damages a stored entry with `damage`, then checks that get warns (naming the key and `problem`), removes it and misses. */
async function assertDamageDetected(
  damage: (entryDir: string) => Promise<void>,
  problem: RegExp,
): Promise<void> {
  await withStore(async ({ dir, store, warnings }) => {
    const key = await keyOf(`damaged ${problem.source}`);
    const other = await keyOf("intact");
    await store.put(key, "train", sample());
    await store.put(other, "train", sample());
    await damage(entryDir(dir, key));
    assertEquals(await store.get(key), undefined);
    assertEquals(warnings.length, 1, warnings.join("\n"));
    assert(warnings[0]!.startsWith(`cache entry ${key}: `), warnings[0]);
    assert(problem.test(warnings[0]!), warnings[0]);
    assert(warnings[0]!.endsWith("; removing it"), warnings[0]);
    assertEquals(await exists(entryDir(dir, key)), false, "damaged entry removed");
    assertEquals(await store.list(), [other]);
    assertSameEntry(await store.get(other), sample());
    // Recomputing works.
    assertEquals(await store.put(key, "train", sample()), "written");
    assertSameEntry(await store.get(key), sample());
    assertEquals(warnings.length, 1);
  });
}

Deno.test("a truncated .bin is detected, reported with the key and removed", async () => {
  await assertDamageDetected(async (d) => {
    await Deno.truncate(join(d, "w0.bin"), 10);
  }, /size of w0\.bin is 10 bytes, expected 24/);
});

Deno.test("a flipped byte (same size) is caught by the checksum", async () => {
  await assertDamageDetected(async (d) => {
    const path = join(d, "loss_N.v2.bin");
    const bytes = await Deno.readFile(path);
    bytes[5]! ^= 0x01;
    await Deno.writeFile(path, bytes);
  }, /sha256 of loss_N\.v2\.bin is [0-9a-f]{64}, expected [0-9a-f]{64}/);
});

Deno.test("an entry without meta.json is partial: a miss, reported and removed", async () => {
  await assertDamageDetected((d) => Deno.remove(join(d, "meta.json")), /meta\.json is missing/);
});

Deno.test("unreadable meta.json or value.json is reported and removed", async () => {
  await assertDamageDetected((d) => Deno.writeTextFile(join(d, "meta.json"), "{not json"), /meta\.json is unreadable/);
  await assertDamageDetected(async (d) => {
    // Consistent checksums, broken JSON: only the parse can catch it.
    const broken = new TextEncoder().encode("{broken");
    await Deno.writeFile(join(d, "value.json"), broken);
    const meta = JSON.parse(await Deno.readTextFile(join(d, "meta.json")));
    meta.json = { file: "value.json", bytes: broken.byteLength, sha256: await sha256Hex(broken) };
    await Deno.writeTextFile(join(d, "meta.json"), JSON.stringify(meta));
  }, /value\.json is unreadable/);
  await assertDamageDetected((d) => Deno.remove(join(d, "idx.bin")), /idx\.bin is missing/);
});

Deno.test("a write killed halfway leaves no visible entry, and stale temp dirs go on open", async () => {
  await withStore(async ({ dir, store, warnings }) => {
    const key = await keyOf("killed");
    // What a writer killed before its rename leaves: a complete-looking dir under tmp/.
    await store.put(key, "train", sample());
    const partial = join(dir, "tmp", `${key}.99999.abcdef`);
    await Deno.rename(entryDir(dir, key), partial);
    await Deno.remove(join(partial, "w0.bin"));
    const fresh = join(dir, "tmp", `${key}.99998.fedcba`);
    await Deno.mkdir(fresh);

    assertEquals(await store.get(key), undefined);
    assertEquals(await store.has(key), false);
    assertEquals(await store.list(), []);
    assertEquals(warnings, []);

    const hourAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await Deno.utime(partial, hourAgo, hourAgo);
    const reopened = await openStore(dir, { warn: (m) => warnings.push(m) });
    assertEquals(await exists(partial), false, "stale temp dir removed");
    assertEquals(await exists(fresh), true, "recent temp dir kept: its writer may be alive");
    assertEquals(await reopened.put(key, "train", sample()), "written");
    assertSameEntry(await reopened.get(key), sample());
    assertEquals(warnings, []);
  });
});

Deno.test("put replaces a leftover entry dir that has no meta.json", async () => {
  await withStore(async ({ dir, store, warnings }) => {
    const key = await keyOf("leftover");
    await Deno.mkdir(entryDir(dir, key), { recursive: true });
    await Deno.writeTextFile(join(entryDir(dir, key), "w0.bin"), "junk");
    assertEquals(await store.put(key, "train", sample()), "written");
    assertSameEntry(await store.get(key), sample());
    assertEquals(warnings.length, 1);
    assert(warnings[0]!.includes(key) && warnings[0]!.includes("without meta.json"), warnings[0]);
  });
});

Deno.test("put and get reject bad keys, names, shapes and JSON before writing", async () => {
  await withStore(async ({ dir, store }) => {
    const key = await keyOf("bad");
    const f = new Float32Array(4);
    await assertRejects(() => store.get("../etc"), /Cache key must be 64 lower-case hex digits/);
    await assertRejects(() => store.put(key.toUpperCase(), "s", { json: 1 }), /Cache key must be/);
    await assertRejects(() => store.put(key, "", { json: 1 }), /stageName/);
    await assertRejects(
      () => store.put(key, "s", { json: { metrics: { loss: NaN } } }),
      /^json\.metrics\.loss: cannot store NaN$/,
    );
    await assertRejects(
      () => store.put(key, "s", { json: { w: f } }),
      /^json\.w: cannot store a typed array in json; put it in arrays$/,
    );
    await assertRejects(
      () => store.put(key, "s", { json: 1, arrays: { "../x": { data: f, shape: [4] } } }),
      /names must match/,
    );
    await assertRejects(
      () => store.put(key, "s", { json: 1, arrays: { ".hidden": { data: f, shape: [4] } } }),
      /names/,
    );
    await assertRejects(
      () => store.put(key, "s", { json: 1, arrays: { w: { data: f, shape: [4] }, W: { data: f, shape: [4] } } }),
      /same name but for case/,
    );
    await assertRejects(
      () => store.put(key, "s", { json: 1, arrays: { w: { data: f, shape: [3] } } }),
      /shape \[3\] has 3 elements, data has 4/,
    );
    await assertRejects(
      () => store.put(key, "s", { json: 1, arrays: { w: { data: f, shape: [2, -2] } } }),
      /non-negative integers/,
    );
    await assertRejects(
      () =>
        store.put(key, "s", {
          json: 1,
          arrays: { w: { data: new Int16Array(4) as unknown as Int32Array, shape: [4] } },
        }),
      /Float32Array, Int32Array, Uint8Array or Float64Array/,
    );
    assertEquals(await store.list(), []);
    assertEquals([...Deno.readDirSync(join(dir, "tmp"))], []);
  });
});

Deno.test("concurrent writer processes racing on the same keys leave only valid entries", async () => {
  await withStore(async ({ dir, store, warnings }) => {
    const fixture = new URL("./_store_writer_fixture.ts", import.meta.url).pathname;
    const writers = [1, 2].map((id) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-lock", fixture, dir, String(id), "25"],
        stdout: "piped",
        stderr: "piped",
      }).output()
    );
    const outputs = await Promise.all(writers);
    const summaries = outputs.map((o) => {
      const text = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
      assertEquals(o.code, 0, text);
      return JSON.parse(new TextDecoder().decode(o.stdout));
    });
    for (const { counts, warnings: seen } of summaries) {
      assertEquals(seen, []);
      assertEquals(counts.wrong, 0);
      assertEquals(counts.written + counts.exists, 25 * FIXTURE_KEYS);
    }

    const keys = await Promise.all(Array.from({ length: FIXTURE_KEYS }, (_, j) => fixtureKey(j)));
    assertEquals(await store.list(), [...keys].sort());
    for (const [j, key] of keys.entries()) {
      const entry = await store.get(key);
      assert(entry !== undefined && sameEntry(entry, fixtureValue(j)), `entry ${j}`);
    }
    assertEquals(warnings, []);
    assertEquals([...Deno.readDirSync(join(dir, "tmp"))], [], "writers left no temp dirs");
  });
});
