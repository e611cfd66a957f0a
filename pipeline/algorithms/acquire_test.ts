import { assertEquals, assertRejects } from "../../tests/asserts.ts";
import { topK } from "./acquire.ts";

const quiet = () => {};

Deno.test("topK picks the highest scores, ties to the earlier candidate, NaN last", () => {
  const got = topK("t", [10, 11, 12, 13, 14], [0.5, NaN, 0.9, 0.5, 0.1], 3, quiet);
  assertEquals(got.indices, [12, 10, 13]);
  assertEquals(got.scores, [0.9, 0.5, 0.5]);
});

Deno.test("topK returns the whole pool with a warning when the pool is smaller than the batch", () => {
  const warnings: string[] = [];
  const got = topK("acquire/top-k", [3, 1], [0.2, 0.4], 5, (m) => warnings.push(m));
  assertEquals(got.indices, [1, 3]);
  assertEquals(warnings.length, 1);
});

Deno.test("topK rejects all-NaN scores, naming the stage", async () => {
  await assertRejects(() => topK("acquire/top-k", [1, 2], [NaN, NaN], 1, quiet), /acquire\/top-k: every score is NaN/);
});

Deno.test("topK rejects a candidate list with repeats", async () => {
  await assertRejects(() => topK("acquire/top-k", [1, 1], [0.1, 0.2], 1, quiet), /twice/);
});
