/**
 * `--workers N` through the real command line: the runs of an experiment
 * split over worker processes on one cache give the results one process
 * gives, in the same order, and a rerun executes nothing.
 */
import { assert, assertEquals } from "./asserts.ts";
import { readFinishedRuns } from "../pipeline/run/finished_runs.ts";
import { exp as expCommand, real, results, succeeds } from "./sweep_helpers.ts";

/** Runs the tiny experiment into `<dir>/<out>` on the cache `<dir>/<cache>`; its results. */
async function exp(dir: string, out: string, cache: string, more: string[] = []) {
  await succeeds(expCommand(["--out", `${dir}/${out}`, "--cache-dir", `${dir}/${cache}`, ...more]));
  return await results(`${dir}/${out}`);
}

Deno.test({
  name: "--workers 2 gives the results of one process, in its order; a rerun on the cache executes nothing",
  ignore: real === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "dbal-workers-" });
    try {
      const one = await exp(dir, "one", "c1", ["--seeds", "0,1", "--workers", "1"]);
      const two = await exp(dir, "two", "c2", ["--seeds", "0,1", "--workers", "2"]);
      // 2 strategies x 2 seeds x 3 evaluations.
      assertEquals(one.rounds.length, 12);
      assertEquals(two.rounds, one.rounds);
      assertEquals(two.meta.workers, 2);
      const again = await exp(dir, "again", "c2", ["--seeds", "0,1", "--workers", "2"]);
      assertEquals(again.rounds, one.rounds);
      assertEquals(again.meta.executed, {});
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "two processes on one cache compute each key once (leases), and both get the one-process results",
  ignore: real === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "dbal-leases-" });
    try {
      const solo = await exp(dir, "solo", "c1", ["--workers", "1"]);
      const one = ["--workers", "1"];
      const [a, b] = await Promise.all([exp(dir, "a", "shared", one), exp(dir, "b", "shared", one)]);
      assertEquals(a.rounds, solo.rounds);
      assertEquals(b.rounds, solo.rounds);
      const total: Record<string, number> = {};
      for (const m of [a.meta, b.meta]) {
        for (const [kind, n] of Object.entries(m.executed as Record<string, number>)) {
          total[kind] = (total[kind] ?? 0) + n;
        }
      }
      // Whoever computed a key, it was computed once: together they executed what one process executes alone.
      assertEquals(total, solo.meta.executed);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a sweep SIGKILLed after its first finished run, resumed without its cache, runs only the rest",
  ignore: real === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "dbal-ledger-sweep-" });
    try {
      const one = await exp(dir, "one", "c1", ["--seeds", "0,1", "--workers", "1"]);
      const args = ["--seeds", "0,1", "--workers", "2", "--out", `${dir}/two`];
      const first = expCommand([...args, "--cache-dir", `${dir}/c2`]);
      // The sweep's line for a finished run comes after the run is in the ledger.
      await first.waitFor(/sweep: .* 1\/4 runs/);
      first.kill("SIGKILL");
      await first.done;
      const ledger = await readFinishedRuns(`${dir}/two`);
      assert(ledger.size >= 1 && ledger.size < 4, `${ledger.size} runs in the ledger`);
      // Another machine: a fresh, empty cache.
      const text = await succeeds(expCommand([...args, "--cache-dir", `${dir}/c3`]));
      assert(new RegExp(`${ledger.size} of 4 runs restored from`).test(text), text);
      const two = await results(`${dir}/two`);
      assertEquals(two.rounds, one.rounds);
      assertEquals(two.meta.restoredRuns.length, ledger.size);
      // The restored runs' stages were not run again (runs that share round 0 with them ran it themselves).
      assert(two.meta.executed["evaluate"] < one.meta.executed["evaluate"], JSON.stringify(two.meta.executed));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
