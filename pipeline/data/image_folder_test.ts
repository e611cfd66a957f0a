import assert from "node:assert/strict";
import { encode as encodePng } from "fast-png";
import { encode as encodeJpeg } from "jpeg-js";
import { decodeImage, loadImageFolder } from "./image_folder.ts";
import { assertDataError, sha256, withTempDir, writeTree } from "./testutil.ts";

/** A grayscale 8-bit PNG of `h` x `w` whose pixel (r, c) is `f(r, c)`. */
function grayPng(h: number, w: number, f: (r: number, c: number) => number): Uint8Array {
  const data = new Uint8Array(h * w);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) data[r * w + c] = f(r, c);
  return encodePng({ width: w, height: h, data, channels: 1, depth: 8 });
}

/** An RGB(A) PNG of one colour. */
function solidPng(h: number, w: number, colour: readonly number[]): Uint8Array {
  const data = new Uint8Array(h * w * colour.length);
  for (let p = 0; p < h * w; p++) data.set(colour, p * colour.length);
  return encodePng({ width: w, height: h, data, channels: colour.length, depth: 8 });
}

/** A JPEG (always YCbCr, 3 components with jpeg-js) of one RGB colour. */
function solidJpeg(h: number, w: number, rgb: readonly [number, number, number]): Uint8Array {
  const data = new Uint8Array(h * w * 4);
  for (let p = 0; p < h * w; p++) data.set([...rgb, 255], p * 4);
  return new Uint8Array(encodeJpeg({ width: w, height: h, data }, 95).data);
}

/** Image `i` of class `k`: 2x3 gray, distinct pixels per file. */
const pix = (k: number, i: number) => (r: number, c: number) => (k * 100 + i * 10 + r * 3 + c) % 256;

/** Five 2x3 images per class for classes "dog" and "cat" (label order: cat, dog). */
function classTree(prefix = ""): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (const [k, name] of ["cat", "dog"].entries()) {
    for (let i = 0; i < 5; i++) files[`${prefix}${name}/img${i}.png`] = grayPng(2, 3, pix(k, i));
  }
  return files;
}

Deno.test("loadImageFolder holds out a fraction of each class chosen by path hash", async () => {
  await withTempDir(async (dir) => {
    await writeTree(dir, { ...classTree(), "README.txt": "not an image", "cat/.DS_Store": "junk" });
    const ds = await loadImageFolder(dir, { name: "pets" });
    assert.equal(ds.kind, "image");
    assert.equal(ds.name, "pets");
    assert.deepEqual(ds.labelNames, ["cat", "dog"]);
    // 5 per class, 20% held out: one test image per class.
    assert.deepEqual(ds.train.shape, [8, 2, 3, 1]);
    assert.deepEqual(ds.test.shape, [2, 2, 3, 1]);
    assert.deepEqual([...ds.test.y], [0, 1]);
    assert.equal(ds.files.length, 10);
    assert.deepEqual(ds.files.map((f) => f.path), Object.keys(classTree()).sort());
    const first = ds.files[0]!;
    assert.equal(first.sha256, await sha256(classTree()["cat/img0.png"]!));
    assert.equal(first.bytes, classTree()["cat/img0.png"]!.length);
    // Every image lands in exactly one split with exactly the pixels written.
    const seen = new Set<string>();
    for (const split of [ds.train, ds.test]) {
      for (let n = 0; n < split.shape[0]; n++) {
        const img = split.x.subarray(n * 6, n * 6 + 6);
        const k = split.y[n]!;
        const i = [0, 1, 2, 3, 4].find((j) => pix(k, j)(0, 0) === img[0])!;
        assert.deepEqual([...img], [0, 1, 2, 3, 4, 5].map((p) => pix(k, i)(Math.floor(p / 3), p % 3)));
        seen.add(`${k}/${i}`);
      }
    }
    assert.equal(seen.size, 10);
    // Deterministic: a second load gives the same hash and split.
    const again = await loadImageFolder(dir);
    assert.equal(again.contentHash, ds.contentHash);
    assert.deepEqual(again.test.x, ds.test.x);
    assert.equal(again.name, dir.slice(dir.lastIndexOf("/") + 1));
    // The fraction changes the result, so the hash.
    const half = await loadImageFolder(dir, { testFraction: 0.4 });
    assert.equal(half.test.shape[0], 4);
    assert.notEqual(half.contentHash, ds.contentHash);
    // One changed pixel changes the hash.
    await writeTree(dir, { "dog/img3.png": grayPng(2, 3, (r, c) => (r === 1 && c === 2 ? 0 : pix(1, 3)(r, c))) });
    const changed = await loadImageFolder(dir);
    assert.notEqual(changed.contentHash, ds.contentHash);
  });
});

Deno.test("loadImageFolder's held-out split does not depend on where the tree lies or its creation order", async () => {
  await withTempDir(async (a) => {
    await withTempDir(async (b) => {
      const files = classTree();
      await writeTree(a, files);
      const reversed = Object.fromEntries(Object.entries(files).reverse());
      await writeTree(b, reversed);
      const [da, db] = [await loadImageFolder(a), await loadImageFolder(b)];
      assert.equal(da.contentHash, db.contentHash);
      assert.deepEqual(da.test.x, db.test.x);
      assert.deepEqual(da.train.y, db.train.y);
    });
  });
});

Deno.test("loadImageFolder reads train/ and test/ trees of RGB PNG and JPEG files", async () => {
  await withTempDir(async (dir) => {
    await writeTree(dir, {
      "train/red/a.png": solidPng(4, 5, [250, 10, 20]),
      "train/red/b.PNG": solidPng(4, 5, [250, 10, 20, 255]), // opaque RGBA -> RGB
      "train/blue/c.jpg": solidJpeg(4, 5, [10, 20, 240]),
      "train/blue/sub/d.JPEG": solidJpeg(4, 5, [10, 20, 240]),
      "test/red/e.jpeg": solidJpeg(4, 5, [250, 10, 20]),
      "test/blue/f.png": solidPng(4, 5, [10, 20, 240]),
      "val/blue/ignored.png": solidPng(1, 1, [0, 0, 0]),
    });
    const ds = await loadImageFolder(dir);
    assert.deepEqual(ds.labelNames, ["blue", "red"]);
    assert.deepEqual(ds.train.shape, [4, 4, 5, 3]);
    assert.deepEqual(ds.test.shape, [2, 4, 5, 3]);
    // Sorted by relative path: blue/c.jpg, blue/sub/d.JPEG, red/a.png, red/b.PNG.
    assert.deepEqual([...ds.train.y], [0, 0, 1, 1]);
    assert.deepEqual([...ds.test.y], [0, 1]);
    assert.deepEqual(ds.files.map((f) => f.path), [
      "test/blue/f.png",
      "test/red/e.jpeg",
      "train/blue/c.jpg",
      "train/blue/sub/d.JPEG",
      "train/red/a.png",
      "train/red/b.PNG",
    ]);
    const px = (
      split: typeof ds.train,
      n: number,
      p: number,
    ) => [...split.x.subarray((n * 20 + p) * 3, (n * 20 + p) * 3 + 3)];
    assert.deepEqual(px(ds.train, 2, 7), [250, 10, 20]);
    assert.deepEqual(px(ds.train, 3, 19), [250, 10, 20]);
    assert.deepEqual(px(ds.test, 0, 0), [10, 20, 240]);
    const jpegs = [[ds.train, 0, [10, 20, 240]], [ds.train, 1, [10, 20, 240]], [ds.test, 1, [250, 10, 20]]] as const;
    for (const [split, n, want] of jpegs) {
      for (let p = 0; p < 20; p++) {
        px(split, n, p).forEach((v, k) => assert.ok(Math.abs(v - want[k]!) <= 4, `JPEG pixel ${v} vs ${want[k]}`));
      }
    }
  });
});

Deno.test("decodeImage handles palette, 16-bit, 1-bit and gray+alpha PNGs", () => {
  const palette = encodePng({
    width: 2,
    height: 1,
    data: new Uint8Array([1, 0]),
    channels: 1,
    depth: 8,
    palette: [[0, 0, 0], [200, 100, 50]],
  });
  assert.deepEqual(decodeImage(palette, "p.png"), {
    width: 2,
    height: 1,
    channels: 3,
    data: new Uint8Array([200, 100, 50, 0, 0, 0]),
  });
  const deep = encodePng({ width: 2, height: 1, data: new Uint16Array([65535, 257 * 9]), channels: 1, depth: 16 });
  assert.deepEqual([...decodeImage(deep, "d.png").data], [255, 9]);
  // 1-bit rows are padded to whole bytes: 0b101..... then 0b010.....
  const bits = encodePng({
    width: 3,
    height: 2,
    data: new Uint8Array([0b10100000, 0b01000000]),
    channels: 1,
    depth: 1,
  });
  assert.deepEqual([...decodeImage(bits, "b.png").data], [255, 0, 255, 0, 255, 0]);
  const ga = encodePng({ width: 2, height: 1, data: new Uint8Array([7, 255, 9, 255]), channels: 2, depth: 8 });
  assert.deepEqual(decodeImage(ga, "ga.png"), { width: 2, height: 1, channels: 1, data: new Uint8Array([7, 9]) });
});

Deno.test("loadImageFolder names the file that is truncated, transparent, of another size or not an image", async () => {
  const cases: { name: string; files: Record<string, Uint8Array | string>; parts: string[] }[] = [
    {
      name: "truncated PNG",
      files: { "a/1.png": grayPng(2, 2, () => 1), "b/2.png": grayPng(2, 2, () => 2).subarray(0, 40) },
      parts: ["b/2.png", "not a readable PNG", "truncated"],
    },
    {
      name: "mismatched sizes",
      files: {
        "a/1.png": grayPng(2, 2, () => 1),
        "a/2.png": grayPng(3, 2, () => 2),
        "b/3.png": grayPng(2, 2, () => 3),
      },
      parts: ["a/2.png", "is 2x3 with 1 channel", "a/1.png is 2x2 with 1 channel", "same width, height"],
    },
    {
      name: "gray and RGB mixed",
      files: { "a/1.png": grayPng(2, 2, () => 1), "b/2.png": solidPng(2, 2, [1, 2, 3]) },
      parts: ["b/2.png", "2x2 with 3 channels", "2x2 with 1 channel"],
    },
    {
      name: "transparent RGBA",
      files: { "a/1.png": solidPng(2, 2, [1, 2, 3]), "b/2.png": solidPng(2, 2, [1, 2, 3, 128]) },
      parts: ["b/2.png", "transparent pixels"],
    },
    {
      name: "text named .jpg",
      files: { "a/1.png": grayPng(2, 2, () => 1), "b/2.jpg": "hello" },
      parts: ["b/2.jpg", "neither a PNG nor a JPEG"],
    },
    {
      name: "truncated JPEG",
      files: { "a/1.jpg": solidJpeg(8, 8, [1, 2, 3]).subarray(0, 200) },
      parts: ["a/1.jpg", "not a readable JPEG"],
    },
    {
      name: "empty class folder",
      files: { "a/1.png": grayPng(2, 2, () => 1), "b/notes.txt": "x" },
      parts: ["/b", "holds no PNG or JPEG image"],
    },
    {
      name: "unsupported format",
      files: { "a/1.png": grayPng(2, 2, () => 1), "a/2.gif": "GIF89a" },
      parts: ["a/2.gif", "not a PNG or JPEG file"],
    },
    {
      name: "image outside class folders",
      files: { "a/1.png": grayPng(2, 2, () => 1), "loose.png": grayPng(2, 2, () => 1) },
      parts: ["loose.png", "not in a class folder"],
    },
    {
      name: "different train and test classes",
      files: { "train/a/1.png": grayPng(2, 2, () => 1), "test/b/1.png": grayPng(2, 2, () => 1) },
      parts: ["test lacks the class folders a", "train lacks the class folders b"],
    },
    {
      name: "train without test",
      files: { "train/a/1.png": grayPng(2, 2, () => 1) },
      parts: ["train/ folder but no test/ folder"],
    },
  ];
  for (const c of cases) {
    await withTempDir(async (dir) => {
      await writeTree(dir, c.files);
      const err = await assertDataError(loadImageFolder(dir), "format", ...c.parts);
      assert.ok(err.message.includes(dir), `${c.name}: ${err.message}`);
    });
  }
});

Deno.test("loadImageFolder reports a missing root or a file given as root", async () => {
  await withTempDir(async (dir) => {
    await assertDataError(loadImageFolder(`${dir}/nope`), "missing", `${dir}/nope`, "does not exist");
    await writeTree(dir, { "f.png": grayPng(1, 1, () => 0) });
    await assertDataError(loadImageFolder(`${dir}/f.png`), "missing", `${dir}/f.png`, "not a folder");
    await assert.rejects(loadImageFolder(dir, { testFraction: 1 }), RangeError);
  });
});
