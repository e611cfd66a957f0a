import { assert, assertEquals } from "../tests/asserts.ts";
import { galCnn, smallCnn } from "../dsl/model.ts";
import { lastLayerOnly, median, peakRssMiB, randomImages } from "./sections.ts";

Deno.test("lastLayerOnly keeps only the dropout before the last layer, and every other layer as it was", () => {
  for (const spec of [galCnn(10, [28, 28, 1]), smallCnn(10, [32, 32, 3])]) {
    const out = lastLayerOnly(spec);
    const kinds = out.layers.map((l) => l.kind);
    assertEquals(kinds.filter((k) => k === "dropout").length, 1);
    assertEquals(kinds.at(-2), "dropout");
    assertEquals(out.layers.at(-2), spec.layers.findLast((l) => l.kind === "dropout"));
    assertEquals(out.layers.filter((l) => l.kind !== "dropout"), spec.layers.filter((l) => l.kind !== "dropout"));
    assertEquals(out.inputShape, spec.inputShape);
  }
});

Deno.test("randomImages: the net's input shape, seeded", () => {
  const a = randomImages(smallCnn(10, [32, 32, 3]), 3, 5);
  assertEquals(a.shape, [3, 32, 32, 3]);
  assertEquals(a.x.length, 3 * 32 * 32 * 3);
  assertEquals(randomImages(smallCnn(10, [32, 32, 3]), 3, 5).x, a.x);
  assert(new Set(a.x).size > 200, "bytes spread over the range");
});

Deno.test("peakRssMiB is the high-water mark: at least the current RSS", () => {
  const block = new Uint8Array(64 * 2 ** 20).fill(1);
  const now = Deno.memoryUsage().rss / 2 ** 20;
  assert(peakRssMiB() >= now - 1, `peak ${peakRssMiB()} MiB below current ${now} MiB`);
  assertEquals(block[block.length - 1], 1);
});

Deno.test("median: middle value, or the mean of the two middle values", () => {
  assertEquals(median([5, 1, 3]), 3);
  assertEquals(median([4, 1, 3, 2]), 2.5);
  assertEquals(median([7]), 7);
});
