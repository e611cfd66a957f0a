/**
 * Test fixture for `store_test.ts`: a writer process that removes, puts and
 * reads back the same few keys in a loop, racing other copies of itself.
 * Prints a JSON summary; exits 1 when it saw a damaged entry (a warning) or
 * read a value other than the one stored.
 *
 * Usage: `deno run -A _store_writer_fixture.ts <dir> <writer id> <rounds>`
 *
 * @module
 */
import { sha256HexOfText } from "./_sha256.ts";
import { type EntryInput, openStore, type StoredArray } from "./store.ts";

/** Number of keys the writers share. */
export const FIXTURE_KEYS = 4;

/** The key of shared entry `j`. */
export function fixtureKey(j: number): Promise<string> {
  return sha256HexOfText(`fixture entry ${j}`);
}

/** The value of shared entry `j` (the same in every process, as keys promise). */
export function fixtureValue(j: number): { json: unknown; arrays: Record<string, StoredArray> } {
  const w = new Float32Array(16384); // 64 KiB, so that writes take a little while
  for (let i = 0; i < w.length; i++) w[i] = Math.sin(i * (j + 1)) * 1000;
  const idx = new Int32Array(1000).map((_, i) => (i * 7919 + j) % 1009);
  return {
    json: { j, label: `entry ${j}`, scores: [j, j / 3, -j] },
    arrays: { w: { data: w, shape: [128, 128] }, idx: { data: idx, shape: [1000] } },
  };
}

/** True when the two entries hold the same JSON and bit-identical arrays. */
export function sameEntry(a: EntryInput, b: EntryInput): boolean {
  if (JSON.stringify(a.json) !== JSON.stringify(b.json)) return false;
  const names = Object.keys(a.arrays ?? {}).sort();
  if (names.join() !== Object.keys(b.arrays ?? {}).sort().join()) return false;
  return names.every((name) => {
    const x = a.arrays?.[name];
    const y = b.arrays?.[name];
    if (x === undefined || y === undefined || x.data.constructor !== y.data.constructor) return false;
    if (x.shape.join() !== y.shape.join()) return false;
    const xb = new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength);
    const yb = new Uint8Array(y.data.buffer, y.data.byteOffset, y.data.byteLength);
    return xb.length === yb.length && xb.every((v, i) => v === yb[i]);
  });
}

async function main(dir: string, writer: number, rounds: number): Promise<void> {
  const warnings: string[] = [];
  const store = await openStore(dir, { warn: (message) => warnings.push(message) });
  let state = writer * 2654435761 + 1;
  const coin = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32 < 0.5;
  };
  const counts = { written: 0, exists: 0, removed: 0, hits: 0, misses: 0, wrong: 0 };
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < FIXTURE_KEYS; j++) {
      const key = await fixtureKey(j);
      const value = fixtureValue(j);
      if (round < rounds - 1 && coin() && await store.remove(key)) counts.removed++;
      counts[await store.put(key, "fixture", value)]++;
      const entry = await store.get(key);
      if (entry === undefined) counts.misses++;
      else if (sameEntry(entry, value)) counts.hits++;
      else counts.wrong++;
    }
  }
  console.log(JSON.stringify({ writer, counts, warnings }));
  if (warnings.length > 0 || counts.wrong > 0) Deno.exit(1);
}

if (import.meta.main) {
  const [dir, writer, rounds] = Deno.args;
  if (dir === undefined || writer === undefined || rounds === undefined) {
    console.error("usage: _store_writer_fixture.ts <dir> <writer id> <rounds>");
    Deno.exit(2);
  }
  await main(dir, Number(writer), Number(rounds));
}
