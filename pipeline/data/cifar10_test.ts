import assert from "node:assert/strict";
import { CIFAR10_SPEC, decodeCifarBatches, loadCifar10, parseCifarLabelNames } from "./cifar10.ts";
import {
  assertDataError,
  checksumsOf,
  gzip,
  listTree,
  makeTar,
  realDataDir,
  serveFiles,
  sha256,
  withTempDir,
  writeTree,
} from "./testutil.ts";

/** Channel value of fixture image `img` at row r, column c, channel ch. */
const value = (img: number, r: number, c: number, ch: number) => (img * 31 + r * 5 + c * 3 + ch * 101) % 256;

/** One CIFAR record: label byte, then the R, G and B planes, row-major. */
function record(img: number, label: number): Uint8Array {
  const out = new Uint8Array(3073);
  out[0] = label;
  for (let ch = 0; ch < 3; ch++) {
    for (let r = 0; r < 32; r++) {
      for (let c = 0; c < 32; c++) {
        out[1 + ch * 1024 + r * 32 + c] = value(img, r, c, ch);
      }
    }
  }
  return out;
}

function batch(images: number[], labels: number[]): Uint8Array {
  const out = new Uint8Array(images.length * 3073);
  images.forEach((img, i) => out.set(record(img, labels[i]!), i * 3073));
  return out;
}

/** Position of (n, r, c, ch) in an NHWC [N, 32, 32, 3] array. */
const at = (n: number, r: number, c: number, ch: number) => ((n * 32 + r) * 32 + c) * 3 + ch;

Deno.test("decodeCifarBatches turns planar records into NHWC pixels", () => {
  const split = decodeCifarBatches([
    { data: batch([0, 1], [6, 9]), file: "b1" },
    { data: batch([2], [0]), file: "b2" },
  ], 10);
  assert.deepEqual(split.shape, [3, 32, 32, 3]);
  assert.deepEqual([...split.y], [6, 9, 0]);
  assert.equal(split.x.length, 3 * 3072);
  // Channels of one pixel are adjacent: (img 0, row 0, col 0) = R, G, B.
  assert.deepEqual([...split.x.subarray(0, 3)], [
    value(0, 0, 0, 0),
    value(0, 0, 0, 1),
    value(0, 0, 0, 2),
  ]);
  for (
    const [n, r, c] of [
      [0, 0, 1],
      [0, 0, 2],
      [0, 0, 3],
      [0, 1, 0],
      [1, 17, 30],
      [2, 31, 31],
      [1, 0, 5],
    ] as const
  ) {
    for (let ch = 0; ch < 3; ch++) {
      assert.equal(
        split.x[at(n, r, c, ch)],
        value(n, r, c, ch),
        `${n},${r},${c},${ch}`,
      );
    }
  }
  // Exhaustive check against a direct per-byte transposition.
  const raw = batch([0, 1], [6, 9]);
  for (let n = 0; n < 2; n++) {
    for (let p = 0; p < 1024; p++) {
      for (let ch = 0; ch < 3; ch++) {
        if (
          split.x[n * 3072 + p * 3 + ch] !== raw[n * 3073 + 1 + ch * 1024 + p]
        ) {
          assert.fail(`mismatch at image ${n} pixel ${p} channel ${ch}`);
        }
      }
    }
  }
});

Deno.test("decodeCifarBatches rejects partial records and labels out of range", async () => {
  const run = (f: () => unknown) => Promise.resolve().then(f);
  const b = batch([0, 1], [1, 2]);
  await assertDataError(
    run(() =>
      decodeCifarBatches([{
        data: b.subarray(0, 3073 + 3072),
        file: "/c/data_batch_3.bin",
      }], 10)
    ),
    "format",
    "/c/data_batch_3.bin",
    "3073",
  );
  await assertDataError(
    run(() =>
      decodeCifarBatches(
        [{ data: new Uint8Array(0), file: "/c/empty.bin" }],
        10,
      )
    ),
    "format",
    "/c/empty.bin",
  );
  await assertDataError(
    run(() =>
      decodeCifarBatches(
        [{ data: batch([0, 1], [1, 10]), file: "/c/x.bin" }],
        10,
      )
    ),
    "format",
    "/c/x.bin",
    "record 1 has label 10",
  );
});

Deno.test("parseCifarLabelNames ignores surrounding blank lines and checks the count", async () => {
  const names = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
  ];
  const enc = new TextEncoder();
  assert.deepEqual(
    parseCifarLabelNames(enc.encode(`${names.join("\n")}\n\n`), "m"),
    names,
  );
  assert.deepEqual(
    parseCifarLabelNames(enc.encode(names.join("\r\n ")), "m"),
    names,
  );
  await assertDataError(
    Promise.resolve().then(() => parseCifarLabelNames(enc.encode("a\nb\n"), "/c/batches.meta.txt")),
    "format",
    "/c/batches.meta.txt",
    "2 class names",
  );
});

const NAMES = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
];

/** Fixture: five train batches of 2 images (images 0..9), a test batch of 2 (10, 11). */
function fixture(prefix: string): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (let b = 1; b <= 5; b++) {
    files[`${prefix}data_batch_${b}.bin`] = batch([2 * b - 2, 2 * b - 1], [
      (2 * b - 2) % 10,
      (2 * b + 5) % 10,
    ]);
  }
  files[`${prefix}test_batch.bin`] = batch([10, 11], [3, 8]);
  files[`${prefix}batches.meta.txt`] = new TextEncoder().encode(
    `${NAMES.join("\n")}\n`,
  );
  return files;
}

const TRAIN_Y = [0, 7, 2, 9, 4, 1, 6, 3, 8, 5];

Deno.test("loadCifar10 concatenates the five training batches and reads the names", async () => {
  await withTempDir(async (root) => {
    const files = fixture("cifar-10/cifar-10-batches-bin/");
    await writeTree(root, files);
    const ds = await loadCifar10({
      dataDir: root,
      download: false,
      checksums: await checksumsOf(files),
    });
    assert.equal(ds.name, "cifar-10");
    assert.deepEqual(ds.train.shape, [10, 32, 32, 3]);
    assert.deepEqual(ds.test.shape, [2, 32, 32, 3]);
    assert.deepEqual([...ds.train.y], TRAIN_Y);
    assert.deepEqual([...ds.test.y], [3, 8]);
    assert.deepEqual(ds.labelNames, NAMES);
    // Image 7 came from data_batch_4, record 1.
    for (let ch = 0; ch < 3; ch++) {
      assert.equal(ds.train.x[at(7, 12, 20, ch)], value(7, 12, 20, ch));
    }
    assert.equal(ds.test.x[at(1, 31, 0, 2)], value(11, 31, 0, 2));
    assert.equal(ds.files.length, 7);
    assert.equal(
      ds.files.find((f) => f.path.endsWith("test_batch.bin"))?.sha256,
      await sha256(files["cifar-10/cifar-10-batches-bin/test_batch.bin"]!),
    );
  });
});

Deno.test("loadCifar10 names a truncated batch, and checks official sizes", async () => {
  await withTempDir(async (root) => {
    const files = fixture("cifar-10/cifar-10-batches-bin/");
    const cut = files["cifar-10/cifar-10-batches-bin/data_batch_2.bin"]!
      .subarray(0, 4000);
    await writeTree(root, {
      ...files,
      "cifar-10/cifar-10-batches-bin/data_batch_2.bin": cut,
    });
    await assertDataError(
      loadCifar10({ dataDir: root, download: false, checksums: "skip" }),
      "format",
      `${root}/cifar-10/cifar-10-batches-bin/data_batch_2.bin`,
    );
    await assertDataError(
      loadCifar10({ dataDir: root, download: false }),
      "checksum",
      "cifar-10/cifar-10-batches-bin/data_batch_",
      "expected 30,730,000 bytes",
    );
  });
});

Deno.test("loadCifar10 downloads the tar.gz archive, verifies it and unpacks the batches", async () => {
  const inner = fixture("cifar-10-batches-bin/");
  const tgz = await gzip(makeTar([
    ...Object.entries(inner).map(([name, data]) => ({ name, data })),
    { name: "cifar-10-batches-bin/readme.html", data: "<html></html>" },
  ]));
  const server = await serveFiles({ "cifar-10-binary.tar.gz": tgz });
  try {
    const onDisk = fixture("cifar-10/cifar-10-batches-bin/");
    const sums = {
      ...(await checksumsOf(onDisk)),
      "cifar-10-binary.tar.gz": await sha256(tgz),
    };
    await withTempDir(async (root) => {
      const logs: string[] = [];
      const ds = await loadCifar10({
        dataDir: root,
        baseUrl: server.baseUrl,
        checksums: sums,
        log: (m) => logs.push(m),
      });
      assert.deepEqual(server.requests, ["cifar-10-binary.tar.gz"]);
      assert.deepEqual([...ds.train.y], TRAIN_Y);
      assert.deepEqual(await listTree(root), Object.keys(onDisk).sort());
      assert.ok(logs.some((m) => m.includes("cifar-10-binary.tar.gz")));
    });
    await withTempDir(async (root) => {
      await assertDataError(
        loadCifar10({
          dataDir: root,
          baseUrl: server.baseUrl,
          checksums: { ...sums, "cifar-10-binary.tar.gz": "1".repeat(64) },
        }),
        "checksum",
        `${server.baseUrl}/cifar-10-binary.tar.gz`,
      );
      assert.deepEqual(await listTree(root), []);
    });
  } finally {
    await server.close();
  }
});

const REAL = realDataDir("cifar-10/cifar-10-batches-bin/data_batch_1.bin");

Deno.test({
  name: "real CIFAR-10: official order, first image, class counts",
  ignore: REAL === undefined,
  fn: async () => {
    const ds = await loadCifar10({ dataDir: REAL!, download: false });
    assert.deepEqual(ds.train.shape, [50000, 32, 32, 3]);
    assert.deepEqual(ds.test.shape, [10000, 32, 32, 3]);
    assert.deepEqual(ds.labelNames, NAMES);
    assert.equal(ds.train.y[0], 6);
    assert.equal(ds.labelNames[ds.train.y[0]!], "frog");
    // Red channel of pixels (0,0), (0,1), (0,2) of the first image.
    assert.deepEqual([
      ds.train.x[at(0, 0, 0, 0)],
      ds.train.x[at(0, 0, 1, 0)],
      ds.train.x[at(0, 0, 2, 0)],
    ], [59, 43, 50]);
    // Blue channel of its last three pixels.
    assert.deepEqual([
      ds.train.x[at(0, 31, 29, 2)],
      ds.train.x[at(0, 31, 30, 2)],
      ds.train.x[at(0, 31, 31, 2)],
    ], [140, 84, 72]);
    assert.deepEqual([ds.test.y[0], ds.test.y[1]], [3, 8]);
    const batch1 = new Array(10).fill(0);
    for (const y of ds.train.y.subarray(0, 10000)) batch1[y]++;
    assert.deepEqual(batch1, [
      1005,
      974,
      1032,
      1016,
      999,
      937,
      1030,
      1001,
      1025,
      981,
    ]);
    const all = new Array(10).fill(0);
    for (const y of ds.train.y) all[y]++;
    assert.deepEqual(all, new Array(10).fill(5000));
    assert.equal(
      ds.files.find((f) => f.path.endsWith("data_batch_1.bin"))?.sha256,
      CIFAR10_SPEC.files[0]!.sha256,
    );
  },
});
