import assert from "node:assert/strict";
import { assertDataError, withTempDir, writeTree } from "./testutil.ts";
import {
  baseName,
  checkTestFraction,
  describeUserFiles,
  holdOutMask,
  readUserFile,
  stripExtension,
} from "./user_files.ts";

Deno.test("holdOutMask takes round(fraction * n) of each group, never a whole group", () => {
  const keys = Array.from({ length: 23 }, (_, i) => `k${i}`);
  const groups = keys.map((_, i) => (i < 20 ? i % 2 : 2)); // 10, 10 and 3 items
  const mask = holdOutMask(keys, groups, 0.25);
  const count = (g: number) => groups.filter((v, i) => v === g && mask[i] === 1).length;
  assert.deepEqual([count(0), count(1), count(2)], [3, 3, 1]);
  // One item of a group always stays for training.
  assert.deepEqual([...holdOutMask(["a"], [0], 0.9)], [0]);
  assert.deepEqual([...holdOutMask(["a", "b"], undefined, 0)], [0, 0]);
});

Deno.test("holdOutMask depends on the keys, not on their order", () => {
  const keys = Array.from({ length: 50 }, (_, i) => `cls/img${i}.png`);
  const mask = holdOutMask(keys, undefined, 0.2);
  const order = keys.map((_, i) => (i * 17) % 50);
  const shuffled = holdOutMask(order.map((i) => keys[i]!), undefined, 0.2);
  assert.deepEqual(order.map((i) => mask[i]), [...shuffled]);
  assert.equal(mask.reduce((a, b) => a + b, 0), 10);
});

Deno.test("checkTestFraction accepts [0, 1) and defaults to 0.2", () => {
  assert.equal(checkTestFraction(undefined), 0.2);
  assert.equal(checkTestFraction(0), 0);
  for (const bad of [1, -0.1, Number.NaN]) assert.throws(() => checkTestFraction(bad), RangeError);
});

Deno.test("describeUserFiles lists base names, or the paths when base names clash", () => {
  const f = (path: string) => ({ path, data: new Uint8Array(3), sha256: "ab" });
  assert.deepEqual(describeUserFiles([f("/d/b.csv"), f("c\\a.csv")]).map((d) => d.path), ["a.csv", "b.csv"]);
  assert.deepEqual(describeUserFiles([f("/x/a.npy"), f("/y/a.npy")]).map((d) => d.path), ["/x/a.npy", "/y/a.npy"]);
  assert.equal(baseName("/a/b/"), "b");
  assert.equal(stripExtension("d.npz"), "d");
  assert.equal(stripExtension(".hidden"), ".hidden");
});

Deno.test("readUserFile names a missing path or a directory", async () => {
  await withTempDir(async (dir) => {
    await writeTree(dir, { "a.txt": "hi" });
    const file = await readUserFile(`${dir}/a.txt`, "table");
    assert.equal(new TextDecoder().decode(file.data), "hi");
    assert.equal(file.sha256, "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4");
    await assertDataError(readUserFile(`${dir}/b.txt`, "table"), "missing", `${dir}/b.txt`, "table");
    await assertDataError(readUserFile(dir, "table"), "missing", dir, "not a file");
  });
});
