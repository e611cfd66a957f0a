/**
 * Sweeps on real executors, through the real command lines: the local pool,
 * a BullMQ queue on a real `redis-server` (loopback, with a password) and a
 * SLURM array whose tasks run here with `SLURM_ARRAY_TASK_ID` set. Each
 * gives the results of one process (`--workers 1`), in its order; faults
 * (a worker SIGKILLed mid-job, Redis restarted mid-sweep, a worker with
 * other code or no data, a dead worker's lease) end as stated.
 */
import { assert, assertEquals } from "./asserts.ts";
import { openStore } from "../pipeline/run/cache/mod.ts";
import {
  exp,
  freePort,
  has,
  NetNamespaces,
  Proc,
  real,
  RedisServer,
  results,
  root,
  succeeds,
  worker,
  workerIn,
} from "./sweep_helpers.ts";

const redis = has("redis-server") && has("redis-cli");
if (!redis) console.error("sweep_test: redis-server not installed (.ci/run installs it); the queue tests are skipped");

/** 2 strategies x 2 seeds = 4 runs (jobs) of `rounds` + 1 evaluations each. */
const sweepArgs = (rounds: number) => ["--seeds", "0,1", "--rounds", String(rounds)];

let baselines: Map<number, Awaited<ReturnType<typeof results>>> | undefined;
let baseDir: string | undefined;

/** The one-process results of the sweep (computed once per number of rounds). */
async function baseline(rounds: number) {
  baselines ??= new Map();
  baseDir ??= await Deno.makeTempDir({ prefix: "dbal-sweep-base-" });
  const known = baselines.get(rounds);
  if (known) return known;
  const out = `${baseDir}/r${rounds}`;
  await succeeds(exp([...sweepArgs(rounds), "--workers", "1", "--out", out, "--cache-dir", `${baseDir}/c${rounds}`]));
  const r = await results(out);
  baselines.set(rounds, r);
  return r;
}

/** The exp command submitting the sweep to the queue at `server`, into `<dir>/out`; resolves once its jobs are queued. */
async function submit(server: RedisServer, dir: string, rounds: number, store = `${dir}/store`): Promise<Proc> {
  const sub = exp([
    ...sweepArgs(rounds),
    "--executor",
    "queue",
    "--queue",
    server.url,
    "--out",
    `${dir}/out`,
    "--cache-dir",
    store,
  ]);
  await sub.waitFor(/job\(s\) queued/);
  return sub;
}

/** A queue worker named `id`, started in `cwd`, on `store`, that stops when the queue is empty. */
function queueWorker(server: RedisServer, id: string, cwd: string, store: string, env?: Record<string, string>): Proc {
  return worker(["--queue", server.url, "--until-empty", "--id", id, "--cache-dir", store], cwd, env);
}

async function withDir(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "queue: 3 workers in their own folders on one store give the one-process results; shared stages run once",
  ignore: real === undefined || !redis,
  fn: () =>
    withDir("dbal-queue-", async (dir) => {
      const base = await baseline(2);
      const server = new RedisServer(dir, freePort(), "s3cret");
      await server.start();
      try {
        const sub = await submit(server, dir, 2);
        const homes = ["a", "b", "c"].map((w) => `${dir}/host-${w}`);
        for (const h of homes) await Deno.mkdir(h);
        const workers = homes.map((h, i) => queueWorker(server, `w${i}`, h, `${dir}/store`));
        const stderr = await succeeds(sub);
        for (const w of workers) await succeeds(w);
        const got = await results(`${dir}/out`);
        assertEquals(got.rounds, base.rounds);
        // Across the three workers, each stage was computed as often as one process computes it: the warm
        // start and round 0's nets that strategies share were computed once for the whole fleet.
        assertEquals(got.meta.executed, base.meta.executed);
        assertEquals(got.meta.executor, "queue");
        assertEquals(got.meta.jobs.length, 4);
        assert(/sweep: 12\/12 rounds, 4\/4 runs/.test(stderr), stderr);
        // The workers wrote no results folder (nor anything else) where they ran.
        for (const h of homes) assertEquals([...Deno.readDirSync(h)].length, 0, h);
        // Submitting the same sweep again finds every job done in the queue: nothing runs.
        const again = exp([...sweepArgs(2), "--executor", "queue", "--queue", server.url, "--out", `${dir}/again`]);
        const text = await succeeds(again);
        assert(/0 job\(s\) queued, 4 already there/.test(text), text);
        assertEquals((await results(`${dir}/again`)).rounds, base.rounds);
      } finally {
        await server.stop();
      }
    }),
});

const namespaces = Deno.uid() === 0 && has("ip");

Deno.test({
  name: "queue: 3 workers in their own network namespaces (as separate hosts) give the one-process results",
  ignore: real === undefined || !redis || !namespaces,
  fn: () =>
    withDir("dbal-queue-netns-", async (dir) => {
      const base = await baseline(2);
      const hosts = await NetNamespaces.create(3);
      if (hosts === undefined) {
        console.error("sweep_test: ip netns is not usable here; the namespace test checked nothing");
        return;
      }
      const addresses = hosts.names.map((_, k) => hosts.hostAddress(k));
      const server = new RedisServer(dir, freePort(), "pw", addresses);
      try {
        await server.start();
        const sub = await submit(server, dir, 2);
        // Each worker reaches Redis only through its veth pair, at the address its namespace has for this host.
        const workers = hosts.names.map((ns, k) =>
          workerIn(ns, [
            "--queue",
            `redis://:pw@${hosts.hostAddress(k)}:${server.port}`,
            "--until-empty",
            "--id",
            ns,
            "--cache-dir",
            `${dir}/store`,
          ], dir)
        );
        await succeeds(sub);
        for (const w of workers) await succeeds(w);
        const got = await results(`${dir}/out`);
        assertEquals(got.rounds, base.rounds);
        assertEquals(got.meta.executed, base.meta.executed);
        // From inside a namespace, this host's loopback Redis is not there.
        const probe = await new Deno.Command("ip", {
          args: ["netns", "exec", hosts.names[0] as string, "redis-cli", "-p", String(server.port), "ping"],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert(!new TextDecoder().decode(probe.stdout).includes("PONG"));
      } finally {
        await server.stop();
        await hosts.remove();
      }
    }),
});

Deno.test({
  name:
    "queue: workers without a shared folder, on the Redis store, give the one-process results; shared stages run once",
  ignore: real === undefined || !redis,
  fn: () =>
    withDir("dbal-queue-redis-store-", async (dir) => {
      const base = await baseline(2);
      const server = new RedisServer(dir, freePort(), "pw");
      await server.start();
      try {
        const store = `${server.url}/1`; // the store in database 1, the queue in 0
        const sub = await submit(server, dir, 2, store);
        const homes = ["a", "b"].map((w) => `${dir}/host-${w}`);
        for (const h of homes) await Deno.mkdir(h);
        const workers = homes.map((h, i) => queueWorker(server, `w${i}`, h, store));
        await succeeds(sub);
        for (const w of workers) await succeeds(w);
        const got = await results(`${dir}/out`);
        assertEquals(got.rounds, base.rounds);
        assertEquals(got.meta.executed, base.meta.executed);
        for (const h of homes) assertEquals([...Deno.readDirSync(h)].length, 0, h);
        // A rerun on the store restores everything.
        await succeeds(exp([...sweepArgs(2), "--workers", "1", "--out", `${dir}/again`, "--cache-dir", store]));
        const again = await results(`${dir}/again`);
        assertEquals(again.rounds, base.rounds);
        assertEquals(again.meta.executed, {});
      } finally {
        await server.stop();
      }
    }),
});

Deno.test({
  name: "queue: a worker SIGKILLed mid-job: its job is retried elsewhere and the results are the one-process results",
  ignore: real === undefined || !redis,
  fn: () =>
    withDir("dbal-queue-kill-", async (dir) => {
      const base = await baseline(8);
      const server = new RedisServer(dir, freePort(), "pw");
      await server.start();
      const env = { DBAL_QUEUE_LOCK_MS: "3000" };
      try {
        const sub = await submit(server, dir, 8);
        const victim = queueWorker(server, "victim", dir, `${dir}/store`, env);
        await victim.waitFor(/round 1\/8/); // mid-job: rounds 2..8 of its run are still to come
        victim.kill("SIGKILL");
        const killed = await victim.done;
        assertEquals(killed.signal, "SIGKILL");
        const others = ["w1", "w2"].map((id) => queueWorker(server, id, dir, `${dir}/store`, env));
        const stderr = await succeeds(sub);
        for (const w of others) await succeeds(w);
        const got = await results(`${dir}/out`);
        assertEquals(got.rounds, base.rounds);
        assert(/attempt 2 started/.test(stderr), stderr);
        assert(got.meta.jobs.every((j: { worker: string }) => j.worker !== "victim"), JSON.stringify(got.meta.jobs));
      } finally {
        await server.stop();
      }
    }),
});

Deno.test({
  name: "queue: Redis restarted mid-sweep: the sweep continues and ends with the one-process results",
  ignore: real === undefined || !redis,
  fn: () =>
    withDir("dbal-queue-restart-", async (dir) => {
      const base = await baseline(8);
      const server = new RedisServer(dir, freePort(), "pw");
      await server.start();
      try {
        const sub = await submit(server, dir, 8);
        const workers = ["w0", "w1"].map((id) => queueWorker(server, id, dir, `${dir}/store`));
        await workers[0]?.waitFor(/round 2\/8/);
        await server.stop();
        await new Promise((r) => setTimeout(r, 1500)); // down for a while: commands wait for the reconnection
        await server.start();
        await succeeds(sub);
        for (const w of workers) await succeeds(w);
        assertEquals((await results(`${dir}/out`)).rounds, base.rounds);
      } finally {
        await server.stop();
      }
    }),
});

Deno.test({
  name: "queue: a worker with other code refuses the job, one without the data fails it; the submitter says why",
  ignore: real === undefined || !redis,
  fn: () =>
    withDir("dbal-queue-refuse-", async (dir) => {
      const server = new RedisServer(dir, freePort(), "pw");
      await server.start();
      try {
        // An experiment file outside the checkout (jobs then name it by its absolute path), edited after submission.
        const file = `${dir}/mine.ts`;
        const source = (await Deno.readTextFile(`${root}tests/tiny_mnist.ts`)).replace(
          '"../mod.ts"',
          JSON.stringify(`${root}mod.ts`),
        );
        await Deno.writeTextFile(file, source);
        const submitMine = (out: string) =>
          new Proc([
            "run",
            "-A",
            `${root}pipeline/cli/cli.ts`,
            file,
            "--data-dir",
            real ?? "",
            "--executor",
            "queue",
            "--queue",
            server.url,
            "--out",
            `${dir}/${out}`,
            "--cache-dir",
            `${dir}/store`,
          ]);
        const sub = submitMine("out");
        await sub.waitFor(/job\(s\) queued/);
        await Deno.writeTextFile(file, source + "\n// edited on the worker's side\n");
        const w = queueWorker(server, "other", dir, `${dir}/store`);
        const refused = await sub.done;
        w.kill("SIGTERM");
        await w.done;
        assertEquals(refused.code, 1, refused.stderr);
        assert(/refuses job .* differs from the submitter's/.test(refused.stderr), refused.stderr);

        // A worker that cannot find the data: the job fails after its attempts, with the loader's message.
        await Deno.writeTextFile(file, source + "\n// another sweep\n");
        const sub2 = submitMine("out2");
        await sub2.waitFor(/job\(s\) queued/);
        const noData = new Proc(
          ["run", "-A", `${root}pipeline/cli/worker.ts`, "--queue", server.url, "--until-empty", "--no-download"],
          { cwd: dir, env: { DBAL_DATA: `${dir}/nothing-here` } },
        );
        const failed = await sub2.done;
        noData.kill("SIGTERM");
        await noData.done;
        assertEquals(failed.code, 1, failed.stderr);
        assert(/failed after 3 attempt\(s\): worker .*mnist/i.test(failed.stderr), failed.stderr);
      } finally {
        await server.stop();
      }
    }),
});

Deno.test({
  name: "local pool: --workers 3 gives the one-process results; a worker SIGKILLed mid-job is replaced",
  ignore: real === undefined,
  fn: () =>
    withDir("dbal-pool-", async (dir) => {
      const base = await baseline(8);
      const sub = exp([...sweepArgs(8), "--workers", "3", "--out", `${dir}/out`, "--cache-dir", `${dir}/store`]);
      const line = await sub.waitFor(/\[tiny-mnist w1\] run \d\/4 .* round 1\/8/);
      assert(line.length > 0);
      // The pool's workers are the submitter's children; kill w1 (found by its --id).
      const ps = new TextDecoder().decode(
        (await new Deno.Command("pgrep", { args: ["-f", "--", "--id w1 "], stdout: "piped" }).output()).stdout,
      ).trim().split("\n").filter((s) => s !== "");
      assert(ps.length >= 1, "worker w1 not found");
      for (const pid of ps) Deno.kill(Number(pid), "SIGKILL");
      const stderr = await succeeds(sub);
      assert(/worker w1 was killed \(SIGKILL\); it goes to the next free worker/.test(stderr), stderr);
      const got = await results(`${dir}/out`);
      assertEquals(got.rounds, base.rounds);
      assertEquals(got.meta.workers, 3);
    }),
});

Deno.test({
  name: "slurm: the array's tasks, run here with SLURM_ARRAY_TASK_ID, give the one-process results with --attach",
  ignore: real === undefined,
  fn: () =>
    withDir("dbal-slurm-", async (dir) => {
      const base = await baseline(2);
      const common = [...sweepArgs(2), "--executor", "slurm", "--out", `${dir}/out`, "--cache-dir", `${dir}/store`];
      const written = await succeeds(exp([...common, "--sbatch", "partition=debug"]));
      assert(/submit it with: sbatch /.test(written), written);
      const script = await Deno.readTextFile(`${dir}/out/.sweep/array.sh`);
      assert(script.includes("#SBATCH --array=0-3"), script);
      assert(script.includes("#SBATCH --partition=debug"), script);
      // Before any task ran, --attach says which are missing.
      const early = await exp([...common, "--attach"]).done;
      assertEquals(early.code, 1);
      assert(/4 of 4 array tasks have no result yet/.test(early.stderr), early.stderr);
      // Each task as SLURM would start it (two at a time, each in its own folder).
      const task = (k: number) =>
        new Deno.Command("bash", {
          args: [`${dir}/out/.sweep/array.sh`],
          env: { SLURM_ARRAY_TASK_ID: String(k), DBAL_WASM_THREADS: "1", NO_COLOR: "1" },
          stdout: "null",
          stderr: "piped",
        }).output();
      for (const pair of [[0, 1], [2, 3]]) {
        for (const r of await Promise.all(pair.map(task))) assertEquals(r.code, 0, new TextDecoder().decode(r.stderr));
      }
      // A task run again finds its result and does nothing.
      const rerun = await task(0);
      assert(/already in/.test(new TextDecoder().decode(rerun.stderr)));
      await succeeds(exp([...common, "--attach"]));
      const got = await results(`${dir}/out`);
      assertEquals(got.rounds, base.rounds);
      assertEquals(got.meta.executed, base.meta.executed);
      assertEquals(got.meta.executor, "slurm");
    }),
});

/** Whether a SLURM controller answers here (a single-node slurm-wlm: slurmctld and slurmd running). */
const slurmUp = has("sinfo") &&
  new Deno.Command("sinfo", { args: ["-h", "-o", "%a"], stdout: "piped", stderr: "null" }).outputSync().success;

Deno.test({
  name: "slurm: --submit on a live SLURM runs the array and writes the one-process results",
  ignore: real === undefined || !slurmUp,
  fn: () =>
    withDir("dbal-slurm-live-", async (dir) => {
      const base = await baseline(2);
      const stderr = await succeeds(exp([
        ...sweepArgs(2),
        "--executor",
        "slurm",
        "--submit",
        "--sbatch",
        "cpus-per-task=1",
        "--out",
        `${dir}/out`,
        "--cache-dir",
        `${dir}/store`,
      ]));
      assert(/submitted array job \d+ \(4 tasks\)/.test(stderr), stderr);
      const got = await results(`${dir}/out`);
      assertEquals(got.rounds, base.rounds);
      assertEquals(got.meta.executed, base.meta.executed);
    }),
});

Deno.test({
  name: "file store: leases left by dead workers on another host are recovered, and the run completes",
  ignore: real === undefined,
  fn: () =>
    withDir("dbal-stale-lease-", async (dir) => {
      const base = await baseline(2);
      // Every key the sweep computes (the same in any store: keys are content addresses).
      const keys = await (await openStore(`${baseDir}/c2`)).list();
      assert(keys.length > 10, `${keys.length} keys`);
      const old = new Date(Date.now() - 120_000);
      for (const key of keys) {
        const lease = `${dir}/store/leases/${key}`;
        await Deno.mkdir(lease, { recursive: true });
        const holder = { pid: 4242, host: "crashed-host", since: old.toISOString(), token: crypto.randomUUID() };
        await Deno.writeTextFile(`${lease}/.run.lock`, JSON.stringify(holder) + "\n");
        await Deno.utime(`${lease}/.run.lock`, old, old);
      }
      const stderr = await succeeds(exp([...sweepArgs(2), "--out", `${dir}/out`, "--cache-dir", `${dir}/store`]));
      assert(/took over the lock of a run that is gone \(pid 4242 on host crashed-host/.test(stderr), stderr);
      assertEquals((await results(`${dir}/out`)).rounds, base.rounds);
      assertEquals((await results(`${dir}/out`)).meta.executed, base.meta.executed);
    }),
});

Deno.test({
  name: "local pool: a suite's members are swept in turn; records and reuse equal one process's",
  ignore: real === undefined,
  fn: () =>
    withDir("dbal-suite-pool-", async (dir) => {
      const run = async (workers: string) => {
        const p = new Proc([
          "run",
          "-A",
          `${root}pipeline/cli/cli.ts`,
          `${root}tests/tiny_suite.ts`,
          "--data-dir",
          real ?? "",
          "--seeds",
          "0,1",
          "--workers",
          workers,
          "--out",
          `${dir}/w${workers}`,
          "--cache-dir",
          `${dir}/c${workers}`,
        ]);
        await succeeds(p);
        const reuse = JSON.parse(await Deno.readTextFile(`${dir}/w${workers}/reuse.json`));
        return {
          members: await Promise.all(["tiny-mnist", "tiny-mnist-t3"].map((m) => results(`${dir}/w${workers}/${m}`))),
          reuse: reuse.map((
            r: { experiment: string; executed: unknown; restored: unknown },
          ) => [r.experiment, r.executed]),
        };
      };
      const one = await run("1");
      const two = await run("2");
      assertEquals(two.members.map((m) => m.rounds), one.members.map((m) => m.rounds));
      assertEquals(two.members[0]?.rounds.length, 12);
      assertEquals(two.members[1]?.meta.executor, "local");
      // The second member reuses the first's warm starts and nets on the workers too.
      assertEquals(two.reuse, one.reuse);
    }),
});

Deno.test({
  name: "zz sweep baselines: remove their folder",
  fn: async () => {
    if (baseDir) await Deno.remove(baseDir, { recursive: true });
  },
});
