import assert from "node:assert/strict";
import { decodeLatin1, gunzip, md5Hex, sha256Hex } from "./codec.ts";
import { assertDataError, gzip } from "./testutil.ts";

const enc = new TextEncoder();

Deno.test("sha256Hex and md5Hex match the published test vectors", async () => {
  assert.equal(
    await sha256Hex(enc.encode("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(md5Hex(enc.encode("abc")), "900150983cd24fb0d6963f7d28e17f72");
  assert.equal(md5Hex(new Uint8Array(0)), "d41d8cd98f00b204e9800998ecf8427e");
});

Deno.test("sha256Hex hashes only the view, not the whole buffer", async () => {
  const big = enc.encode("xxabcxx");
  assert.equal(
    await sha256Hex(big.subarray(2, 5)),
    await sha256Hex(enc.encode("abc")),
  );
});

Deno.test("gunzip inverts CompressionStream and reports damage by file name", async () => {
  const raw = new Uint8Array(5000).map((_, i) => (i * 7) % 251);
  const packed = await gzip(raw);
  assert.deepEqual(gunzip(packed, "a.gz"), raw);
  await assertDataError(
    Promise.resolve().then(() => gunzip(packed.subarray(0, packed.length - 20), "/x/a.gz")),
    "format",
    "/x/a.gz",
    "gunzip",
  );
  await assertDataError(
    Promise.resolve().then(() => gunzip(enc.encode("not gzip at all"), "b.gz")),
    "format",
    "b.gz",
  );
});

Deno.test("decodeLatin1 maps every byte to the code point of the same value", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const s = decodeLatin1(all);
  assert.equal(s.length, 256);
  for (let i = 0; i < 256; i++) assert.equal(s.charCodeAt(i), i);
  // 0x80..0x9F differ between Latin-1 and windows-1252; 0x80 is the euro sign there.
  assert.equal(decodeLatin1(Uint8Array.of(0x80)), "\u0080");
  assert.equal(decodeLatin1(Uint8Array.of(0x73, 0xf0, 0x63)), "s\u00f0c");
  assert.equal(decodeLatin1(enc.encode("plain ascii")), "plain ascii");
});

Deno.test("decodeLatin1 handles inputs longer than its chunk size", () => {
  const bytes = Uint8Array.from(
    { length: 20000 },
    (_, i) => (i % 3 === 0 ? 0x85 : 0x41 + (i % 26)),
  );
  const s = decodeLatin1(bytes);
  assert.equal(s.length, 20000);
  assert.equal(s.charCodeAt(0), 0x85);
  assert.equal(s.charCodeAt(19999), bytes[19999]);
  assert.equal(s.charCodeAt(8192), bytes[8192]);
});
