import assert from "node:assert/strict";
import { readTar } from "./tar.ts";
import { assertDataError, makeTar, withTempDir, writeTree } from "./testutil.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("readTar lists regular files with their exact contents", () => {
  const big = Uint8Array.from({ length: 1300 }, (_, i) => i % 256);
  const longName = `${"d".repeat(120)}/${"f".repeat(60)}.bin`;
  const tar = makeTar([
    { name: "a.txt", data: "hello" },
    { name: "dir/big.bin", data: big },
    { name: longName, data: "deep" },
    { name: "./dot.txt", data: "" },
  ]);
  const entries = readTar(tar, "t.tar");
  assert.deepEqual(entries.map((e) => e.name), [
    "a.txt",
    "dir/big.bin",
    longName,
    "dot.txt",
  ]);
  assert.ok(entries.every((e) => e.type === "file"));
  assert.equal(dec.decode(entries[0]!.data), "hello");
  assert.deepEqual(entries[1]!.data, big);
  assert.equal(dec.decode(entries[2]!.data), "deep");
  assert.equal(entries[3]!.data.length, 0);
});

Deno.test("readTar rejects a damaged header and a truncated member, naming the archive", async () => {
  const tar = makeTar([{ name: "a.txt", data: "x".repeat(2000) }]);
  const bad = tar.slice();
  bad[0] = "b".charCodeAt(0);
  await assertDataError(
    Promise.resolve().then(() => readTar(bad, "/d/arch.tar")),
    "format",
    "/d/arch.tar",
    "checksum",
  );
  await assertDataError(
    Promise.resolve().then(() => readTar(tar.subarray(0, 1024), "/d/arch.tar")),
    "format",
    "/d/arch.tar",
    "2000 bytes",
  );
});

async function hasTar(): Promise<boolean> {
  try {
    const out = await new Deno.Command("tar", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

for (const format of ["gnu", "pax", "ustar"] as const) {
  Deno.test({
    name: `readTar reads archives written by the system tar (${format})`,
    ignore: !(await hasTar()),
    fn: () =>
      withTempDir(async (dir) => {
        const longName = `sub/${"n".repeat(70)}/${"m".repeat(70)}.txt`;
        await writeTree(`${dir}/src`, {
          "one.txt": "first",
          [longName]: "long one",
          "sub/empty.bin": new Uint8Array(0),
        });
        const out = await new Deno.Command("tar", {
          args: [
            `--format=${format}`,
            "-cf",
            `${dir}/x.tar`,
            "-C",
            `${dir}/src`,
            ".",
          ],
        }).output();
        assert.ok(out.success, new TextDecoder().decode(out.stderr));
        const entries = readTar(await Deno.readFile(`${dir}/x.tar`), "x.tar");
        const files = Object.fromEntries(
          entries.filter((e) => e.type === "file").map((
            e,
          ) => [e.name, dec.decode(e.data)]),
        );
        assert.deepEqual(files, {
          "one.txt": "first",
          [longName]: "long one",
          "sub/empty.bin": "",
        });
        assert.ok(entries.some((e) => e.type === "directory" && e.name.replace(/\/$/, "") === "sub"));
      }),
  });
}

Deno.test("readTar stops at the end-of-archive blocks", () => {
  const tar = makeTar([{ name: "a", data: enc.encode("1") }]);
  const withJunk = new Uint8Array(tar.length + 512).fill(0x41);
  withJunk.set(tar);
  assert.equal(readTar(withJunk, "j.tar").length, 1);
});
