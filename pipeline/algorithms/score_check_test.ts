import { assertEquals } from "../../tests/asserts.ts";
import { topK } from "./acquire.ts";
import { powerAcquisition } from "./batch.ts";
import { countNonFinite, nonFiniteWarning } from "./score_check.ts";

Deno.test("countNonFinite counts NaN and each infinity, across chunks", () => {
  const counts = countNonFinite(Float64Array.of(1, NaN, Infinity, 0, NaN));
  assertEquals(counts, { nan: 2, posInf: 1, negInf: 0 });
  countNonFinite([-Infinity, NaN, -0, Number.MAX_VALUE], counts);
  assertEquals(counts, { nan: 3, posInf: 1, negInf: 1 });
  assertEquals(countNonFinite([]), { nan: 0, posInf: 0, negInf: 0 });
});

Deno.test("nonFiniteWarning says how many, of how many, and what the rules do with them", () => {
  const tail = "; top-k and power acquisition take NaN and -Infinity last and +Infinity first";
  assertEquals(nonFiniteWarning("bald", { nan: 0, posInf: 0, negInf: 0 }, 200), undefined);
  assertEquals(
    nonFiniteWarning("bald", { nan: 3, posInf: 1, negInf: 0 }, 200),
    `score "bald": 3 of 200 scores are NaN, 1 infinite (+Infinity)${tail}`,
  );
  assertEquals(nonFiniteWarning("x", { nan: 5, posInf: 0, negInf: 0 }, 9), `score "x": 5 of 9 scores are NaN${tail}`);
  assertEquals(
    nonFiniteWarning("x", { nan: 0, posInf: 1, negInf: 2 }, 9),
    `score "x": 3 of 9 scores are infinite (1 +Infinity, 2 -Infinity)${tail}`,
  );
  assertEquals(
    nonFiniteWarning("x", { nan: 0, posInf: 0, negInf: 2 }, 9),
    `score "x": 2 of 9 scores are infinite (-Infinity)${tail}`,
  );
  // What the message says of top-k holds: +Infinity first, NaN and -Infinity last, in candidate order.
  const picked = topK("t", [10, 11, 12, 13, 14], [NaN, 1, -Infinity, Infinity, 0], 5, () => {}).indices;
  assertEquals(picked, [13, 11, 14, 10, 12]);
  // And of power acquisition.
  const drawn = powerAcquisition([NaN, 1, -Infinity, Infinity, 0.5], 5, 1, Math.random);
  assertEquals([drawn[0], drawn[3], drawn[4]], [3, 2, 0]);
});
