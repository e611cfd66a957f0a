/**
 * Helpers of the sweep tests: real processes (the `exp` command, workers, a
 * `redis-server` on loopback) whose stderr is collected and watched.
 */
import { resolve } from "node:path";
import { assertEquals } from "./asserts.ts";
import { readRounds } from "../pipeline/run/results.ts";
import { realDataDir } from "../pipeline/data/testutil.ts";
import { lines } from "../pipeline/sweep/local_pool.ts";

/** The real MNIST folder, or undefined (the tests are then skipped). */
export const real = absolute(realDataDir("mnist/t10k-labels-idx1-ubyte.gz"));

/** Workers start in other folders: a relative data folder would not be found from there. */
function absolute(path: string | undefined): string | undefined {
  return path === undefined ? undefined : resolve(path);
}
export const root = new URL("../", import.meta.url).pathname;
export const cli = `${root}pipeline/cli/cli.ts`;
export const workerTs = `${root}pipeline/cli/worker.ts`;

/** Whether a program is on the PATH. */
export function has(program: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${program}`], stdout: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

/** A running process whose stderr is collected; `waitFor` resolves when a line matches. */
export class Proc {
  readonly child: Deno.ChildProcess;
  text = "";
  readonly #watchers: { re: RegExp; resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  #ended = false;
  readonly done: Promise<{ code: number; signal: Deno.Signal | null; stderr: string }>;

  /**
   * @param args the arguments after `deno`
   * @param opts working directory, environment, and a time limit (default 240 s) after which it is killed
   */
  constructor(
    args: string[],
    opts: { cwd?: string; env?: Record<string, string>; limitMs?: number; program?: string } = {},
  ) {
    const child = new Deno.Command(opts.program ?? Deno.execPath(), {
      args,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      env: { NO_COLOR: "1", ...(opts.env ?? {}) },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.child = child;
    const reading = (async () => {
      for await (const line of lines(child.stderr)) {
        this.text += line + "\n";
        for (const w of [...this.#watchers]) {
          if (w.re.test(line)) {
            this.#watchers.splice(this.#watchers.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    })();
    const limit = setTimeout(() => {
      this.text += `\n(killed by the test: still running after ${opts.limitMs ?? 240_000} ms)\n`;
      this.kill();
    }, opts.limitMs ?? 240_000);
    this.done = (async () => {
      const status = await child.status;
      clearTimeout(limit);
      await reading.catch(() => {});
      this.#ended = true;
      for (const w of this.#watchers.splice(0)) {
        w.reject(new Error(`the process ended before a line matched ${w.re}:\n${this.text.slice(-3000)}`));
      }
      await reading;
      return { code: status.code, signal: status.signal, stderr: this.text };
    })();
  }

  /** Resolves with the first line (from now on) that matches. */
  waitFor(re: RegExp): Promise<string> {
    if (this.#ended) return Promise.reject(new Error(`the process had ended before waiting for ${re}`));
    return new Promise((resolve, reject) => this.#watchers.push({ re, resolve, reject }));
  }

  kill(signal: Deno.Signal = "SIGKILL"): void {
    try {
      this.child.kill(signal);
    } catch {
      // gone
    }
  }
}

/** The `exp` command on the tiny MNIST experiment. */
export function exp(args: string[], env: Record<string, string> = {}): Proc {
  return new Proc(["run", "-A", cli, `${root}tests/tiny_mnist.ts`, "--data-dir", real ?? "", ...args], { env });
}

/** A worker process. */
export function worker(args: string[], cwd: string, env: Record<string, string> = {}): Proc {
  return new Proc(["run", "-A", workerTs, "--data-dir", real ?? "", ...args], {
    cwd,
    env: { DBAL_WASM_THREADS: "1", ...env },
  });
}

/**
 * Network namespaces joined to this one by veth pairs, as separate hosts would be: namespace k reaches
 * this host at `10.77.<k>.1` and has nothing else (no loopback service of ours, no other namespace).
 * Needs root and `ip netns`; {@link NetNamespaces.create} returns undefined where they are not available.
 */
export class NetNamespaces {
  private constructor(readonly names: readonly string[]) {}

  /** The address of this host as namespace `k` sees it. */
  hostAddress(k: number): string {
    return `10.77.${k + 1}.1`;
  }

  static async create(count: number): Promise<NetNamespaces | undefined> {
    const ip = async (...args: string[]) => {
      const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
      if (!out.success) throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
    };
    const tag = Math.random().toString(36).slice(2, 6);
    const names: string[] = [];
    try {
      for (let k = 0; k < count; k++) {
        const ns = `dbal-${tag}-${k}`, outer = `dh${tag}${k}`, inner = `dn${tag}${k}`;
        await ip("netns", "add", ns);
        names.push(ns);
        await ip("link", "add", outer, "type", "veth", "peer", "name", inner);
        await ip("link", "set", inner, "netns", ns);
        await ip("addr", "add", `10.77.${k + 1}.1/24`, "dev", outer);
        await ip("link", "set", outer, "up");
        await ip("netns", "exec", ns, "ip", "addr", "add", `10.77.${k + 1}.2/24`, "dev", inner);
        await ip("netns", "exec", ns, "ip", "link", "set", inner, "up");
        await ip("netns", "exec", ns, "ip", "link", "set", "lo", "up");
      }
      return new NetNamespaces(names);
    } catch {
      await new NetNamespaces(names).remove();
      return undefined;
    }
  }

  /** Removes the namespaces (and with them their veth pairs). */
  async remove(): Promise<void> {
    for (const ns of this.names) {
      await new Deno.Command("ip", { args: ["netns", "del", ns], stdout: "null", stderr: "null" }).output();
    }
  }
}

/** A worker process inside network namespace `ns`. */
export function workerIn(ns: string, args: string[], cwd: string): Proc {
  return new Proc(["netns", "exec", ns, Deno.execPath(), "run", "-A", workerTs, "--data-dir", real ?? "", ...args], {
    cwd,
    env: { DBAL_WASM_THREADS: "1" },
    program: "ip",
  });
}

/** What a results folder holds that must not depend on who executed it. */
export async function results(out: string) {
  const meta = JSON.parse(await Deno.readTextFile(`${out}/meta.json`));
  const rounds = await readRounds(`${out}/rounds.jsonl`);
  return { meta, rounds: rounds.map((r) => [r.acquisition, r.seed, r.round, r.accuracy, r.nll, r.acquired]) };
}

/** Runs a process to its end and checks it succeeded. */
export async function succeeds(p: Proc): Promise<string> {
  const r = await p.done;
  assertEquals(r.code, 0, r.stderr);
  return r.stderr;
}

/** A free loopback port. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A real redis-server on loopback, with its append-only file in `dir` (so a restart keeps the queue). */
export class RedisServer {
  child: Deno.ChildProcess | undefined;
  constructor(
    readonly dir: string,
    readonly port: number,
    readonly password: string,
    readonly also: readonly string[] = [],
  ) {}

  get url(): string {
    return `redis://:${this.password}@127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(this.port),
        "--bind",
        ["127.0.0.1", ...this.also].join(" "),
        "--dir",
        this.dir,
        "--appendonly",
        "yes",
        "--save",
        "",
        "--maxmemory-policy",
        "noeviction",
        "--requirepass",
        this.password,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    for (let i = 0; i < 100; i++) {
      const ping = await new Deno.Command("redis-cli", {
        args: ["-p", String(this.port), "-a", this.password, "--no-auth-warning", "ping"],
        stdout: "piped",
        stderr: "null",
      }).output();
      if (new TextDecoder().decode(ping.stdout).includes("PONG")) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("redis-server did not start");
  }

  /** SIGTERM (it writes its append-only file and exits), then waits. */
  async stop(): Promise<void> {
    if (!this.child) return;
    this.child.kill("SIGTERM");
    await this.child.status;
    this.child = undefined;
  }
}
