/**
 * Cached rerun against first run: the default example (examples/mnist-bald.ts)
 * shortened to one seed and one acquisition round (two with the full sizes),
 * run through the real CLI code path on an empty cache, then again on the
 * cache it filled. Needs the MNIST files (`DBAL_DATA`, or ../shared/data).
 *
 * @module
 */
import { parseCli, runExperimentCommand } from "../pipeline/cli/cli.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Times the first and the fully cached run.
 *
 * @param quick one round instead of two
 * @param log progress sink
 * @returns seconds of each run, runs and rounds, or `skipped: 1` without data
 */
export async function benchCachedRerun(quick: boolean, log: (m: string) => void): Promise<Record<string, number>> {
  const dataDir = Deno.env.get("DBAL_DATA") ?? "../shared/data";
  if (!(await exists(`${dataDir}/mnist`)) && !(await exists(`${dataDir}/train-images-idx3-ubyte.gz`))) {
    log(`cache: no MNIST under ${dataDir}; skipped`);
    return { skipped: 1 };
  }
  const dir = await Deno.makeTempDir({ prefix: "dbal-bench-cache-" });
  try {
    const rounds = quick ? 1 : 2;
    const run = async (out: string) => {
      const flags = parseCli([
        "examples/mnist-bald.ts",
        "--data-dir",
        dataDir,
        "--no-download",
        "--seeds",
        "0",
        "--rounds",
        String(rounds),
        "--cache-dir",
        `${dir}/cache`,
        "--out",
        `${dir}/${out}`,
      ]);
      if (typeof flags === "string") throw new Error(flags);
      const start = performance.now();
      const result = await runExperimentCommand(flags);
      return { seconds: (performance.now() - start) / 1000, result };
    };
    log("cache: first run, empty cache");
    const first = await run("first");
    log(`cache: first run ${first.seconds.toFixed(1)} s; rerun`);
    const second = await run("second");
    const executed = Object.values(second.result.executed).reduce((a, b) => a + b, 0);
    if (executed !== 0) throw new Error(`the cached rerun executed ${executed} stages`);
    const runs = new Set(first.result.records.map((r) => `${r.acquisition}/${r.seed}`)).size;
    return { first: first.seconds, rerun: second.seconds, runs, rounds: first.result.records.length };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
