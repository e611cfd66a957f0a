/**
 * The cache seen from whole experiments: ablations reuse what did not change,
 * a corrupt entry is recomputed, and a killed run resumes to the same result.
 */
import { assert, assertEquals } from "./asserts.ts";
import { readRounds } from "../pipeline/run/results.ts";
import { realDataDir } from "../pipeline/data/testutil.ts";
import { tinyVariant, withTinyMnist } from "./fixtures.ts";

Deno.test("ablations recompute only from the stage that changed", async () => {
  await withTinyMnist(async (dir, run) => {
    const base = await run(await tinyVariant(dir, "base", { acquisitions: ["bald"], rounds: 1 }), "base");
    // 1 warm-start, 2 rounds of retrain/fit-posterior/evaluate, 1 score and acquire.
    assertEquals(base.executed, {
      "warm-start": 1,
      "retrain": 2,
      "fit-posterior": 2,
      "evaluate": 2,
      "score": 1,
      "acquire": 1,
    });
    // Only the acquisition function differs: warm-start and all of round 0 up to scoring are shared.
    const acq = await run(await tinyVariant(dir, "acq", { acquisitions: ["random"], rounds: 1 }), "acq");
    assertEquals(acq.hits, { "warm-start": 1, "retrain": 1, "fit-posterior": 1, "evaluate": 1 });
    assertEquals(acq.executed, { "score": 1, "acquire": 1, "retrain": 1, "fit-posterior": 1, "evaluate": 1 });
    // Only MC samples differ: the trained net of round 0 is reused; fit-posterior on is recomputed.
    const mc = await run(await tinyVariant(dir, "mc", { acquisitions: ["bald"], rounds: 1, mcSamples: 7 }), "mc");
    assertEquals(mc.hits, { "warm-start": 1, "retrain": 1 });
    assertEquals(mc.executed, { "fit-posterior": 2, "evaluate": 2, "score": 1, "acquire": 1, "retrain": 1 });
  });
});

Deno.test("a truncated cache entry is detected, removed and recomputed to the same result", async () => {
  await withTinyMnist(async (dir, run) => {
    const file = await tinyVariant(dir, "base", { acquisitions: ["bald"], rounds: 1 });
    const first = await run(file, "a");
    // Truncate the largest array file in the cache (a net's weights).
    let biggest = { path: "", size: 0 };
    for await (const shard of Deno.readDir(`${dir}/cache`)) {
      if (!shard.isDirectory || shard.name === "tmp") continue;
      for await (const entry of Deno.readDir(`${dir}/cache/${shard.name}`)) {
        for await (const f of Deno.readDir(`${dir}/cache/${shard.name}/${entry.name}`)) {
          const path = `${dir}/cache/${shard.name}/${entry.name}/${f.name}`;
          const size = (await Deno.stat(path)).size;
          if (f.name.endsWith(".bin") && size > biggest.size) biggest = { path, size };
        }
      }
    }
    assert(biggest.size > 0, "no array entry in the cache");
    await Deno.truncate(biggest.path, Math.floor(biggest.size / 2));
    const second = await run(file, "b");
    assertEquals(second.executed, { "retrain": 1 });
    assertEquals(second.records.map((r) => r.accuracy), first.records.map((r) => r.accuracy));
    assertEquals(second.records.map((r) => r.acquired), first.records.map((r) => r.acquired));
  });
});

const real = realDataDir("mnist/t10k-labels-idx1-ubyte.gz");
Deno.test({
  name: "a run killed with SIGKILL resumes from the cache to the uninterrupted result",
  ignore: real === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "dbal-resume-" });
    const args = (out: string, cache: string) => [
      "run",
      "-A",
      "pipeline/cli/cli.ts",
      "tests/tiny_mnist.ts",
      "--data-dir",
      real!,
      "--out",
      `${dir}/${out}`,
      "--cache-dir",
      `${dir}/${cache}`,
    ];
    try {
      // Kill the run once its second round has started.
      const child = new Deno.Command(Deno.execPath(), { args: args("killed", "c1"), stderr: "piped", stdout: "null" })
        .spawn();
      let seen = "";
      const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
      while (!/round 1\/2/.test(seen)) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
      child.kill("SIGKILL");
      await reader.cancel();
      const status = await child.status;
      assert(!status.success, `the run finished before it could be killed:\n${seen}`);
      let complete = true;
      await Deno.stat(`${dir}/killed/rounds.jsonl`).catch(() => (complete = false));
      assert(!complete, "a killed run must not leave a complete-looking rounds.jsonl");

      const resumed = await new Deno.Command(Deno.execPath(), { args: args("killed", "c1"), stderr: "piped" }).output();
      const err = new TextDecoder().decode(resumed.stderr);
      assertEquals(resumed.code, 0, err);
      assert(/restored from cache: warm-start 2, .*retrain \d/.test(err), `the rerun did not reuse the cache:\n${err}`);
      const fresh = await new Deno.Command(Deno.execPath(), { args: args("fresh", "c2"), stderr: "piped" }).output();
      assertEquals(fresh.code, 0, new TextDecoder().decode(fresh.stderr));
      const a = await readRounds(`${dir}/killed/rounds.jsonl`), b = await readRounds(`${dir}/fresh/rounds.jsonl`);
      assertEquals(
        a.map((r) => [r.acquisition, r.round, r.accuracy, r.acquired]),
        b.map((r) => [r.acquisition, r.round, r.accuracy, r.acquired]),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
