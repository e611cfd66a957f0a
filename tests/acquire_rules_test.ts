/**
 * Batch-aware acquisition rules through the real CLI code path on tiny
 * MNIST: BatchBALD, power sampling, core-set, BADGE, EMOC, suggestive
 * annotation, discriminative AL and learning loss each pick a full batch
 * of distinct pool items, are cached, and reproduce on a rerun.
 */
import * as E from "fp-ts/Either.js";
import { assert, assertEquals } from "./asserts.ts";
import tiny from "./tiny_mnist.ts";
import { tinyVariant, withTinyMnist } from "./fixtures.ts";
import { decodeExperiment } from "../dsl/experiment.ts";

const mc = { name: "mc-dropout", samples: 6, consistent: true };

Deno.test("every batch rule (BatchBALD, power, core-set, BADGE, EMOC, suggestive, DAL, learning loss) picks distinct pool items, cached and reproducible", async () => {
  await withTinyMnist(async (dir, run) => {
    const file = await tinyVariant(dir, "exp", {
      acquisitions: [],
      rounds: 2,
      strategies: [
        { name: "batch-bald", posterior: mc, score: "bald", acquire: { name: "batch-bald", k: 10 } },
        { name: "power", posterior: mc, score: "bald", acquire: { name: "power", k: 10, beta: 1 } },
        { name: "core-set", posterior: mc, score: "random", acquire: { name: "core-set", k: 10 } },
        { name: "badge", posterior: mc, score: "random", acquire: { name: "badge", k: 10 } },
        { name: "emoc", posterior: mc, score: "random", acquire: { name: "emoc", k: 10, reference: 50 } },
        { name: "suggestive", posterior: mc, score: "bald", acquire: { name: "suggestive", k: 10, shortlist: 20 } },
        {
          name: "discriminative",
          posterior: mc,
          score: "random",
          acquire: { name: "discriminative", k: 10, subBatches: 2, hidden: [16], epochs: 3 },
        },
        {
          name: "learning-loss",
          posterior: mc,
          score: "random",
          acquire: { name: "learning-loss", k: 10, hidden: [16], epochs: 10 },
        },
      ],
    });
    const first = await run(file, "a");
    const names = ["batch-bald", "power", "core-set", "badge", "emoc", "suggestive", "discriminative", "learning-loss"];
    for (const name of names) {
      const rs = first.records.filter((r) => r.acquisition === name);
      assertEquals(rs.map((r) => r.acquired.length), [10, 10, 0], name);
      const all = rs.flatMap((r) => r.acquired);
      assertEquals(new Set(all).size, all.length, `${name} acquired an item twice`);
    }
    const second = await run(file, "b");
    assertEquals(second.executed, {});
    assertEquals(second.records.map((r) => r.acquired), first.records.map((r) => r.acquired));
  });
});

Deno.test("BatchBALD over a posterior without joint samples is rejected before any work", () => {
  const d = decodeExperiment({
    ...tiny,
    acquisitions: [],
    strategies: [{
      posterior: { name: "mc-dropout", samples: 4 },
      score: "bald",
      acquire: { name: "batch-bald", k: 5 },
    }],
  });
  assert(E.isLeft(d));
  assert(d.left[0]?.startsWith("strategies.0.acquire: batch-bald needs joint samples"), d.left.join("\n"));
});
