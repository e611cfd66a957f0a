/**
 * `parent_watch.ts` with real processes: the launching process (a shell, or a
 * real `deno task`) is killed with SIGKILL, and the watched grandchild must be
 * gone within a few seconds, having run its cleanup.
 */
import { assert, assertEquals } from "../../tests/asserts.ts";
import { ORPHANED_MESSAGE } from "./parent_watch.ts";
import { LOCK_FILE } from "./results_lock.ts";

const fixture = new URL("./_orphan_fixture.ts", import.meta.url).pathname;
const launcher = new URL("../../dbal", import.meta.url).pathname;

/** Whether a pid is gone: no `/proc/<pid>`, or a zombie nobody has reaped yet. */
function isGone(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state === "Z" || state === "X";
  } catch {
    return true;
  }
}

/** Polls until `pid` is gone; the milliseconds it took, or undefined after `limitMs`. */
async function goneWithin(pid: number, limitMs: number): Promise<number | undefined> {
  const t0 = performance.now();
  while (performance.now() - t0 < limitMs) {
    if (isGone(pid)) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

/**
 * Starts `cmd` (which runs the fixture as its child), reads the fixture's pid
 * from stdout, kills `cmd` with SIGKILL and checks that the fixture follows.
 */
async function killLauncherAndWatch(cmd: Deno.Command, dir: string): Promise<void> {
  const launched = cmd.spawn();
  const reader = launched.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!/WATCHING \d+\n/.test(out)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the fixture did not start: ${out}`);
    out += value;
  }
  const pid = Number(/WATCHING (\d+)/.exec(out)![1]);
  assert(!isGone(pid));
  assert((await Deno.stat(`${dir}/${LOCK_FILE}`)).isFile);
  launched.kill("SIGKILL");
  const status = await launched.status;
  assertEquals(status.signal, "SIGKILL");
  const took = await goneWithin(pid, 3000);
  if (took === undefined) Deno.kill(pid, "SIGKILL"); // do not leave it behind
  assert(took !== undefined, `pid ${pid} still runs 3 s after its launcher was killed`);
  // Its output pipes close once it is gone: read the rest.
  while (!(await reader.read()).done);
  const stderr = await new Response(launched.stderr).text();
  assert(stderr.includes(ORPHANED_MESSAGE), stderr);
  // The cleanup ran: it released the lock, then wrote the marker.
  assert((await Deno.stat(`${dir}/cleaned`)).isFile, "cleanup did not run");
  await Deno.stat(`${dir}/${LOCK_FILE}`).then(
    () => assert(false, "the lock was not released"),
    (e) => assert(e instanceof Deno.errors.NotFound, String(e)),
  );
}

Deno.test("parent watch: a shell that launched the process is killed with SIGKILL; the process exits", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dbal-orphan-" });
  const sh = new Deno.Command("sh", {
    // `& wait`: the shell stays the parent instead of exec'ing deno.
    args: ["-c", `"${Deno.execPath()}" run -A "${fixture}" "${dir}" & wait`],
    stdout: "piped",
    stderr: "piped",
  });
  await killLauncherAndWatch(sh, dir);
});

Deno.test("parent watch: the real path: `./dbal task` killed with SIGKILL takes its `deno run` child along", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dbal-orphan-" });
  const config = `${dir}/deno.json`;
  // The cleanup returns a promise here (the shell test's is synchronous).
  await Deno.writeTextFile(config, JSON.stringify({ tasks: { orphan: `deno run -A ${fixture} ${dir} async` } }));
  const task = new Deno.Command(launcher, {
    args: ["task", "--quiet", "--config", config, "orphan"],
    stdout: "piped",
    stderr: "piped",
  });
  await killLauncherAndWatch(task, dir);
});

Deno.test("parent watch: the watch does not keep the process alive", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dbal-orphan-" });
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", fixture, dir, "quick"] }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  assert(performance.now() - t0 < 5000, `took ${performance.now() - t0} ms`);
  assert(new TextDecoder().decode(out.stdout).startsWith("WATCHING"));
});
