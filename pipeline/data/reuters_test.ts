import assert from "node:assert/strict";
import { decodeLatin1 } from "./codec.ts";
import { decodeSgmlText, loadReuters, modApte, parseReutersSgml, REUTERS_SPEC } from "./reuters.ts";
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

/** Latin-1 bytes of `text` (every char below U+0100). */
function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

const HEADER = '<!DOCTYPE lewis SYSTEM "lewis.dtd">\n';

const TWO_STORIES = HEADER +
  '<REUTERS TOPICS="YES" LEWISSPLIT="TRAIN" CGISPLIT="TRAINING-SET" OLDID="5544" NEWID="1">\n' +
  "<DATE>26-FEB-1987 15:01:01.79</DATE>\n" +
  "<TOPICS><D>cocoa</D></TOPICS>\n" +
  "<PLACES><D>el-salvador</D><D>usa</D></PLACES>\n<PEOPLE></PEOPLE>\n" +
  "<UNKNOWN> \n&#5;&#5;&#5;C T\n&#22;&#22;&#1;f0704&#31;reute\n</UNKNOWN>\n" +
  "<TEXT>&#2;\n<TITLE>BAHIA COCOA &lt;REVIEW&gt;</TITLE>\n" +
  "<DATELINE>    SALVADOR, Feb 26 - </DATELINE><BODY>Showers &amp; sun in M\xfcnchen,\n" +
  "    said &#34;Smith&#34;.\n Reuter\n&#3;</BODY></TEXT>\n</REUTERS>\n" +
  '<REUTERS TOPICS="YES" LEWISSPLIT="TEST" CGISPLIT="TRAINING-SET" OLDID="5545" NEWID="2">\n' +
  "<TOPICS><D>grain</D><D>wheat</D><D>grain</D></TOPICS>\n" +
  '<TEXT TYPE="BRIEF">&#2;\n******<TITLE>WHEAT BRIEF</TITLE>\n&#3;\n</TEXT>\n</REUTERS>\n';

Deno.test("decodeSgmlText decodes references and drops control characters", () => {
  assert.equal(
    decodeSgmlText("&lt;ABC&gt; &amp; &#65;&#x42;&#X43; &quot;q&quot;\n&#3;"),
    '<ABC> & ABC "q"\n',
  );
  assert.equal(decodeSgmlText("a&#2;b&#127;c\td"), "abc\td");
  assert.equal(decodeSgmlText("AT&T &unknown; & 5"), "AT&T &unknown; & 5");
});

Deno.test("parseReutersSgml reads attributes, topics, title and body", () => {
  const stories = parseReutersSgml(
    decodeLatin1(latin1(TWO_STORIES)),
    "reut2-000.sgm",
  );
  assert.equal(stories.length, 2);
  const [a, b] = stories as [typeof stories[0], typeof stories[0]];
  assert.equal(a.newId, 1);
  assert.equal(a.lewisSplit, "TRAIN");
  assert.equal(a.topicsAttr, "YES");
  assert.deepEqual(a.topics, ["cocoa"]);
  assert.equal(a.title, "BAHIA COCOA <REVIEW>");
  assert.equal(
    a.body,
    'Showers & sun in M\u00fcnchen,\n    said "Smith".\n Reuter',
  );
  assert.equal(a.text, `${a.title}\n${a.body}`);
  assert.equal(b.newId, 2);
  assert.equal(b.lewisSplit, "TEST");
  // A repeated topic counts once.
  assert.deepEqual(b.topics, ["grain", "wheat"]);
  assert.equal(b.body, "");
  assert.equal(b.text, "WHEAT BRIEF");
});

Deno.test("parseReutersSgml falls back to the raw text of unprocessed stories", () => {
  const sgml = HEADER +
    '<REUTERS TOPICS="NO" LEWISSPLIT="TRAIN" CGISPLIT="TRAINING-SET" OLDID="5" NEWID="9">\n' +
    '<TOPICS></TOPICS>\n<TEXT TYPE="UNPROC">&#2;\nFEDERAL RESERVE REPORT\n Net 1 vs 2\n&#3;</TEXT>\n</REUTERS>\n';
  const [s] = parseReutersSgml(sgml, "f");
  assert.deepEqual(s?.topics, []);
  assert.equal(s?.text, "FEDERAL RESERVE REPORT\n Net 1 vs 2");
});

Deno.test("parseReutersSgml names the file of an unclosed or unnumbered story", async () => {
  const run = (f: () => unknown) => Promise.resolve().then(f);
  const cut = TWO_STORIES.slice(0, TWO_STORIES.lastIndexOf("</REUTERS>"));
  await assertDataError(
    run(() => parseReutersSgml(cut, "/r/reut2-004.sgm")),
    "format",
    "/r/reut2-004.sgm",
    "opens 2",
    "closes 1",
  );
  await assertDataError(
    run(() => parseReutersSgml(TWO_STORIES.replace('NEWID="2"', 'NEWID=""'), "/r/x.sgm")),
    "format",
    "/r/x.sgm",
    "NEWID",
  );
});

/** An SGML story with the given split attributes and topics. */
function story(
  newId: number,
  split: string,
  topicsAttr: string,
  topics: string[],
): string {
  return `<REUTERS TOPICS="${topicsAttr}" LEWISSPLIT="${split}" CGISPLIT="TRAINING-SET" OLDID="${
    newId + 100
  }" NEWID="${newId}">\n` +
    `<TOPICS>${topics.map((t) => `<D>${t}</D>`).join("")}</TOPICS>\n` +
    `<TEXT>&#2;\n<TITLE>STORY ${newId}</TITLE>\n<BODY>Body of ${newId} &amp; more.\n&#3;</BODY></TEXT>\n</REUTERS>\n`;
}

const FIRST = HEADER +
  story(1, "TRAIN", "YES", ["cocoa"]) +
  story(2, "TEST", "YES", ["grain", "wheat"]) +
  story(3, "TRAIN", "YES", ["grain", "ship"]) +
  story(4, "TEST", "YES", ["cocoa"]) +
  story(5, "TRAIN", "YES", ["wheat", "gold"]);
const LATER = HEADER +
  story(6, "TRAIN", "YES", ["gold"]) + // gold has no test story: dropped, and so is this story
  story(7, "TRAIN", "NO", ["cocoa"]) + // not TOPICS="YES"
  story(8, "NOT-USED", "YES", ["cocoa"]) +
  story(9, "TEST", "YES", []) +
  story(10, "TEST", "YES", ["ship", "cocoa"]);

Deno.test("modApte keeps categories with train and test stories, and stories with one of them", () => {
  const stories = [
    ...parseReutersSgml(FIRST, "a"),
    ...parseReutersSgml(LATER, "b"),
  ];
  const m = modApte(stories);
  assert.deepEqual(m.labelNames, ["cocoa", "grain", "ship", "wheat"]);
  assert.deepEqual([...m.train.ids], [1, 3, 5]);
  assert.deepEqual([...m.test.ids], [2, 4, 10]);
  assert.deepEqual([...m.train.y], [1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1]);
  assert.deepEqual([...m.test.y], [0, 1, 0, 1, 1, 0, 0, 0, 1, 0, 1, 0]);
  assert.equal(m.train.texts[1], "STORY 3\nBody of 3 & more.");
});

/** The 22 SGML files: stories 1-5 in reut2-000, 6-10 in reut2-013, others empty. */
function sgmlFiles(prefix: string): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (let i = 0; i < 22; i++) {
    const name = `${prefix}reut2-${String(i).padStart(3, "0")}.sgm`;
    files[name] = latin1(i === 0 ? FIRST : i === 13 ? LATER : HEADER);
  }
  return files;
}

Deno.test("loadReuters reads all 22 files into the ModApte multi-label splits", async () => {
  await withTempDir(async (root) => {
    const files = sgmlFiles("reuters21578/");
    await writeTree(root, files);
    const ds = await loadReuters({
      dataDir: root,
      download: false,
      checksums: await checksumsOf(files),
    });
    assert.equal(ds.kind, "multilabel");
    assert.deepEqual(ds.labelNames, ["cocoa", "grain", "ship", "wheat"]);
    assert.deepEqual([...ds.train.ids], [1, 3, 5]);
    assert.deepEqual([...ds.test.ids], [2, 4, 10]);
    assert.equal(ds.test.y.length, 3 * 4);
    assert.deepEqual(ds.test.texts[2], "STORY 10\nBody of 10 & more.");
    assert.equal(ds.files.length, 22);
    assert.equal(ds.files[13]?.path, "reuters21578/reut2-013.sgm");
    assert.equal(
      ds.files[13]?.sha256,
      await sha256(files["reuters21578/reut2-013.sgm"]!),
    );
  });
});

Deno.test("loadReuters downloads the archive and unpacks the SGML files", async () => {
  const members = sgmlFiles("./");
  const tgz = await gzip(makeTar([
    ...Object.entries(members).map(([name, data]) => ({ name, data })),
    { name: "./README.txt", data: "Reuters-21578" },
  ]));
  const server = await serveFiles({ "reuters21578.tar.gz": tgz });
  try {
    await withTempDir(async (root) => {
      const onDisk = sgmlFiles("reuters21578/");
      const checksums = {
        ...(await checksumsOf(onDisk)),
        "reuters21578.tar.gz": await sha256(tgz),
      };
      const ds = await loadReuters({
        dataDir: root,
        baseUrl: server.baseUrl,
        checksums,
      });
      assert.deepEqual(server.requests, ["reuters21578.tar.gz"]);
      assert.deepEqual([...ds.train.ids], [1, 3, 5]);
      assert.deepEqual(await listTree(root), Object.keys(onDisk).sort());
    });
  } finally {
    await server.close();
  }
});

Deno.test("loadReuters reports a missing archive member and saves nothing", async () => {
  const members = sgmlFiles("");
  delete members["reut2-021.sgm"];
  const tgz = await gzip(
    makeTar(Object.entries(members).map(([name, data]) => ({ name, data }))),
  );
  const server = await serveFiles({ "reuters21578.tar.gz": tgz });
  try {
    await withTempDir(async (root) => {
      await assertDataError(
        loadReuters({
          dataDir: root,
          baseUrl: server.baseUrl,
          checksums: "skip",
        }),
        "format",
        "reuters21578.tar.gz",
        "reut2-021.sgm",
        root,
      );
      assert.deepEqual(await listTree(root), []);
    });
  } finally {
    await server.close();
  }
});

const REAL = realDataDir("reuters21578/reut2-000.sgm");

Deno.test({
  name: "real Reuters-21578: ModApte counts of the README",
  ignore: REAL === undefined,
  fn: async () => {
    const ds = await loadReuters({ dataDir: REAL!, download: false });
    const L = ds.labelNames.length;
    assert.equal(L, 90);
    assert.equal(ds.train.texts.length, 7770);
    assert.equal(ds.test.texts.length, 3019);
    const multi = (y: Uint8Array, n: number) => {
      let count = 0;
      for (let i = 0; i < n; i++) {
        let k = 0;
        for (let j = 0; j < L; j++) k += y[i * L + j]!;
        assert.ok(k >= 1, `story ${i} has no category`);
        if (k > 1) count++;
      }
      return count;
    };
    assert.equal(multi(ds.train.y, 7770), 1192);
    assert.equal(multi(ds.test.y, 3019), 436);
    assert.ok(ds.labelNames.includes("earn") && ds.labelNames.includes("acq"));
    assert.equal(ds.train.ids[0], 1);
    assert.ok(
      ds.train.texts[0]!.startsWith("BAHIA COCOA REVIEW\nShowers continued"),
    );
    assert.equal(new Set([...ds.train.ids, ...ds.test.ids]).size, 7770 + 3019);
    assert.ok(
      ds.train.texts.every((t) => t.length > 0) &&
        ds.test.texts.every((t) => t.length > 0),
    );
    assert.equal(ds.files.length, REUTERS_SPEC.files.length);
  },
});
