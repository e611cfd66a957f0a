/**
 * A common evaluator (the experiment's `evaluator`): strategies with different
 * posteriors that train the same nets (same seed) get the same round-0
 * metrics from it, computed once; without it their own posteriors give them
 * different metrics. Bad uses are decode errors naming the field.
 */
import * as E from "fp-ts/Either.js";
import { assert, assertEquals } from "./asserts.ts";
import tiny from "./tiny_mnist.ts";
import { tinyVariant, withTinyMnist } from "./fixtures.ts";
import { decodeExperiment } from "../dsl/experiment.ts";

const strategies = [
  { name: "mc-bald", posterior: { name: "mc-dropout", samples: 5 }, score: "bald", acquire: { name: "top-k", k: 10 } },
  {
    name: "det-entropy",
    posterior: { name: "deterministic" },
    score: "max-entropy",
    acquire: { name: "top-k", k: 10 },
  },
];

Deno.test("a common evaluator judges every strategy by the same posterior, evaluated once per shared nets", async () => {
  await withTinyMnist(async (dir, run) => {
    const base = { acquisitions: [], rounds: 1, strategies };
    const own = await run(await tinyVariant(dir, "own", base), "own");
    const common = await run(
      await tinyVariant(dir, "common", { ...base, evaluator: { name: "mc-dropout", samples: 5 } }),
      "common",
    );
    const first = (records: typeof own.records, name: string) =>
      records.find((r) => r.acquisition === name && r.round === 0)!;
    // Own posteriors: the deterministic net's softmax and the MC average of the same net differ.
    assert(first(own.records, "mc-bald").nll !== first(own.records, "det-entropy").nll, "own posteriors differ");
    // The common evaluator: identical metrics for both, and the MC strategy's numbers are what its own evaluator gave.
    for (const key of ["accuracy", "nll"] as const) {
      assertEquals(first(common.records, "mc-bald")[key], first(common.records, "det-entropy")[key], key);
    }
    // Round 0's evaluation ran once for the two strategies (the second restored it); in round 1 their labelled
    // sets, and so their nets, differ: one evaluation each.
    assertEquals(common.executed["evaluate"], 3);
    assertEquals(common.hits["evaluate"], 1);
    // Acquisitions still follow each strategy's own posterior and score: the deterministic one acquires as before.
    assertEquals(first(common.records, "det-entropy").acquired, first(own.records, "det-entropy").acquired);
  });
});

Deno.test("evaluator: an ensemble evaluator over single-net strategies, or an unknown field in it, is a decode error naming it", () => {
  const many = decodeExperiment({ ...tiny, evaluator: { name: "ensemble", members: 3 } });
  assert(E.isLeft(many));
  assert(
    many.left.some((p) => /^evaluator: ensemble needs 3 nets, but strategy 0 \(bald\) trains 1/.test(p)),
    many.left.join("\n"),
  );
  const unknown = decodeExperiment({ ...tiny, evaluator: { name: "mc-dropout", sample: 3 } });
  assert(E.isLeft(unknown));
  assert(unknown.left.some((p) => p.startsWith("evaluator")), unknown.left.join("\n"));
});
