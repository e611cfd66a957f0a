/**
 * `--workers N` through the real command line: the runs of an experiment
 * split over worker processes on one cache give the results one process
 * gives, in the same order, and a rerun executes nothing.
 */
import { assertEquals } from "./asserts.ts";
import { readRounds } from "../pipeline/run/results.ts";
import { realDataDir } from "../pipeline/data/testutil.ts";

const real = realDataDir("mnist/t10k-labels-idx1-ubyte.gz");
const cli = new URL("../pipeline/cli/cli.ts", import.meta.url).pathname;

async function exp(dir: string, out: string, cache: string, more: string[] = []) {
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      cli,
      "tests/tiny_mnist.ts",
      "--data-dir",
      real!,
      "--out",
      `${dir}/${out}`,
      "--cache-dir",
      `${dir}/${cache}`,
      ...more,
    ],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  assertEquals(result.code, 0, new TextDecoder().decode(result.stderr));
  const meta = JSON.parse(await Deno.readTextFile(`${dir}/${out}/meta.json`));
  const rounds = await readRounds(`${dir}/${out}/rounds.jsonl`);
  return { meta, rounds: rounds.map((r) => [r.acquisition, r.seed, r.round, r.accuracy, r.nll, r.acquired]) };
}

Deno.test({
  name: "--workers 2 gives the results of one process, in its order; a rerun on the cache executes nothing",
  ignore: real === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "dbal-workers-" });
    try {
      const one = await exp(dir, "one", "c1", ["--seeds", "0,1"]);
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
      const solo = await exp(dir, "solo", "c1");
      const [a, b] = await Promise.all([exp(dir, "a", "shared"), exp(dir, "b", "shared")]);
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
