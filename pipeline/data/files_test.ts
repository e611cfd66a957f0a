import assert from "node:assert/strict";
import {
  computeContentHash,
  type DatasetSpec,
  describeFiles,
  fetchDatasetFiles,
  joinPath,
  resolveDataDir,
} from "./files.ts";
import {
  assertDataError,
  checksumsOf,
  gzip,
  listTree,
  makeTar,
  serveFiles,
  sha256,
  withTempDir,
  writeTree,
} from "./testutil.ts";

const enc = new TextEncoder();

Deno.test("resolveDataDir prefers the option, then DBAL_DATA, then the user cache", () => {
  const env = (vars: Record<string, string>) => (k: string) => vars[k];
  assert.equal(
    resolveDataDir({ dataDir: "/opt/d" }, env({ DBAL_DATA: "/e" })),
    "/opt/d",
  );
  assert.equal(resolveDataDir({}, env({ DBAL_DATA: "/e", HOME: "/h" })), "/e");
  assert.equal(
    resolveDataDir({}, env({ XDG_CACHE_HOME: "/x/", HOME: "/h" })),
    "/x/dbal/data",
  );
  assert.equal(
    resolveDataDir({}, env({ HOME: "/home/u" })),
    "/home/u/.cache/dbal/data",
  );
  assert.equal(
    resolveDataDir({ dataDir: "rel/d" }, env({})),
    `${Deno.cwd()}/rel/d`,
  );
  // An empty option or variable counts as unset.
  assert.equal(
    resolveDataDir({ dataDir: "" }, env({ DBAL_DATA: "", HOME: "/h" })),
    "/h/.cache/dbal/data",
  );
  assert.throws(() => resolveDataDir({}, env({})), /--data-dir/);
});

Deno.test("joinPath joins with single slashes", () => {
  assert.equal(joinPath("/a/", "b", "/c/d.txt"), "/a/b/c/d.txt");
  assert.equal(joinPath("C:\\data", "x"), "C:\\data/x");
});

Deno.test("computeContentHash depends on files and parameters, not on listing order", async () => {
  const a = { path: "d/a", sha256: "1".repeat(64), bytes: 1 };
  const b = { path: "d/b", sha256: "2".repeat(64), bytes: 2 };
  const h = await computeContentHash("set", { labels: "coarse", loader: 1 }, [
    a,
    b,
  ]);
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.equal(
    await computeContentHash("set", { loader: 1, labels: "coarse" }, [b, a]),
    h,
  );
  assert.notEqual(
    await computeContentHash("set", { labels: "fine", loader: 1 }, [a, b]),
    h,
  );
  assert.notEqual(
    await computeContentHash("other", { labels: "coarse", loader: 1 }, [a, b]),
    h,
  );
  assert.notEqual(
    await computeContentHash("set", { labels: "coarse", loader: 1 }, [a, {
      ...b,
      sha256: "3".repeat(64),
    }]),
    h,
  );
  // Sizes are implied by the sha256 and do not enter the hash.
  assert.equal(
    await computeContentHash("set", { labels: "coarse", loader: 1 }, [a, {
      ...b,
      bytes: 9,
    }]),
    h,
  );
});

const ONE = enc.encode("first file\n");
const TWO = enc.encode("second file\n");

function spec(urls: string[], official: boolean): DatasetSpec {
  return {
    title: "Toy",
    files: [
      {
        path: "toy/one.txt",
        ...(official ? { bytes: ONE.length, md5: "0".repeat(32) } : {}),
      },
      { path: "toy/two.txt" },
    ],
    source: { kind: "files", urls },
  };
}

Deno.test("fetchDatasetFiles reads present files and reports their sha256", async () => {
  await withTempDir(async (dir) => {
    await writeTree(dir, { "toy/one.txt": ONE, "toy/two.txt": TWO });
    const { dataDir, files } = await fetchDatasetFiles(spec([], false), {
      dataDir: dir,
      download: false,
      checksums: "skip",
    });
    assert.equal(dataDir, dir);
    assert.deepEqual(files.map((f) => f.path), ["toy/one.txt", "toy/two.txt"]);
    assert.deepEqual(files[1]!.data, TWO);
    assert.equal(files[0]!.absPath, `${dir}/toy/one.txt`);
    assert.deepEqual(describeFiles([...files].reverse()), [
      { path: "toy/one.txt", sha256: await sha256(ONE), bytes: ONE.length },
      { path: "toy/two.txt", sha256: await sha256(TWO), bytes: TWO.length },
    ]);
  });
});

Deno.test("fetchDatasetFiles enforces official sizes and md5, and checksum records", async () => {
  await withTempDir(async (dir) => {
    await writeTree(dir, { "toy/one.txt": ONE, "toy/two.txt": TWO });
    // Right size, wrong md5 (the spec's md5 is all zeros).
    await assertDataError(
      fetchDatasetFiles(spec([], true), { dataDir: dir, download: false }),
      "checksum",
      `${dir}/toy/one.txt`,
      "md5 00000000000000000000000000000000",
      "delete it",
    );
    await writeTree(dir, { "toy/one.txt": enc.encode("first") });
    await assertDataError(
      fetchDatasetFiles(spec([], true), { dataDir: dir, download: false }),
      "checksum",
      `${dir}/toy/one.txt`,
      `expected ${ONE.length} bytes, found 5`,
    );
    const sums = await checksumsOf({
      "toy/one.txt": enc.encode("first"),
      "toy/two.txt": TWO,
    });
    const ok = await fetchDatasetFiles(spec([], true), {
      dataDir: dir,
      download: false,
      checksums: sums,
    });
    assert.equal(ok.files[0]!.sha256, sums["toy/one.txt"]);
    await assertDataError(
      fetchDatasetFiles(spec([], true), {
        dataDir: dir,
        download: false,
        checksums: { ...sums, "toy/two.txt": "ab".repeat(32) },
      }),
      "checksum",
      `${dir}/toy/two.txt`,
      `expected sha256 ${"ab".repeat(32)}, got ${sums["toy/two.txt"]}`,
    );
    await assertDataError(
      fetchDatasetFiles(spec([], true), {
        dataDir: dir,
        download: false,
        checksums: { "toy/one.txt": sums["toy/one.txt"]! },
      }),
      "checksum",
      "toy/two.txt",
      "no sha256",
    );
  });
});

Deno.test("fetchDatasetFiles lists missing files and the directory when downloads are off", async () => {
  await withTempDir(async (dir) => {
    await writeTree(dir, { "toy/two.txt": TWO });
    const err = await assertDataError(
      fetchDatasetFiles(spec(["https://example.invalid/toy/"], false), {
        dataDir: `${dir}/nowhere`,
        download: false,
      }),
      "missing",
      "toy/one.txt",
      "toy/two.txt",
      `${dir}/nowhere`,
      "https://example.invalid/toy/",
      "--data-dir",
      "DBAL_DATA",
    );
    assert.match(err.message, /^The Toy files/);
    // Only the absent file is listed when the other is present.
    const err2 = await assertDataError(
      fetchDatasetFiles(spec([], false), { dataDir: dir, download: false }),
      "missing",
      "toy/one.txt",
    );
    assert.ok(!err2.message.includes("toy/two.txt"));
  });
});

Deno.test("fetchDatasetFiles downloads missing files, falling back to the next URL", async () => {
  const server = await serveFiles({
    "good/one.txt": ONE,
    "good/two.txt": TWO,
    "bad/two.txt": enc.encode("corrupt"),
  });
  try {
    await withTempDir(async (dir) => {
      const logs: string[] = [];
      const sums = await checksumsOf({
        "toy/one.txt": ONE,
        "toy/two.txt": TWO,
      });
      const { files } = await fetchDatasetFiles(
        spec([`${server.baseUrl}/bad/`, `${server.baseUrl}/good/`], false),
        { dataDir: dir, checksums: sums, log: (m) => logs.push(m) },
      );
      // one.txt: 404 then found; two.txt: corrupt copy rejected, then found.
      assert.deepEqual(server.requests, [
        "bad/one.txt",
        "good/one.txt",
        "bad/two.txt",
        "good/two.txt",
      ]);
      assert.deepEqual(files.map((f) => f.data), [ONE, TWO]);
      assert.deepEqual(await Deno.readFile(`${dir}/toy/one.txt`), ONE);
      assert.deepEqual(await listTree(dir), ["toy/one.txt", "toy/two.txt"]);
      assert.ok(logs.some((m) => m.includes(`${server.baseUrl}/good/one.txt`)));
      // Present now: a second load fetches nothing.
      await fetchDatasetFiles(spec([`${server.baseUrl}/bad/`], false), {
        dataDir: dir,
        checksums: sums,
      });
      assert.equal(server.requests.length, 4);
    });
  } finally {
    await server.close();
  }
});

Deno.test("a download that fails its checksum is rejected and leaves no file", async () => {
  const server = await serveFiles({
    "one.txt": ONE,
    "two.txt": enc.encode("tampered"),
  });
  try {
    await withTempDir(async (dir) => {
      const sums = await checksumsOf({
        "toy/one.txt": ONE,
        "toy/two.txt": TWO,
      });
      await assertDataError(
        fetchDatasetFiles(spec(["https://unused.invalid/"], false), {
          dataDir: dir,
          baseUrl: server.baseUrl,
          checksums: sums,
        }),
        "checksum",
        `${server.baseUrl}/two.txt`,
        `expected sha256 ${sums["toy/two.txt"]}`,
        "toy/two.txt",
        dir,
      );
      // one.txt was good and is kept; nothing of two.txt, not even a temp file.
      assert.deepEqual(await listTree(dir), ["toy/one.txt"]);
    });
  } finally {
    await server.close();
  }
});

Deno.test("an unreachable source gives one download error naming files, directory and URLs", async () => {
  await withTempDir(async (dir) => {
    const offline: typeof fetch = () => Promise.reject(new TypeError("network is unreachable"));
    await assertDataError(
      fetchDatasetFiles(
        spec(["https://a.invalid/", "https://b.invalid/"], false),
        { dataDir: dir, fetch: offline },
      ),
      "download",
      "toy/one.txt",
      "toy/two.txt",
      dir,
      "https://a.invalid/one.txt (network is unreachable)",
      "https://b.invalid/one.txt",
      "DBAL_DATA",
    );
    assert.deepEqual(await listTree(dir), []);
  });
});

Deno.test("archive sources are downloaded once, verified, and unpacked into place", async () => {
  const tar = makeTar([
    { name: "pack/one.txt", data: ONE },
    { name: "pack/two.txt", data: TWO },
    { name: "pack/extra.txt", data: "not wanted" },
  ]);
  const tgz = await gzip(tar);
  const server = await serveFiles({ "toy.tar.gz": tgz });
  const archiveSpec: DatasetSpec = {
    title: "Toy",
    files: [{ path: "toy/pack/one.txt" }, { path: "toy/pack/two.txt" }],
    source: {
      kind: "archive",
      archive: { path: "toy.tar.gz" },
      urls: ["https://unused.invalid/toy.tar.gz"],
      into: "toy",
    },
  };
  try {
    await withTempDir(async (dir) => {
      const sums = {
        ...(await checksumsOf({
          "toy/pack/one.txt": ONE,
          "toy/pack/two.txt": TWO,
        })),
        "toy.tar.gz": await sha256(tgz),
      };
      const { files } = await fetchDatasetFiles(archiveSpec, {
        dataDir: dir,
        baseUrl: `${server.baseUrl}/`,
        checksums: sums,
      });
      assert.deepEqual(server.requests, ["toy.tar.gz"]);
      assert.deepEqual(files.map((f) => f.data), [ONE, TWO]);
      assert.deepEqual(await listTree(dir), [
        "toy/pack/one.txt",
        "toy/pack/two.txt",
      ]);

      await withTempDir(async (dir2) => {
        await assertDataError(
          fetchDatasetFiles(archiveSpec, {
            dataDir: dir2,
            baseUrl: server.baseUrl,
            checksums: { ...sums, "toy.tar.gz": "0".repeat(64) },
          }),
          "checksum",
          "toy.tar.gz",
        );
        assert.deepEqual(await listTree(dir2), []);
      });
    });
  } finally {
    await server.close();
  }
});
