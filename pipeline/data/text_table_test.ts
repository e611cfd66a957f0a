import assert from "node:assert/strict";
import { loadTextTable } from "./text_table.ts";
import { assertDataError, sha256, withTempDir, writeTree } from "./testutil.ts";

const CSV = 'id,text,label\n1,"Great phone, would buy",pos\n2,"Broke\non day one",neg\n\n3,Fine,pos\n4,Meh,neu\n';

Deno.test("loadTextTable reads a CSV train and test file with quoted and multi-line cells", async () => {
  await withTempDir(async (dir) => {
    const test = "text,label\nLovely,pos\nAwful,neg\n";
    await writeTree(dir, { "reviews.csv": CSV, "test.csv": test });
    const ds = await loadTextTable(`${dir}/reviews.csv`, { testPath: `${dir}/test.csv` });
    assert.equal(ds.kind, "text");
    assert.equal(ds.name, "reviews");
    assert.deepEqual(ds.labelNames, ["neg", "neu", "pos"]);
    assert.deepEqual(ds.train.texts, ["Great phone, would buy", "Broke\non day one", "Fine", "Meh"]);
    assert.deepEqual([...ds.train.y], [2, 0, 2, 1]);
    assert.deepEqual(ds.test.texts, ["Lovely", "Awful"]);
    assert.deepEqual([...ds.test.y], [2, 0]);
    assert.deepEqual(ds.files, [
      { path: "reviews.csv", sha256: await sha256(CSV), bytes: CSV.length },
      { path: "test.csv", sha256: await sha256(test), bytes: test.length },
    ]);
    const again = await loadTextTable(`${dir}/reviews.csv`, { testPath: `${dir}/test.csv` });
    assert.equal(again.contentHash, ds.contentHash);
    // Train and test swapped is another data set, though the same two files.
    await writeTree(dir, { "b.csv": CSV.replace("Meh", "Meh!"), "a.csv": CSV });
    const one = await loadTextTable(`${dir}/a.csv`, { testPath: `${dir}/b.csv` });
    const other = await loadTextTable(`${dir}/b.csv`, { testPath: `${dir}/a.csv` });
    assert.notEqual(one.contentHash, other.contentHash);
    // One changed byte changes the hash.
    await writeTree(dir, { "test.csv": test.replace("Lovely", "Lovelx") });
    assert.notEqual(
      (await loadTextTable(`${dir}/reviews.csv`, { testPath: `${dir}/test.csv` })).contentHash,
      ds.contentHash,
    );
  });
});

Deno.test("loadTextTable holds out a fraction of each class by row hash, deterministically", async () => {
  await withTempDir(async (dir) => {
    const lines = ["body\ttopic"];
    for (let i = 0; i < 30; i++) lines.push(`text number ${i}\t${["a", "b", "c"][i % 3]}`);
    await writeTree(dir, { "t.tsv": lines.join("\r\n") + "\r\n" });
    const opts = { textColumn: "body", labelColumn: "topic", testFraction: 0.2, name: "topics" } as const;
    const ds = await loadTextTable(`${dir}/t.tsv`, opts);
    assert.equal(ds.name, "topics");
    assert.deepEqual(ds.labelNames, ["a", "b", "c"]);
    assert.equal(ds.train.texts.length, 24);
    assert.equal(ds.test.texts.length, 6);
    for (let k = 0; k < 3; k++) assert.equal(ds.test.y.filter((v) => v === k).length, 2);
    // Every row is in exactly one split with its own label.
    const all = [
      ...ds.train.texts.map((t, i) => [t, ds.train.y[i]]),
      ...ds.test.texts.map((t, i) => [t, ds.test.y[i]]),
    ];
    assert.deepEqual(
      all.sort((p, q) => Number(String(p[0]).slice(12)) - Number(String(q[0]).slice(12))),
      Array.from({ length: 30 }, (_, i) => [`text number ${i}`, i % 3]),
    );
    const again = await loadTextTable(`${dir}/t.tsv`, opts);
    assert.deepEqual(again.test.texts, ds.test.texts);
    assert.equal(again.contentHash, ds.contentHash);
    const more = await loadTextTable(`${dir}/t.tsv`, { ...opts, testFraction: 0.5 });
    assert.equal(more.test.texts.length, 15);
    assert.notEqual(more.contentHash, ds.contentHash);
  });
});

Deno.test("loadTextTable reads single- and multi-label JSONL", async () => {
  await withTempDir(async (dir) => {
    const jsonl = [
      '{"text": "Rates rise", "label": "econ", "extra": 1}',
      "",
      '{"text": "Cup final", "label": "sport"}\r',
      '{"text": "Budget vote", "label": 7}',
    ].join("\n");
    await writeTree(dir, {
      "news.jsonl": jsonl,
      "multi.jsonl":
        '{"text": "a", "tags": ["x", "y"]}\n{"text": "b", "tags": []}\n{"text": "c", "tags": ["z", "x", "x"]}\n',
      "multi_test.jsonl": '{"text": "d", "tags": ["y"]}\n',
    });
    const single = await loadTextTable(`${dir}/news.jsonl`, { testFraction: 0 });
    assert.deepEqual(single.labelNames, ["7", "econ", "sport"]);
    assert.deepEqual(single.train.texts, ["Rates rise", "Cup final", "Budget vote"]);
    assert.deepEqual([...single.train.y], [1, 2, 0]);
    assert.equal(single.test.texts.length, 0);
    const multi = await loadTextTable(`${dir}/multi.jsonl`, {
      multiLabel: true,
      labelColumn: "tags",
      testPath: `${dir}/multi_test.jsonl`,
    });
    assert.equal(multi.kind, "multilabel");
    assert.deepEqual(multi.labelNames, ["x", "y", "z"]);
    assert.deepEqual([...multi.train.y], [1, 1, 0, 0, 0, 0, 1, 0, 1]);
    assert.deepEqual([...multi.train.ids], [1, 2, 3]);
    assert.deepEqual([...multi.test.y], [0, 1, 0]);
    assert.deepEqual([...multi.test.ids], [1]);
  });
});

Deno.test("loadTextTable reads multi-label CSV cells separated by |, holding out rows", async () => {
  await withTempDir(async (dir) => {
    const rows = ["text,label"];
    for (let i = 0; i < 10; i++) rows.push(`doc ${i},${i % 2 === 0 ? "b | a" : "c"}`);
    await writeTree(dir, { "m.csv": rows.join("\n") });
    const ds = await loadTextTable(`${dir}/m.csv`, { multiLabel: true, testFraction: 0.3 });
    assert.deepEqual(ds.labelNames, ["a", "b", "c"]);
    assert.equal(ds.train.texts.length, 7);
    assert.equal(ds.test.texts.length, 3);
    const ids = [...ds.train.ids, ...ds.test.ids].sort((a, b) => a - b);
    assert.deepEqual(ids, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const split of [ds.train, ds.test]) {
      split.texts.forEach((t, i) => {
        const row = split.ids[i]!;
        assert.equal(t, `doc ${row - 1}`);
        assert.deepEqual([...split.y.subarray(i * 3, i * 3 + 3)], (row - 1) % 2 === 0 ? [1, 1, 0] : [0, 0, 1]);
      });
    }
  });
});

Deno.test("loadTextTable names the file and the row or line of each problem", async () => {
  const cases: {
    name: string;
    files: Record<string, string | Uint8Array>;
    test?: string;
    multi?: boolean;
    bad: string;
    parts: string[];
  }[] = [
    {
      name: "missing label column",
      files: { "a.csv": "text,category\nhi,x\n" },
      bad: "a.csv",
      parts: ['no "label" column', '"text", "category"'],
    },
    {
      name: "bad JSONL line",
      files: { "a.jsonl": '{"text": "ok", "label": "x"}\n{"text": "broken", "label": \n' },
      bad: "a.jsonl",
      parts: ["line 2 is not valid JSON"],
    },
    {
      name: "JSONL line not an object",
      files: { "a.jsonl": '{"text": "ok", "label": "x"}\n\n["text", "x"]\n' },
      bad: "a.jsonl",
      parts: ["line 3 is not a JSON object"],
    },
    {
      name: "JSONL line without label",
      files: { "a.jsonl": '{"text": "ok"}\n' },
      bad: "a.jsonl",
      parts: ['line 1 has no "label" field'],
    },
    {
      name: "empty text in CSV",
      files: { "a.csv": 'text,label\nok,x\n"multi\nline",y\n  ,x\n' },
      bad: "a.csv",
      parts: ["row 3 (line 5) has an empty text"],
    },
    {
      name: "empty label in CSV",
      files: { "a.csv": "text,label\nok,\n" },
      bad: "a.csv",
      parts: ["row 1 (line 2) has an empty label"],
    },
    {
      name: "unknown label in the test file",
      files: { "a.csv": "text,label\nok,x\n", "t.csv": "text,label\nfine,x\nodd,y\n" },
      test: "t.csv",
      bad: "t.csv",
      parts: ['row 2 (line 3) has the label "y"', "a.csv does not have"],
    },
    {
      name: "unknown multi-label in the test file",
      files: { "a.jsonl": '{"text": "ok", "label": ["x"]}\n', "t.jsonl": '{"text": "fine", "label": ["x", "q"]}\n' },
      test: "t.jsonl",
      multi: true,
      bad: "t.jsonl",
      parts: ['line 1 has the label "q"'],
    },
    {
      name: "multi-label JSONL with a string label",
      files: { "a.jsonl": '{"text": "ok", "label": "x"}\n' },
      multi: true,
      bad: "a.jsonl",
      parts: ['line 1: "label" is not a JSON array'],
    },
    {
      name: "ragged CSV row",
      files: { "a.csv": "text,label\nok,x\nbad,x,extra\n" },
      bad: "a.csv",
      parts: ["not valid CSV", "line 3"],
    },
    {
      name: "unclosed quote",
      files: { "a.csv": 'text,label\n"ok,x\n' },
      bad: "a.csv",
      parts: ["not valid CSV", "Quote Not Closed"],
    },
    {
      name: "invalid UTF-8",
      files: { "a.csv": Uint8Array.from([...new TextEncoder().encode("text,label\n"), 0xff, 0x2c, 0x78, 0x0a]) },
      bad: "a.csv",
      parts: ["not valid UTF-8"],
    },
    {
      name: "empty file",
      files: { "a.csv": "" },
      bad: "a.csv",
      parts: ["no header row"],
    },
    {
      name: "unknown extension",
      files: { "a.txt": "text,label\n" },
      bad: "a.txt",
      parts: ["format cannot be told"],
    },
  ];
  for (const c of cases) {
    await withTempDir(async (dir) => {
      await writeTree(dir, c.files);
      const train = `${dir}/${Object.keys(c.files)[0]}`;
      const opts = {
        ...(c.test === undefined ? {} : { testPath: `${dir}/${c.test}` }),
        ...(c.multi === true ? { multiLabel: true } : {}),
      };
      await assertDataError(loadTextTable(train, opts), "format", `${dir}/${c.bad}`, ...c.parts);
    });
  }
  await withTempDir(async (dir) => {
    await assertDataError(loadTextTable(`${dir}/none.csv`), "missing", `${dir}/none.csv`, "does not exist");
    await writeTree(dir, { "a.csv": "text,label\nok,x\n" });
    await assertDataError(
      loadTextTable(`${dir}/a.csv`, { testPath: `${dir}/t.csv` }),
      "missing",
      `${dir}/t.csv`,
      "test file",
    );
  });
});
