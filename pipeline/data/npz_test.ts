import assert from "node:assert/strict";
import { zipSync } from "fflate";
import { loadNpyPair, loadNpz, parseNpy } from "./npz.ts";
import { assertDataError, sha256, withTempDir, writeTree } from "./testutil.ts";

/**
 * An `.npy` file per the NumPy format spec, version 1.0: magic `\x93NUMPY`,
 * version 1 0, little-endian uint16 header length, the header dict padded
 * with spaces and a newline so that the data start at a multiple of 64.
 */
function npy(descr: string, shape: readonly number[], data: ArrayBufferView, fortran = false): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran ? "True" : "False"}, 'shape': ${shapeText}, }`;
  header += " ".repeat((64 - ((10 + header.length + 1) % 64)) % 64) + "\n";
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(10 + header.length + bytes.length);
  out.set([0x93, ..."NUMPY"].map((c) => (typeof c === "number" ? c : c.charCodeAt(0))));
  out[6] = 1;
  out[7] = 0;
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  out.set(new TextEncoder().encode(header), 10);
  out.set(bytes, 10 + header.length);
  return out;
}

/** uint8 images `[n, h, w(, c)]`: value k of image i is `(i * 12 + k) % 256`. */
function images(n: number, h: number, w: number, c?: number): Uint8Array {
  const out = new Uint8Array(n * h * w * (c ?? 1));
  for (let k = 0; k < out.length; k++) {
    out[k] = (Math.floor(k / (h * w * (c ?? 1))) * 12 + (k % (h * w * (c ?? 1)))) % 256;
  }
  return out;
}

const u8 = (n: number, h: number, w: number) => npy("|u1", [n, h, w], images(n, h, w));
const i64 = (labels: number[]) => npy("<i8", [labels.length], BigInt64Array.from(labels, BigInt));

Deno.test("parseNpy reads the spec's header and data, and C-orders Fortran arrays", () => {
  const a = parseNpy(npy("<i2", [2, 3], Int16Array.from([1, 2, 3, 4, 5, 6])), "a.npy");
  assert.equal(a.dtype, "i2");
  assert.deepEqual(a.shape, [2, 3]);
  assert.deepEqual([...(a.data as Int16Array)], [1, 2, 3, 4, 5, 6]);
  // Column-major storage of [[1, 2, 3], [4, 5, 6]].
  const f = parseNpy(npy("<i2", [2, 3], Int16Array.from([1, 4, 2, 5, 3, 6]), true), "f.npy");
  assert.deepEqual([...(f.data as Int16Array)], [1, 2, 3, 4, 5, 6]);
});

Deno.test("loadNpz reads x, y, x_test, y_test from a stored (np.savez-like) archive", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/digits.npz`;
    const zip = zipSync({
      "x.npy": u8(4, 2, 3),
      "y.npy": i64([0, 1, 2, 1]),
      "x_test.npy": u8(2, 2, 3),
      "y_test.npy": i64([3, 0]),
      "extra.npy": npy("<f8", [1], Float64Array.from([0.5])),
    }, { level: 0 });
    await writeTree(dir, { "digits.npz": zip });
    const ds = await loadNpz(path);
    assert.equal(ds.kind, "image");
    assert.equal(ds.name, "digits");
    assert.deepEqual(ds.train.shape, [4, 2, 3, 1]);
    assert.deepEqual(ds.test.shape, [2, 2, 3, 1]);
    assert.deepEqual(ds.train.x, images(4, 2, 3));
    assert.deepEqual(ds.test.x, images(2, 2, 3));
    assert.equal(ds.train.x.byteOffset, 0);
    assert.deepEqual([...ds.train.y], [0, 1, 2, 1]);
    assert.deepEqual([...ds.test.y], [3, 0]);
    // K = largest label + 1 over both splits.
    assert.deepEqual(ds.labelNames, ["0", "1", "2", "3"]);
    assert.deepEqual(ds.files, [{ path: "digits.npz", sha256: await sha256(zip), bytes: zip.length }]);
    const named = await loadNpz(path, { name: "d", labelNames: ["a", "b", "c", "d"] });
    assert.equal(named.name, "d");
    assert.deepEqual(named.labelNames, ["a", "b", "c", "d"]);
    assert.notEqual(named.contentHash, ds.contentHash);
  });
});

Deno.test("loadNpz holds out a fraction of each class from a deflated archive, deterministically", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/d.npz`;
    const labels = Array.from({ length: 20 }, (_, i) => i % 2);
    // int16 images with values 0..255 are accepted; [N, H, W, C] with C=3.
    const x = Int16Array.from(images(20, 2, 2, 3));
    const files = {
      "imgs.npy": npy("<i2", [20, 2, 2, 3], x),
      "labs.npy": npy("<i4", [20, 1], Int32Array.from(labels)),
    };
    await writeTree(dir, { "d.npz": zipSync(files, { level: 6 }) });
    const ds = await loadNpz(path, { x: "imgs", y: "labs", classes: 3, testFraction: 0.3 });
    assert.deepEqual(ds.labelNames, ["0", "1", "2"]);
    // 10 per class, 30% held out: 3 per class.
    assert.deepEqual(ds.train.shape, [14, 2, 2, 3]);
    assert.deepEqual(ds.test.shape, [6, 2, 2, 3]);
    assert.equal(ds.test.y.filter((v) => v === 0).length, 3);
    // Every image is in one split, with its own label and pixels (first pixel = 12 i).
    const index = (split: typeof ds.train, n: number) => split.x[n * 12]! / 12;
    const all = [
      ...Array.from({ length: 14 }, (_, n) => [index(ds.train, n), ds.train.y[n]]),
      ...Array.from({ length: 6 }, (_, n) => [index(ds.test, n), ds.test.y[n]]),
    ].sort((a, b) => a[0]! - b[0]!);
    assert.deepEqual(all, labels.map((l, i) => [i, l]));
    const again = await loadNpz(path, { x: "imgs", y: "labs", classes: 3, testFraction: 0.3 });
    assert.equal(again.contentHash, ds.contentHash);
    assert.deepEqual(again.test.x, ds.test.x);
    // One changed byte of the file changes the hash.
    x[5] = 99;
    await writeTree(dir, { "d.npz": zipSync({ ...files, "imgs.npy": npy("<i2", [20, 2, 2, 3], x) }, { level: 6 }) });
    const changed = await loadNpz(path, { x: "imgs", y: "labs", classes: 3, testFraction: 0.3 });
    assert.notEqual(changed.contentHash, ds.contentHash);
    assert.notEqual(
      (await loadNpz(path, { x: "imgs", y: "labs", testFraction: 0.3 })).contentHash,
      changed.contentHash,
    );
  });
});

Deno.test("loadNpz names the file, the array and the problem", async () => {
  const cases: {
    name: string;
    files: Record<string, Uint8Array>;
    opts?: Parameters<typeof loadNpz>[1];
    parts: string[];
  }[] = [
    {
      name: "y out of range",
      files: { "x.npy": u8(3, 1, 1), "y.npy": i64([0, 5, 1]) },
      opts: { classes: 3 },
      parts: ["array y", "label 1 is 5, outside 0..2"],
    },
    {
      name: "negative y",
      files: { "x.npy": u8(2, 1, 1), "y.npy": i64([0, -1]) },
      parts: ["array y", "label 1 is -1"],
    },
    {
      name: "float x",
      files: { "x.npy": npy("<f4", [2, 1, 1], new Float32Array(2)), "y.npy": i64([0, 1]) },
      parts: ["array x", "dtype is float (f4)", "(x*255).astype(np.uint8)"],
    },
    {
      name: "x above 255",
      files: { "x.npy": npy("<i2", [2, 1, 1], Int16Array.from([3, 256])), "y.npy": i64([0, 1]) },
      parts: ["array x", "value 1 (image 1) is 256, outside 0..255"],
    },
    {
      name: "counts differ",
      files: { "x.npy": u8(3, 1, 1), "y.npy": i64([0, 1]) },
      parts: ["array y", "holds 2 labels", "array x holds 3 images"],
    },
    {
      name: "rank 2 x",
      files: { "x.npy": npy("|u1", [2, 4], new Uint8Array(8)), "y.npy": i64([0, 1]) },
      parts: ["array x", "shape (2, 4)", "[N, H, W, C]"],
    },
    {
      name: "one-hot y",
      files: { "x.npy": u8(2, 1, 1), "y.npy": npy("|u1", [2, 2], Uint8Array.from([1, 0, 0, 1])) },
      parts: ["array y", "shape (2, 2)", "argmax"],
    },
    {
      name: "float y",
      files: { "x.npy": u8(2, 1, 1), "y.npy": npy("<f8", [2], new Float64Array(2)) },
      parts: ["array y", "dtype is f8", "integers"],
    },
    {
      name: "missing y",
      files: { "x.npy": u8(2, 1, 1), "labels.npy": i64([0, 1]) },
      parts: ['no array "y"', "it holds x, labels"],
    },
    {
      name: "test images without test labels",
      files: { "x.npy": u8(2, 1, 1), "y.npy": i64([0, 1]), "x_test.npy": u8(1, 1, 1) },
      parts: ['test array "x_test" but not "y_test"'],
    },
    {
      name: "test images of another size",
      files: { "x.npy": u8(2, 1, 1), "y.npy": i64([0, 1]), "x_test.npy": u8(1, 2, 1), "y_test.npy": i64([0]) },
      parts: ["array x_test", "2x1x1", "1x1x1"],
    },
    {
      name: "truncated array data",
      files: { "x.npy": u8(4, 2, 2).subarray(0, u8(4, 2, 2).length - 6), "y.npy": i64([0, 1, 0, 1]) },
      parts: ["array x", "16 values", "holds 10", "truncated"],
    },
    {
      name: "big-endian labels",
      files: { "x.npy": u8(1, 1, 1), "y.npy": npy(">i4", [1], new Int32Array(1)) },
      parts: ["array y", "dtype is not supported"],
    },
    {
      name: "not an npy",
      files: { "x.npy": new TextEncoder().encode("hello"), "y.npy": i64([0]) },
      parts: ["array x", "not a NumPy .npy array"],
    },
  ];
  for (const c of cases) {
    await withTempDir(async (dir) => {
      const path = `${dir}/bad.npz`;
      await writeTree(dir, { "bad.npz": zipSync(c.files) });
      await assertDataError(loadNpz(path, c.opts), "format", path, ...c.parts);
    });
  }
  await withTempDir(async (dir) => {
    const zip = zipSync({ "x.npy": u8(2, 1, 1), "y.npy": i64([0, 1]) });
    await writeTree(dir, { "cut.npz": zip.subarray(0, zip.length - 10), "text.npz": "x,y\n" });
    await assertDataError(loadNpz(`${dir}/cut.npz`), "format", `${dir}/cut.npz`, "not a readable .npz");
    await assertDataError(loadNpz(`${dir}/text.npz`), "format", `${dir}/text.npz`, "not a readable .npz");
    await assertDataError(loadNpz(`${dir}/none.npz`), "missing", `${dir}/none.npz`, "does not exist");
  });
});

Deno.test("loadNpyPair reads two .npy files, with optional test files", async () => {
  await withTempDir(async (dir) => {
    // Fortran-order x: the values of images(3, 2, 2) laid out column-major.
    const c = images(3, 2, 2);
    const f = new Uint8Array(12);
    for (let i = 0; i < 3; i++) {
      for (let r = 0; r < 2; r++) for (let k = 0; k < 2; k++) f[i + 3 * (r + 2 * k)] = c[i * 4 + r * 2 + k]!;
    }
    await writeTree(dir, {
      "x.npy": npy("|u1", [3, 2, 2], f, true),
      "y.npy": npy("|u1", [3], Uint8Array.from([1, 0, 1])),
      "xt.npy": u8(1, 2, 2),
      "yt.npy": i64([0]),
    });
    const ds = await loadNpyPair(`${dir}/x.npy`, `${dir}/y.npy`, {
      xTestPath: `${dir}/xt.npy`,
      yTestPath: `${dir}/yt.npy`,
    });
    assert.equal(ds.name, "x");
    assert.deepEqual(ds.train.x, c);
    assert.deepEqual([...ds.train.y], [1, 0, 1]);
    assert.deepEqual(ds.test.shape, [1, 2, 2, 1]);
    assert.deepEqual(ds.files.map((d) => d.path), ["x.npy", "xt.npy", "y.npy", "yt.npy"]);
    // Roles matter: train and test swapped is another data set.
    const swapped = await loadNpyPair(`${dir}/xt.npy`, `${dir}/yt.npy`, {
      xTestPath: `${dir}/x.npy`,
      yTestPath: `${dir}/y.npy`,
    });
    assert.notEqual(swapped.contentHash, ds.contentHash);
    const held = await loadNpyPair(`${dir}/x.npy`, `${dir}/y.npy`, { testFraction: 0.5 });
    assert.deepEqual(held.train.shape[0] + held.test.shape[0], 3);
    await assertDataError(
      loadNpyPair(`${dir}/x.npy`, `${dir}/nope.npy`),
      "missing",
      `${dir}/nope.npy`,
    );
    await assertDataError(
      loadNpyPair(`${dir}/x.npy`, `${dir}/yt.npy`),
      "format",
      `${dir}/yt.npy (the training labels)`,
      "holds 1 labels",
    );
  });
});

/** True when `python3` with numpy is available here. */
function hasNumpy(): boolean {
  try {
    return new Deno.Command("python3", { args: ["-c", "import numpy"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "loadNpz reads archives written by numpy's own np.savez and np.savez_compressed",
  ignore: !hasNumpy(),
  fn: async () => {
    await withTempDir(async (dir) => {
      const script = `
import numpy as np, sys
d = sys.argv[1]
x = (np.arange(5 * 4 * 3 * 3) % 256).astype(np.uint8).reshape(5, 4, 3, 3)
y = np.array([0, 2, 1, 2, 0])
xt = np.asfortranarray((np.arange(2 * 4 * 3) % 256).astype(np.uint8).reshape(2, 4, 3))
np.savez(d + "/plain.npz", x=x, y=y)
np.savez_compressed(d + "/packed.npz", x=x[..., 0], y=y.astype(np.uint8), x_test=xt, y_test=np.array([[1], [0]]))
np.savez(d + "/float.npz", x=x / 255.0, y=y)
np.save(d + "/x.npy", x)
np.save(d + "/y.npy", y.astype(np.int32))
`;
      const out = new Deno.Command("python3", { args: ["-c", script, dir] }).outputSync();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      const want = Uint8Array.from({ length: 180 }, (_, i) => i % 256);
      const plain = await loadNpz(`${dir}/plain.npz`, { testFraction: 0 });
      assert.deepEqual(plain.train.shape, [5, 4, 3, 3]);
      assert.deepEqual(plain.train.x, want);
      assert.deepEqual([...plain.train.y], [0, 2, 1, 2, 0]);
      assert.deepEqual(plain.labelNames, ["0", "1", "2"]);
      assert.equal(plain.test.shape[0], 0);
      const packed = await loadNpz(`${dir}/packed.npz`);
      assert.deepEqual(packed.train.shape, [5, 4, 3, 1]);
      assert.deepEqual(packed.train.x, want.filter((_, i) => i % 3 === 0));
      assert.deepEqual(packed.test.x, Uint8Array.from({ length: 24 }, (_, i) => i));
      assert.deepEqual([...packed.test.y], [1, 0]);
      await assertDataError(
        loadNpz(`${dir}/float.npz`),
        "format",
        `${dir}/float.npz`,
        "array x",
        "(x*255).astype(np.uint8)",
      );
      const pair = await loadNpyPair(`${dir}/x.npy`, `${dir}/y.npy`, { testFraction: 0 });
      assert.deepEqual(pair.train.x, want);
    });
  },
});
