/**
 * Test fixture for `results_lock_test.ts`, run as a child process:
 *
 *     deno run -A pipeline/run/_lock_fixture.ts DIR HOLD_MS [START_AT_MS]
 *
 * Waits until START_AT_MS (epoch ms, so that racers start together), locks DIR,
 * prints `LOCKED <holder json>`, holds it HOLD_MS (forever when negative) and
 * releases it; prints `BUSY <message>` and exits 3 when the folder is busy.
 *
 * @module
 */
import { lockResultsDir, ResultsBusyError } from "./results_lock.ts";

const [dir, holdArg, startArg] = Deno.args;
if (dir === undefined || holdArg === undefined) throw new Error("usage: _lock_fixture.ts DIR HOLD_MS [START_AT_MS]");
const startAt = Number(startArg ?? 0);
if (startAt > Date.now()) await new Promise((r) => setTimeout(r, startAt - Date.now()));
try {
  const lock = await lockResultsDir(dir);
  console.log(`LOCKED ${JSON.stringify(lock.holder)}`);
  const hold = Number(holdArg);
  await new Promise((r) => setTimeout(r, hold < 0 ? 2 ** 31 - 1 : hold));
  await lock.release();
  console.log("RELEASED");
} catch (e) {
  if (!(e instanceof ResultsBusyError)) throw e;
  console.log(`BUSY ${e.message}`);
  Deno.exit(3);
}
