/**
 * Two runs on one results folder through the real command line: the second
 * fails at once, naming the folder and the run that holds it; the first
 * keeps every round.
 */
import { assert, assertEquals } from "./asserts.ts";
import { readRounds } from "../pipeline/run/results.ts";
import { realDataDir } from "../pipeline/data/testutil.ts";

const real = realDataDir("mnist/t10k-labels-idx1-ubyte.gz");
const cli = new URL("../pipeline/cli/cli.ts", import.meta.url).pathname;

Deno.test({
  name: "two runs on one results folder never lose a round: the second fails at once with a message",
  ignore: real === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "dbal-two-runs-" });
    const start = (cache: string, more: string[] = []) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          cli,
          "tests/tiny_mnist.ts",
          "--data-dir",
          real!,
          "--out",
          `${dir}/out`,
          "--cache-dir",
          cache,
          ...more,
        ],
        env: { DBAL_WASM_THREADS: "1", NO_COLOR: "1" },
        stdout: "null",
        stderr: "piped",
      }).spawn();
    try {
      // The first run is long enough (8 rounds) to still hold the folder when the second starts.
      const first = start(`${dir}/c1`, ["--rounds", "8"]);
      // Start the second once the first holds the folder (it takes the lock before loading data).
      for (let i = 0; i < 200; i++) {
        if (await Deno.stat(`${dir}/out/.run.lock`).then(() => true, () => false)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const second = await start(`${dir}/c2`).output();
      const err = new TextDecoder().decode(second.stderr);
      assert(!second.success, "the second run on the same folder succeeded");
      assert(/results folder .*out is in use by another run \(pid \d+/.test(err), err);
      const firstOut = await first.output();
      assertEquals(firstOut.code, 0, new TextDecoder().decode(firstOut.stderr));
      // 2 strategies x (8 rounds + the first): every round is there, once.
      const rounds = await readRounds(`${dir}/out/rounds.jsonl`);
      assertEquals(rounds.length, 18);
      assertEquals(new Set(rounds.map((r) => `${r.acquisition} ${r.round}`)).size, 18);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
