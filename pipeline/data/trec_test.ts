import assert from "node:assert/strict";
import { decodeLatin1 } from "./codec.ts";
import { loadTrec, parseTrec } from "./trec.ts";
import { assertDataError, checksumsOf, listTree, realDataDir, serveFiles, withTempDir, writeTree } from "./testutil.ts";

/** Latin-1 bytes of `text` where `\xf0` stands for the single byte 0xF0. */
function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

const TRAIN = latin1(
  "NUM:dist How far is it from Denver to Aspen ?\n" +
    "LOC:city Which city has the oldest relationship as a sister\xf0city with Los Angeles ?\n" +
    "HUM:ind Who was Galileo ?\n" +
    "NUM:date When did the war end ?\n",
);
const TEST = latin1(
  "ABBR:exp What does NASA stand for ?\nNUM:dist How tall is it ?\n",
);

Deno.test("parseTrec splits coarse and fine labels from the question", () => {
  const qs = parseTrec(decodeLatin1(TRAIN), "train");
  assert.equal(qs.length, 4);
  assert.deepEqual(qs[0], {
    coarse: "NUM",
    fine: "NUM:dist",
    text: "How far is it from Denver to Aspen ?",
  });
  assert.equal(
    qs[1]!.text,
    "Which city has the oldest relationship as a sister\u00f0city with Los Angeles ?",
  );
  assert.equal(qs[2]!.fine, "HUM:ind");
  // CRLF endings and blank lines are tolerated.
  assert.deepEqual(parseTrec("DESC:def What is X ?\r\n\r\n", "f"), [{
    coarse: "DESC",
    fine: "DESC:def",
    text: "What is X ?",
  }]);
});

Deno.test("parseTrec names the file and line of a malformed line", async () => {
  await assertDataError(
    Promise.resolve().then(() => parseTrec("NUM:dist Fine ?\nno label here\n", "/t/train_5500.label")),
    "format",
    "/t/train_5500.label",
    "line 2",
  );
});

Deno.test("loadTrec builds sorted coarse or fine label sets over both splits", async () => {
  await withTempDir(async (root) => {
    const files = {
      "trec/train_5500.label": TRAIN,
      "trec/TREC_10.label": TEST,
    };
    await writeTree(root, files);
    const checksums = await checksumsOf(files);
    const coarse = await loadTrec({
      dataDir: root,
      download: false,
      checksums,
      labels: "coarse",
    });
    assert.equal(coarse.kind, "text");
    assert.equal(coarse.name, "trec-coarse");
    assert.deepEqual(coarse.labelNames, ["ABBR", "HUM", "LOC", "NUM"]);
    assert.deepEqual([...coarse.train.y], [3, 2, 1, 3]);
    assert.deepEqual([...coarse.test.y], [0, 3]);
    assert.equal(
      coarse.train.texts[1],
      "Which city has the oldest relationship as a sister\u00f0city with Los Angeles ?",
    );
    assert.deepEqual(coarse.test.texts, [
      "What does NASA stand for ?",
      "How tall is it ?",
    ]);

    const fine = await loadTrec({
      dataDir: root,
      download: false,
      checksums,
      labels: "fine",
    });
    assert.equal(fine.name, "trec-fine");
    assert.deepEqual(fine.labelNames, [
      "ABBR:exp",
      "HUM:ind",
      "LOC:city",
      "NUM:date",
      "NUM:dist",
    ]);
    assert.deepEqual([...fine.train.y], [4, 2, 1, 3]);
    assert.deepEqual([...fine.test.y], [0, 4]);
    assert.notEqual(fine.contentHash, coarse.contentHash);
    assert.deepEqual(fine.files, coarse.files);
  });
});

Deno.test("loadTrec downloads both files from the source when missing", async () => {
  const server = await serveFiles({
    "qc/train_5500.label": TRAIN,
    "qc/TREC_10.label": TEST,
  });
  try {
    await withTempDir(async (root) => {
      const checksums = await checksumsOf({
        "trec/train_5500.label": TRAIN,
        "trec/TREC_10.label": TEST,
      });
      const ds = await loadTrec({
        dataDir: root,
        baseUrl: `${server.baseUrl}/qc`,
        checksums,
        labels: "coarse",
      });
      assert.equal(ds.train.texts.length, 4);
      assert.deepEqual(await listTree(root), [
        "trec/TREC_10.label",
        "trec/train_5500.label",
      ]);
      assert.deepEqual(
        await Deno.readFile(`${root}/trec/train_5500.label`),
        TRAIN,
      );
    });
  } finally {
    await server.close();
  }
});

Deno.test("loadTrec without files and downloads off names both files and the directory", async () => {
  await withTempDir(async (root) => {
    await assertDataError(
      loadTrec({ dataDir: root, download: false, labels: "fine" }),
      "missing",
      "trec/train_5500.label",
      "trec/TREC_10.label",
      root,
      "https://cogcomp.seas.upenn.edu/Data/QA/QC/",
    );
  });
});

const REAL = realDataDir("trec/train_5500.label");

Deno.test({
  name: "real TREC: 5,452 / 500 questions, 6 coarse and 50 fine classes",
  ignore: REAL === undefined,
  fn: async () => {
    const coarse = await loadTrec({
      dataDir: REAL!,
      download: false,
      labels: "coarse",
    });
    assert.equal(coarse.train.texts.length, 5452);
    assert.equal(coarse.test.texts.length, 500);
    assert.deepEqual(coarse.labelNames, [
      "ABBR",
      "DESC",
      "ENTY",
      "HUM",
      "LOC",
      "NUM",
    ]);
    const counts: Record<string, number> = {};
    for (const y of coarse.train.y) {
      counts[coarse.labelNames[y]!] = (counts[coarse.labelNames[y]!] ?? 0) + 1;
    }
    assert.deepEqual(counts, {
      DESC: 1162,
      ENTY: 1250,
      ABBR: 86,
      HUM: 1223,
      NUM: 896,
      LOC: 835,
    });
    // Training line 66 holds the one non-ASCII byte, 0xF0.
    assert.ok(coarse.train.texts[65]!.includes("sister\u00f0city"));
    const fine = await loadTrec({
      dataDir: REAL!,
      download: false,
      labels: "fine",
    });
    assert.equal(fine.labelNames.length, 50);
    assert.ok(
      fine.labelNames.every((l) => /^(ABBR|DESC|ENTY|HUM|LOC|NUM):\S+$/.test(l)),
    );
  },
});
