/**
 * `results_lock.ts` with real processes: racers, a holder killed with SIGKILL,
 * a stale lock from another host, release and relock.
 */
import { assert, assertEquals, assertRejects } from "../../tests/asserts.ts";
import { LOCK_FILE, type LockHolder, lockResultsDir, ResultsBusyError } from "./results_lock.ts";

const fixture = new URL("./_lock_fixture.ts", import.meta.url).pathname;
const BUSY =
  /^results folder .+ is in use by another run \(pid \d+ on host .+, since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\); wait for it to finish or choose another folder with --out$/;

/** A child running the fixture, with its stdout read line by line. */
function spawnFixture(...args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fixture, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  const done = (async () => {
    let rest = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts);
      waiters.splice(0).forEach((w) => w());
    }
    waiters.splice(0).forEach((w) => w());
  })();
  const stderr = new Response(child.stderr).text();
  /** Resolves with the first line starting with `prefix`, or undefined when stdout closed without one. */
  const line = async (prefix: string): Promise<string | undefined> => {
    let closed = false;
    void done.then(() => closed = true);
    for (;;) {
      const hit = lines.find((l) => l.startsWith(prefix));
      if (hit !== undefined || closed) return hit;
      await new Promise<void>((r) => {
        waiters.push(r);
        void done.then(r);
      });
    }
  };
  const finish = async () => {
    const status = await child.status;
    await done;
    return { code: status.code, signal: status.signal, stdout: lines, stderr: await stderr };
  };
  return { child, line, finish };
}

async function tempDir(): Promise<string> {
  return `${await Deno.makeTempDir({ prefix: "dbal-lock-" })}/results/x`;
}

Deno.test("results lock: two processes race for one folder; exactly one gets it, the other fails at once", async () => {
  const dir = await tempDir();
  const startAt = String(Date.now() + 1000); // both are loaded by then, and go together
  const a = spawnFixture(dir, "2500", startAt);
  const b = spawnFixture(dir, "2500", startAt);
  const timed = (f: ReturnType<typeof spawnFixture>) => f.finish().then((r) => ({ ...r, at: Date.now() }));
  const [fa, fb] = await Promise.all([timed(a), timed(b)]);
  const codes = [fa.code, fb.code].sort();
  assertEquals(codes, [0, 3], `${fa.stderr}\n${fb.stderr}`);
  const [winner, loser] = fa.code === 0 ? [fa, fb] : [fb, fa];
  assert(winner.stdout.some((l) => l.startsWith("LOCKED")) && winner.stdout.includes("RELEASED"), winner.stdout.join());
  // The loser failed at once: well before the winner let go (2.5 s after startAt).
  assert(loser.at < Number(startAt) + 2000, `the loser ended ${loser.at - Number(startAt)} ms after the start`);
  const holder = JSON.parse(winner.stdout.find((l) => l.startsWith("LOCKED"))!.slice(7)) as LockHolder;
  const message = loser.stdout.find((l) => l.startsWith("BUSY"))!.slice(5);
  assert(BUSY.test(message), message);
  assert(message.startsWith(`results folder ${dir} is in use by another run (pid ${holder.pid} on host `), message);
  // Released: the folder is free again.
  const lock = await lockResultsDir(dir);
  await lock.release();
});

Deno.test("results lock: a holder killed with SIGKILL is taken over at once (its pid is gone)", async () => {
  const dir = await tempDir();
  const holder = spawnFixture(dir, "-1");
  assert(await holder.line("LOCKED"), "the fixture did not lock");
  await assertRejects(() => lockResultsDir(dir, { onWarning: () => {} }), BUSY);
  holder.child.kill("SIGKILL");
  const { signal } = await holder.finish();
  assertEquals(signal, "SIGKILL");
  const warnings: string[] = [];
  const t0 = performance.now();
  const lock = await lockResultsDir(dir, { onWarning: (m) => warnings.push(m) });
  assert(performance.now() - t0 < 1000, `took ${performance.now() - t0} ms`);
  assertEquals(warnings.length, 1);
  assert(
    /took over the lock of a run that is gone \(pid \d+ .*: process \d+ no longer exists\)/.test(warnings[0]!),
    warnings[0],
  );
  assertEquals(JSON.parse(await Deno.readTextFile(lock.path)).pid, Deno.pid);
  await lock.release();
});

Deno.test("results lock: four processes race to take over one dead lock; exactly one gets it", async () => {
  const dir = await tempDir();
  await Deno.mkdir(dir, { recursive: true });
  const gone = new Deno.Command("true").spawn();
  const { pid } = gone;
  await gone.status;
  const dead = { pid, host: Deno.hostname(), since: "2026-12-01T10:00:00Z", token: "dead" };
  await Deno.writeTextFile(`${dir}/${LOCK_FILE}`, JSON.stringify(dead) + "\n");
  const startAt = String(Date.now() + 1000);
  const racers = [0, 1, 2, 3].map(() => spawnFixture(dir, "1000", startAt));
  const results = await Promise.all(racers.map((r) => r.finish()));
  assertEquals(results.map((r) => r.code).sort(), [0, 3, 3, 3], results.map((r) => r.stderr).join("\n"));
  const warned = results.filter((r) => r.stderr.includes(`took over the lock of a run that is gone (pid ${pid} `));
  assertEquals(warned.length, 1, results.map((r) => r.stderr).join("\n"));
  assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), []); // it existed before: kept
});

Deno.test("results lock: another host's lock is taken over only once its heartbeat is stale", async () => {
  const dir = await tempDir();
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/${LOCK_FILE}`;
  const foreign = { pid: 1, host: "elsewhere.invalid", since: "2026-12-01T10:00:00Z", token: "t" };
  await Deno.writeTextFile(path, JSON.stringify(foreign) + "\n");
  // Fresh heartbeat: busy, and the message names the foreign holder.
  const e = await assertRejects(() => lockResultsDir(dir, { staleMs: 1000 }), BUSY);
  assert(e instanceof ResultsBusyError && e.holder?.host === "elsewhere.invalid");
  assert(e.message.includes("(pid 1 on host elsewhere.invalid, since 2026-12-01T10:00:00Z)"), e.message);
  // Waiting: taken once the mtime is older than staleMs.
  const warnings: string[] = [];
  const t0 = performance.now();
  const lock = await lockResultsDir(dir, {
    staleMs: 1000,
    wait: true,
    pollMs: 100,
    onWarning: (m) => warnings.push(m),
  });
  const waited = performance.now() - t0;
  assert(waited >= 900 && waited < 3000, `waited ${waited} ms`);
  assert(/no heartbeat for \d+ s/.test(warnings[0] ?? ""), warnings.join());
  await lock.release();
});

Deno.test("results lock: on this host the pid decides, not the mtime; a reused pid does not hold it", async () => {
  const dir = await tempDir();
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/${LOCK_FILE}`;
  const live = await lockResultsDir(dir);
  const old = new Date(Date.now() - 3600_000);
  await Deno.utime(path, old, old);
  await assertRejects(() => lockResultsDir(dir, { staleMs: 1000 }), BUSY); // alive (this very process)
  await live.release();
  // A record of this pid with another start time: the pid was reused by a new process.
  const reused = { pid: Deno.pid, host: Deno.hostname(), since: "2026-12-01T10:00:00Z", start: "1", token: "t" };
  await Deno.writeTextFile(path, JSON.stringify(reused) + "\n");
  const warnings: string[] = [];
  const lock = await lockResultsDir(dir, { onWarning: (m) => warnings.push(m) });
  assert(warnings[0]?.includes("pid reused"), warnings.join());
  await lock.release();
});

Deno.test("results lock: release, then relock; release twice; await using", async () => {
  const dir = await tempDir();
  const lock = await lockResultsDir(dir);
  assert((await Deno.stat(dir)).isDirectory);
  await lock.release();
  await lock.release();
  await assertRejects(() => Deno.stat(dir), /No such file|not found/i); // it created the folder: gone, being empty
  {
    await using again = await lockResultsDir(dir);
    await assertRejects(() => lockResultsDir(dir), BUSY);
    assertEquals(JSON.parse(await Deno.readTextFile(again.path)).token, again.holder.token);
  }
  const sync = await lockResultsDir(dir); // the block released it
  sync.releaseSync();
  await sync.release(); // already released: nothing to do
  const third = await lockResultsDir(dir);
  await Deno.writeTextFile(`${dir}/rounds.jsonl`, "");
  await Promise.all([third.release(), third.release()]);
  const files = [...Deno.readDirSync(dir)].map((e) => e.name);
  assertEquals(files, ["rounds.jsonl"], `left behind: ${files}`);
});

Deno.test("results lock: release never removes another run's lock; the heartbeat reports the loss", async () => {
  const dir = await tempDir();
  const compromised: string[] = [];
  const lock = await lockResultsDir(dir, { heartbeatMs: 100, onCompromised: (m) => compromised.push(m) });
  const before = (await Deno.stat(lock.path)).mtime!.getTime();
  await new Promise((r) => setTimeout(r, 1200));
  assert((await Deno.stat(lock.path)).mtime!.getTime() > before, "the heartbeat did not touch the lock");
  // Someone else's lock now stands in its place.
  const other = JSON.stringify({ pid: 1, host: "elsewhere.invalid", since: "2026-12-01T10:00:00Z", token: "o" }) + "\n";
  await Deno.writeTextFile(lock.path, other);
  await new Promise((r) => setTimeout(r, 400));
  assertEquals(compromised.length, 1, compromised.join());
  assert(compromised[0]!.includes("replaced by another run's"), compromised[0]);
  await lock.release();
  assertEquals(await Deno.readTextFile(lock.path), other);
});

Deno.test("results lock: wait polls until the holder releases", async () => {
  const dir = await tempDir();
  const holder = spawnFixture(dir, "1500");
  assert(await holder.line("LOCKED"), "the fixture did not lock");
  const t0 = performance.now();
  const lock = await lockResultsDir(dir, { wait: true, pollMs: 100 });
  assert(performance.now() - t0 > 500, "did not wait");
  const { code } = await holder.finish();
  assertEquals(code, 0);
  await lock.release();
});
