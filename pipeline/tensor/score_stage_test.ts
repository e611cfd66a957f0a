/** The score stage warns, once, when a score gives NaN or infinite values. */
import * as E from "fp-ts/Either.js";
import { assert, assertEquals } from "../../tests/asserts.ts";
import { defineScore } from "../../dsl/strategy.ts";
import type { Posterior } from "./posterior.ts";
import { CHUNK, score } from "./stages.ts";
import type { ImageArray } from "./train.ts";

Deno.test("score: NaN and infinite scores are counted over every chunk and warned about once", async () => {
  // A score that reads no predictions, so no posterior is sampled.
  const odd = defineScore({
    name: "odd",
    usesPredictions: false,
    fn: (lp) => Float64Array.from({ length: lp.n }, (_, i) => (i % 100 === 0 ? NaN : i === 7 ? -Infinity : i)),
  });
  const pool = Array.from({ length: CHUNK + 50 }, (_, i) => i);
  const input = { posterior: {} as Posterior, images: {} as ImageArray, pool };
  const warnings: string[] = [];
  const out = await score(odd, 0, 0).run(input, { progress: () => {}, warn: (m) => warnings.push(m) })();
  assert(E.isRight(out));
  // Chunk 1 (256 items): positions 0, 100, 200 NaN, 7 -Infinity; chunk 2 (50 items): 0 NaN, 7 -Infinity.
  assertEquals(warnings, [
    `score "odd": 4 of ${CHUNK + 50} scores are NaN, 2 infinite (-Infinity); ` +
    "top-k and power acquisition take NaN and -Infinity last and +Infinity first",
  ]);
  const fine = defineScore({ name: "fine", usesPredictions: false, fn: (lp) => new Float64Array(lp.n) });
  const quiet: string[] = [];
  await score(fine, 0, 0).run(input, { progress: () => {}, warn: (m) => quiet.push(m) })();
  assertEquals(quiet, []);
});
