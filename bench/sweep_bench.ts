/**
 * Sweep throughput (`deno task bench --only sweep`): one small real sweep
 * (examples/mnist-bald.ts shortened: 7 strategies × 2 seeds, `--rounds 2`,
 * 14 jobs) run four ways on this machine, each on a fresh cache:
 *
 * - one process with every wasm thread (`--workers 1`): the baseline;
 * - one process with one wasm thread: how much the threads give, which
 *   bounds what one-thread workers can gain over the baseline;
 * - the local pool, one worker per core with one wasm thread each;
 * - the queue executor: a `redis-server` on loopback and as many
 *   `deno task worker --queue` processes, one thread each (skipped without
 *   redis-server).
 *
 * For each: wall time, jobs/s, training images/s summed over workers (the
 * images each round trained, from its record's rate and retrain seconds,
 * over the wall time), and the redis commands and store bytes per job (what
 * `docs/scale.md` multiplies). The queue's per-job overhead is its wall
 * time less the pool's, per job.
 *
 * @module
 */
import { readRounds } from "../pipeline/run/results.ts";
import { openStore } from "../pipeline/run/cache/mod.ts";

/** One row of the benchmark's table. */
export interface SweepRow {
  readonly what: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: { readonly what: string; readonly value: number };
}

const root = new URL("../", import.meta.url).pathname;

async function waitRedis(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const out = await new Deno.Command("redis-cli", {
      args: ["-p", String(port), "ping"],
      stdout: "piped",
      stderr: "null",
    })
      .output().catch(() => undefined);
    if (out && new TextDecoder().decode(out.stdout).includes("PONG")) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("redis-server did not start");
}

async function redisCommands(port: number): Promise<number> {
  const out = await new Deno.Command("redis-cli", { args: ["-p", String(port), "info", "stats"], stdout: "piped" })
    .output();
  const m = new TextDecoder().decode(out.stdout).match(/total_commands_processed:(\d+)/);
  return Number(m?.[1] ?? NaN);
}

interface Measured {
  readonly seconds: number;
  readonly jobs: number;
  readonly imagesPerSecond: number;
  readonly storeBytes: number;
}

/**
 * Runs the sweep benchmark.
 *
 * @param opts the data folder, the number of workers, and a log
 * @returns rows for the bench's table
 */
export async function benchSweep(
  opts: { dataDir: string; workers: number; rounds?: number; log: (m: string) => void },
): Promise<SweepRow[]> {
  const dir = await Deno.makeTempDir({ prefix: "dbal-bench-sweep-" });
  const rounds = opts.rounds ?? 2;
  const base = ["run", "-A", `${root}pipeline/cli/cli.ts`, `${root}examples/mnist-bald.ts`, "--seeds", "0,1"];
  const common = [...base, "--rounds", String(rounds), "--data-dir", opts.dataDir];
  const measure = async (
    name: string,
    more: string[],
    during?: () => Promise<void>,
    env?: Record<string, string>,
  ): Promise<Measured> => {
    opts.log(`sweep: ${name}`);
    const out = `${dir}/${name}`;
    const t0 = performance.now();
    const child = new Deno.Command(Deno.execPath(), {
      args: [...common, "--out", out, "--cache-dir", `${dir}/${name}-store`, ...more],
      ...(env ? { env } : {}),
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const work = during?.();
    const result = await child.output();
    await work;
    const seconds = (performance.now() - t0) / 1000;
    if (!result.success) throw new Error(`${name}: ${new TextDecoder().decode(result.stderr).slice(-2000)}`);
    const records = await readRounds(`${out}/rounds.jsonl`);
    const images = records.reduce((a, r) => a + r.trainImagesPerSecond * (r.seconds["retrain"] ?? 0), 0);
    const jobs = new Set(records.map((r) => `${r.acquisition} ${r.seed}`)).size;
    return {
      seconds,
      jobs,
      imagesPerSecond: images / seconds,
      storeBytes: (await (await openStore(`${dir}/${name}-store`)).stats()).bytes,
    };
  };
  try {
    const one = await measure("one-process", ["--workers", "1"]);
    const single = await measure("one-thread", ["--workers", "1"], undefined, { DBAL_WASM_THREADS: "1" });
    const pool = await measure("local-pool", ["--workers", String(opts.workers)]);
    const rows: SweepRow[] = [
      {
        what: `sweep of ${one.jobs} jobs (mnist-bald, 2 seeds, --rounds ${rounds}): local pool, ${opts.workers} ` +
          `processes x 1 thread, jobs/s`,
        value: pool.jobs / pool.seconds,
        unit: "jobs/s",
        baseline: { what: "1 process x all threads (--workers 1)", value: one.jobs / one.seconds },
      },
      {
        what: `same sweep, training images/s summed over the ${opts.workers} workers`,
        value: pool.imagesPerSecond,
        unit: "images/s",
        baseline: { what: "1 process x all threads", value: one.imagesPerSecond },
      },
      { what: "same sweep, wall time of the local pool", value: pool.seconds, unit: "s" },
      { what: "same sweep, wall time of 1 process x all threads", value: one.seconds, unit: "s" },
      {
        what:
          "same sweep, 1 process x all threads (the threads' gain: one-thread workers can gain at most workers / this ratio)",
        value: one.seconds,
        unit: "s",
        baseline: { what: "1 process x 1 thread", value: single.seconds },
      },
      {
        what: "store bytes per job (entries written by the sweep / jobs)",
        value: pool.storeBytes / pool.jobs,
        unit: "B",
      },
    ];
    const hasRedis = await new Deno.Command("sh", { args: ["-c", "command -v redis-server"], stdout: "null" })
      .output().then((o) => o.success, () => false);
    if (!hasRedis) {
      opts.log("sweep: redis-server not found; the queue rows are left out");
      return rows;
    }
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    const redis = new Deno.Command("redis-server", {
      args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await waitRedis(port);
      const url = `redis://127.0.0.1:${port}`;
      const before = await redisCommands(port);
      const queue = await measure("queue", ["--executor", "queue", "--queue", url], async () => {
        const workers = Array.from({ length: opts.workers }, (_, k) =>
          new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "-A",
              `${root}pipeline/cli/worker.ts`,
              "--queue",
              url,
              "--until-empty",
              "--id",
              `q${k}`,
              "--data-dir",
              opts.dataDir,
              "--cache-dir",
              `${dir}/queue-store`,
            ],
            env: { DBAL_WASM_THREADS: "1" },
            stdout: "null",
            stderr: "null",
          }).output());
        await Promise.all(workers);
      });
      const commands = (await redisCommands(port)) - before;
      rows.push(
        {
          what:
            `same sweep on the queue executor (redis-server on loopback, ${opts.workers} workers x 1 thread), jobs/s`,
          value: queue.jobs / queue.seconds,
          unit: "jobs/s",
          baseline: { what: "the local pool", value: pool.jobs / pool.seconds },
        },
        {
          what: "queue executor's overhead per job against the local pool (wall time difference / jobs)",
          value: (queue.seconds - pool.seconds) / queue.jobs,
          unit: "s/job",
        },
        {
          what:
            "redis commands per job (submitter and workers: queueing, events, a full poll every 10 s, lock renewals, progress; whole sweep / jobs)",
          value: commands / queue.jobs,
          unit: "commands/job",
        },
      );
    } finally {
      redis.kill("SIGTERM");
      await redis.status;
    }
    return rows;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
