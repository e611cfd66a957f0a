/**
 * Cache keys never lie, seen through the real command line: editing a helper
 * module of a user's score recomputes its scores and everything downstream;
 * `--refresh score` recomputes downstream too and leaves results equal to a
 * fresh run; a rerun with nothing changed executes nothing.
 */
import { assert, assertEquals } from "./asserts.ts";
import { readRounds } from "../pipeline/run/results.ts";
import { realDataDir } from "../pipeline/data/testutil.ts";

const real = realDataDir("mnist/t10k-labels-idx1-ubyte.gz");
const root = new URL("../", import.meta.url);

/** A user experiment whose score ranks by predictive entropy times a sign read from a helper module and an env var. */
function experimentFile(): string {
  return `import { defineScore, experiment, mcDropout, strategy, topK } from "${new URL("mod.ts", root).href}";
import tiny from "${new URL("tests/tiny_mnist.ts", root).href}";
import { sign } from "./helper.ts";

// The env var is invisible to any key: only --refresh can make a run see it.
const envSign = Number(Deno.env.get("DBAL_TEST_SIGN") ?? "1");
const signed = defineScore({
  name: "signed-entropy",
  fn: (lp) => {
    const out = new Float64Array(lp.n);
    for (let i = 0; i < lp.n; i++) {
      let h = 0;
      for (let k = 0; k < lp.c; k++) {
        let p = 0;
        for (let s = 0; s < lp.t; s++) p += Math.exp(lp.data[(i * lp.t + s) * lp.c + k] ?? -Infinity) / lp.t;
        if (p > 0) h -= p * Math.log(p);
      }
      out[i] = sign() * envSign * h;
    }
    return out;
  },
});
const { acquisitions: _a, acquireSize: _s, mcSamples: _m, ...base } = tiny;
export default experiment({
  ...base,
  name: "keys",
  strategies: [strategy({ posterior: mcDropout({ samples: 3 }), score: signed, acquire: topK(10) })],
  rounds: 2,
});
`;
}

interface CliRun {
  readonly executed: string;
  readonly acquired: number[][];
  readonly accuracy: number[];
}

async function exp(dir: string, out: string, cache: string, extra: string[] = [], sign = "1"): Promise<CliRun> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("pipeline/cli/cli.ts", root).pathname,
      `${dir}/exp.ts`,
      "--data-dir",
      real!,
      "--out",
      `${dir}/${out}`,
      "--cache-dir",
      `${dir}/${cache}`,
      "--backend",
      "wasm",
      ...extra,
    ],
    env: { DBAL_TEST_SIGN: sign, DBAL_WASM_THREADS: "1" },
    stderr: "piped",
    stdout: "null",
  }).output();
  const err = new TextDecoder().decode(result.stderr);
  assertEquals(result.code, 0, err);
  const executed = err.match(/stages executed: (.*);/)?.[1] ?? "";
  const rounds = await readRounds(`${dir}/${out}/rounds.jsonl`);
  return { executed, acquired: rounds.map((r) => [...r.acquired]), accuracy: rounds.map((r) => r.accuracy) };
}

Deno.test({
  name: "editing a user score's helper recomputes its scores and everything downstream; a plain rerun executes nothing",
  ignore: real === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "dbal-keys-" });
    try {
      await Deno.writeTextFile(`${dir}/exp.ts`, experimentFile());
      await Deno.writeTextFile(`${dir}/helper.ts`, "export const sign = () => 1;\n");
      const first = await exp(dir, "a", "cache");
      assert(/score 2/.test(first.executed), first.executed);
      const rerun = await exp(dir, "b", "cache");
      assertEquals(rerun.executed, "none");
      assertEquals(rerun.acquired, first.acquired);
      // The helper now reverses the ranking: scores, acquisitions and the later rounds' nets are recomputed.
      await Deno.writeTextFile(`${dir}/helper.ts`, "export const sign = () => -1;\n");
      const edited = await exp(dir, "c", "cache");
      assert(/score 2/.test(edited.executed) && /acquire 2/.test(edited.executed), edited.executed);
      assert(/retrain 2/.test(edited.executed), `rounds 1 and 2 must retrain: ${edited.executed}`);
      assert(!/warm-start/.test(edited.executed), `the warm start does not depend on the score: ${edited.executed}`);
      assert(JSON.stringify(edited.acquired) !== JSON.stringify(first.acquired), "the edit changed nothing");
      const fresh = await exp(dir, "d", "fresh-cache");
      assertEquals(edited.acquired, fresh.acquired);
      assertEquals(edited.accuracy, fresh.accuracy);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "--refresh score recomputes downstream and overwrites: results equal a fresh run's",
  ignore: real === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "dbal-refresh-" });
    try {
      await Deno.writeTextFile(`${dir}/exp.ts`, experimentFile());
      await Deno.writeTextFile(`${dir}/helper.ts`, "export const sign = () => 1;\n");
      const first = await exp(dir, "a", "cache");
      // A change no key can see (an env var): without --refresh the cache answers for the old scores.
      const stale = await exp(dir, "b", "cache", [], "-1");
      assertEquals(stale.executed, "none");
      const refreshed = await exp(dir, "c", "cache", ["--refresh", "score"], "-1");
      const fresh = await exp(dir, "d", "fresh-cache", [], "-1");
      assert(JSON.stringify(fresh.acquired) !== JSON.stringify(first.acquired), "the sign changed nothing");
      assertEquals(refreshed.acquired, fresh.acquired);
      assertEquals(refreshed.accuracy, fresh.accuracy);
      // The refreshed entries replaced the old ones: a plain rerun now gives the new results, executing nothing.
      const after = await exp(dir, "e", "cache", [], "-1");
      assertEquals(after.executed, "none");
      assertEquals(after.acquired, fresh.acquired);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
