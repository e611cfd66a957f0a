/**
 * What a results folder says it came from: the recorded command has every
 * flag that decides the results, and none that only says where things live.
 */
import { assert, assertEquals } from "./asserts.ts";
import { tinyVariant, withTinyMnist } from "./fixtures.ts";

Deno.test("meta.json and summary.md record the flags that decide the results (seeds, rounds, backend)", async () => {
  await withTinyMnist(async (dir, run) => {
    const file = await tinyVariant(dir, "exp", { acquisitions: ["random"], rounds: 2 });
    await run(file, "a", { seeds: [1], rounds: 1 });
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/a/meta.json`));
    // The tiny runner asks for wasm explicitly; the cache and results folders are not part of the command.
    assertEquals(meta.command, `deno task exp ${file} --seeds 1 --rounds 1 --backend wasm`);
    assert((await Deno.readTextFile(`${dir}/a/summary.md`)).includes(`--seeds 1 --rounds 1`));
  });
});
