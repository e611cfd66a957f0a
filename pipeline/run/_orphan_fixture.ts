/**
 * Test fixture for `parent_watch_test.ts`, run as a grandchild process:
 *
 *     deno run -A pipeline/run/_orphan_fixture.ts DIR [sync|async|quick]
 *
 * Locks DIR, starts `exitWhenOrphaned` with a cleanup that releases the lock and
 * writes `DIR/cleaned` (synchronously, or with `async` as a promise), prints
 * `WATCHING <pid>`, then sleeps forever. With `quick` it releases the lock and
 * returns at once instead (the watch must not keep it alive).
 *
 * @module
 */
import { exitWhenOrphaned } from "./parent_watch.ts";
import { lockResultsDir, releaseHeldLocks, releaseHeldLocksSync } from "./results_lock.ts";

const [dir, mode = "sync"] = Deno.args;
if (dir === undefined) throw new Error("usage: _orphan_fixture.ts DIR [sync|async|quick]");
const lock = await lockResultsDir(dir);
exitWhenOrphaned({
  cleanup: mode === "async"
    ? async () => {
      await releaseHeldLocks();
      await Deno.writeTextFile(`${dir}/cleaned`, "");
    }
    : () => {
      releaseHeldLocksSync();
      Deno.writeTextFileSync(`${dir}/cleaned`, "");
    },
});
console.log(`WATCHING ${Deno.pid}`);
if (mode === "quick") {
  await lock.release();
} else {
  setInterval(() => {}, 60_000);
}
