import assert from "node:assert/strict";
import {
  FASHION_MNIST_LABELS,
  loadFashionMnist,
  loadMnist,
  MNIST_SPEC,
  parseIdxImages,
  parseIdxLabels,
} from "./mnist.ts";
import {
  assertDataError,
  checksumsOf,
  gzip,
  listTree,
  realDataDir,
  serveFiles,
  sha256,
  withTempDir,
  writeTree,
} from "./testutil.ts";

/** Pixel (r, c) of fixture image i. */
const pixel = (i: number, r: number, c: number) => (i * 50 + r * 3 + c * 7) % 256;

/** IDX image bytes: magic 0x803, count, rows, cols (big-endian), pixels. */
function idxImages(
  count: number,
  rows: number,
  cols: number,
  offset = 0,
): Uint8Array {
  const out = new Uint8Array(16 + count * rows * cols);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x803);
  v.setUint32(4, count);
  v.setUint32(8, rows);
  v.setUint32(12, cols);
  for (let i = 0; i < count; i++) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        out[16 + (i * rows + r) * cols + c] = pixel(i + offset, r, c);
      }
    }
  }
  return out;
}

/** IDX label bytes: magic 0x801, count (big-endian), labels. */
function idxLabels(labels: number[]): Uint8Array {
  const out = new Uint8Array(8 + labels.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x801);
  v.setUint32(4, labels.length);
  out.set(labels, 8);
  return out;
}

Deno.test("parseIdxImages reads the big-endian header and the pixels", () => {
  const bytes = idxImages(3, 2, 4);
  // Spot-check the header bytes against the format: 00 00 08 03, then count 3.
  assert.deepEqual([...bytes.subarray(0, 8)], [0, 0, 8, 3, 0, 0, 0, 3]);
  const img = parseIdxImages(bytes, "f");
  assert.equal(img.count, 3);
  assert.equal(img.rows, 2);
  assert.equal(img.cols, 4);
  assert.equal(img.x.length, 24);
  assert.equal(img.x.byteOffset, 0);
  // Image 2, row 1, col 3.
  assert.equal(img.x[2 * 8 + 1 * 4 + 3], (2 * 50 + 3 + 21) % 256);
});

Deno.test("parseIdxImages and parseIdxLabels reject bad magic and wrong lengths", async () => {
  const imgs = idxImages(3, 2, 2);
  const run = (f: () => unknown) => Promise.resolve().then(f);
  await assertDataError(
    run(() => parseIdxImages(imgs.subarray(0, imgs.length - 1), "/d/imgs")),
    "format",
    "/d/imgs",
    "3 images of 2x2",
  );
  await assertDataError(
    run(() => parseIdxImages(imgs.subarray(0, 10), "/d/imgs")),
    "format",
    "/d/imgs",
  );
  await assertDataError(
    run(() => parseIdxImages(idxLabels([1, 2]), "/d/lab")),
    "format",
    "/d/lab",
    "0x801",
  );
  await assertDataError(
    run(() => parseIdxLabels(imgs, "/d/imgs")),
    "format",
    "/d/imgs",
    "0x803",
  );
  await assertDataError(
    run(() => parseIdxLabels(idxLabels([1, 2, 3]).subarray(0, 10), "/d/lab")),
    "format",
    "/d/lab",
    "3 labels",
  );
  assert.deepEqual([...parseIdxLabels(idxLabels([4, 0, 9]), "x")], [4, 0, 9]);
});

const TRAIN_LABELS = [5, 0, 9];
const TEST_LABELS = [7, 2];

async function mnistFixture(dir: string): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {
    [`${dir}/train-images-idx3-ubyte.gz`]: await gzip(idxImages(3, 28, 28)),
    [`${dir}/train-labels-idx1-ubyte.gz`]: await gzip(idxLabels(TRAIN_LABELS)),
    [`${dir}/t10k-images-idx3-ubyte.gz`]: await gzip(idxImages(2, 28, 28, 10)),
    [`${dir}/t10k-labels-idx1-ubyte.gz`]: await gzip(idxLabels(TEST_LABELS)),
  };
  return files;
}

Deno.test("loadMnist decodes gzipped IDX fixtures into NHWC splits", async () => {
  await withTempDir(async (root) => {
    const files = await mnistFixture("mnist");
    await writeTree(root, files);
    const ds = await loadMnist({
      dataDir: root,
      download: false,
      checksums: await checksumsOf(files),
    });
    assert.equal(ds.kind, "image");
    assert.equal(ds.name, "mnist");
    assert.deepEqual(ds.train.shape, [3, 28, 28, 1]);
    assert.deepEqual(ds.test.shape, [2, 28, 28, 1]);
    assert.deepEqual([...ds.train.y], TRAIN_LABELS);
    assert.deepEqual([...ds.test.y], TEST_LABELS);
    assert.ok(ds.train.y instanceof Int32Array);
    assert.equal(ds.train.x.length, 3 * 784);
    for (const [i, r, c] of [[0, 0, 0], [1, 5, 9], [2, 27, 27]] as const) {
      assert.equal(ds.train.x[i * 784 + r * 28 + c], pixel(i, r, c));
    }
    assert.equal(ds.test.x[1 * 784 + 3 * 28 + 4], pixel(11, 3, 4));
    assert.deepEqual(ds.labelNames, [
      "0",
      "1",
      "2",
      "3",
      "4",
      "5",
      "6",
      "7",
      "8",
      "9",
    ]);
    assert.deepEqual(
      ds.files.map((f) => f.path),
      [
        "mnist/t10k-images-idx3-ubyte.gz",
        "mnist/t10k-labels-idx1-ubyte.gz",
        "mnist/train-images-idx3-ubyte.gz",
        "mnist/train-labels-idx1-ubyte.gz",
      ],
    );
    const labelsFile = files["mnist/train-labels-idx1-ubyte.gz"]!;
    assert.deepEqual(ds.files[3], {
      path: "mnist/train-labels-idx1-ubyte.gz",
      sha256: await sha256(labelsFile),
      bytes: labelsFile.length,
    });
    assert.match(ds.contentHash, /^[0-9a-f]{64}$/);
    // Same bytes again: same hash; one byte changed: a different hash.
    const again = await loadMnist({
      dataDir: root,
      download: false,
      checksums: "skip",
    });
    assert.equal(again.contentHash, ds.contentHash);
    const changed = {
      ...files,
      "mnist/t10k-labels-idx1-ubyte.gz": await gzip(idxLabels([7, 3])),
    };
    await writeTree(root, changed);
    const other = await loadMnist({
      dataDir: root,
      download: false,
      checksums: "skip",
    });
    assert.notEqual(other.contentHash, ds.contentHash);
    assert.deepEqual([...other.test.y], [7, 3]);
  });
});

Deno.test("loadFashionMnist reads fashion-mnist/ and names the classes", async () => {
  await withTempDir(async (root) => {
    const files = await mnistFixture("fashion-mnist");
    await writeTree(root, files);
    const ds = await loadFashionMnist({
      dataDir: root,
      download: false,
      checksums: await checksumsOf(files),
    });
    assert.equal(ds.name, "fashion-mnist");
    assert.deepEqual(ds.labelNames, FASHION_MNIST_LABELS);
    assert.equal(ds.labelNames[9], "Ankle boot");
    assert.deepEqual(ds.train.shape, [3, 28, 28, 1]);
    // The same bytes as MNIST still give a different identity.
    await writeTree(root, await mnistFixture("mnist"));
    const mnist = await loadMnist({
      dataDir: root,
      download: false,
      checksums: "skip",
    });
    assert.notEqual(mnist.contentHash, ds.contentHash);
  });
});

Deno.test("loadMnist names the file when it is truncated, mislabelled or fails its checksum", async () => {
  await withTempDir(async (root) => {
    const files = await mnistFixture("mnist");
    const raw = idxImages(3, 28, 28);
    await writeTree(root, {
      ...files,
      "mnist/train-images-idx3-ubyte.gz": await gzip(
        raw.subarray(0, raw.length - 100),
      ),
    });
    await assertDataError(
      loadMnist({ dataDir: root, download: false, checksums: "skip" }),
      "format",
      `${root}/mnist/train-images-idx3-ubyte.gz`,
    );
    // A cut gzip stream.
    const gz = files["mnist/train-images-idx3-ubyte.gz"]!;
    await writeTree(root, {
      "mnist/train-images-idx3-ubyte.gz": gz.subarray(0, gz.length - 30),
    });
    await assertDataError(
      loadMnist({ dataDir: root, download: false, checksums: "skip" }),
      "format",
      "train-images-idx3-ubyte.gz",
    );
    // More labels than images, and a label outside 0..9.
    await writeTree(root, {
      ...files,
      "mnist/t10k-labels-idx1-ubyte.gz": await gzip(idxLabels([1, 2, 3])),
    });
    await assertDataError(
      loadMnist({ dataDir: root, download: false, checksums: "skip" }),
      "format",
      "t10k-labels-idx1-ubyte.gz",
      "3 labels",
    );
    await writeTree(root, {
      ...files,
      "mnist/t10k-labels-idx1-ubyte.gz": await gzip(idxLabels([1, 12])),
    });
    await assertDataError(
      loadMnist({ dataDir: root, download: false, checksums: "skip" }),
      "format",
      "t10k-labels-idx1-ubyte.gz",
      "12",
    );
    // The fixtures are not the official files: the default policy rejects them.
    await writeTree(root, files);
    await assertDataError(
      loadMnist({ dataDir: root, download: false }),
      "checksum",
      `${root}/mnist/`,
      "expected",
    );
  });
});

Deno.test("loadMnist without files and without downloads lists what is missing and where", async () => {
  await withTempDir(async (root) => {
    const err = await assertDataError(
      loadMnist({ dataDir: `${root}/empty`, download: false }),
      "missing",
      `${root}/empty`,
      "http://yann.lecun.com/exdb/mnist/",
      "--data-dir",
      "DBAL_DATA",
    );
    for (const f of MNIST_SPEC.files) {
      assert.ok(err.message.includes(f.path), f.path);
    }
  });
});

Deno.test("loadMnist downloads missing files from the source, verifies and keeps them", async () => {
  const files = await mnistFixture("mnist");
  const served = Object.fromEntries(
    Object.entries(files).map(([k, v]) => [k.replace("mnist/", "mirror/"), v]),
  );
  const server = await serveFiles(served);
  try {
    await withTempDir(async (root) => {
      const sums = await checksumsOf(files);
      const ds = await loadMnist({
        dataDir: root,
        baseUrl: `${server.baseUrl}/mirror/`,
        checksums: sums,
      });
      assert.deepEqual(server.requests.sort(), Object.keys(served).sort());
      assert.deepEqual([...ds.train.y], TRAIN_LABELS);
      assert.deepEqual(await listTree(root), Object.keys(files).sort());
      assert.deepEqual(
        await Deno.readFile(`${root}/mnist/t10k-labels-idx1-ubyte.gz`),
        files["mnist/t10k-labels-idx1-ubyte.gz"],
      );

      // A download that does not match is refused and nothing is written.
      await withTempDir(async (root2) => {
        await assertDataError(
          loadMnist({
            dataDir: root2,
            baseUrl: `${server.baseUrl}/mirror`,
            checksums: {
              ...sums,
              "mnist/train-images-idx3-ubyte.gz": "f".repeat(64),
            },
          }),
          "checksum",
          "mnist/train-images-idx3-ubyte.gz",
          `${server.baseUrl}/mirror/train-images-idx3-ubyte.gz`,
        );
        assert.deepEqual(await listTree(root2), []);
      });
    });
  } finally {
    await server.close();
  }
});

const REAL = realDataDir("mnist/train-images-idx3-ubyte.gz");

Deno.test({
  name: "real MNIST: 60,000 / 10,000 images of 28x28, official checksums",
  ignore: REAL === undefined,
  fn: async () => {
    const ds = await loadMnist({ dataDir: REAL!, download: false });
    assert.deepEqual(ds.train.shape, [60000, 28, 28, 1]);
    assert.deepEqual(ds.test.shape, [10000, 28, 28, 1]);
    assert.equal(ds.train.x.length, 60000 * 784);
    assert.equal(ds.train.y[0], 5);
    assert.equal(ds.test.y[0], 7);
    const counts = new Array(10).fill(0);
    for (const y of ds.train.y) counts[y]++;
    // Published class sizes of the training set.
    assert.deepEqual(counts, [
      5923,
      6742,
      5958,
      6131,
      5842,
      5421,
      5918,
      6265,
      5851,
      5949,
    ]);
    assert.equal(
      ds.files.find((f) => f.path === "mnist/train-images-idx3-ubyte.gz")
        ?.sha256,
      MNIST_SPEC.files[0]!.sha256,
    );
  },
});
