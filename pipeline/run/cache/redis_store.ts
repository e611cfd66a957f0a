/**
 * The content-addressed store on Redis, for a fleet of workers without a
 * shared mount (`--cache-dir redis://[:password@]host:port[/db]`, or
 * `rediss://` for TLS).
 *
 * Why Redis rather than an S3-compatible object store: the queue executor
 * already needs Redis, so a fleet has one server to run and secure, not two;
 * the entries of an AL study are small (a CNN's weights, a pool's scores: tens
 * of kB to a few MB; `docs/scale.md` has the measured bytes per job), well
 * within what Redis holds in memory; and Redis gives the two things a store
 * needs atomically, in one round trip: "write the entry unless one is there"
 * (`MULTI` of `HSET` on a private key and `RENAMENX`) and a lease that
 * expires by itself when its holder dies (`SET NX PX`). An object store would
 * suit studies whose entries outgrow memory (large nets, image pools); the
 * {@link StageStore} interface is where it would plug in.
 *
 * An entry is one hash, `<prefix>e:<key>`, whose fields are the blobs of the
 * filesystem store's entry (`value.json`, `<array>.bin`) and `meta.json`
 * with their sizes and sha256; reads verify them all. A lease is
 * `<prefix>lease:<key>` holding the holder's token, renewed every third of
 * its time to live while the holder lives.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Redis } from "ioredis";
import { decodeEntry, encodeEntry, type Entry, type EntryInput, listedSizes, type PutOutcome } from "./store.ts";
import type { StageStore } from "./store.ts";
import { isCacheKey } from "./key.ts";

const META = "meta.json";

/** How long a lease lives without renewal: a dead worker's lease expires after this. */
export function leaseTtlMs(): number {
  const env = Number(Deno.env.get("DBAL_LEASE_TTL_MS"));
  return Number.isFinite(env) && env > 0 ? env : 30_000;
}

const RENEW =
  `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

/**
 * A Redis URL without its password, for messages.
 *
 * @param url `redis://[user][:password]@host:port`
 * @returns the URL with `***` for its credentials
 */
export function redactedUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, "//***@");
}

/** The store on Redis; see the module doc. Made by {@link openRedisStore}. */
export class RedisStore implements StageStore {
  readonly location: string;

  /**
   * @param redis the client (closed by {@link RedisStore.close})
   * @param url the URL it was opened with (its password is left out of `location`)
   * @param prefix put before every Redis key
   * @param warn told about damaged entries before they are removed
   */
  constructor(
    readonly redis: Redis,
    url: string,
    readonly prefix = "dbal:store:",
    readonly warn: (message: string) => void = (m) => console.warn(m),
  ) {
    this.location = redactedUrl(url);
  }

  #entry(key: string): string {
    if (!isCacheKey(key)) throw new TypeError(`Cache key must be 64 lower-case hex digits, got ${JSON.stringify(key)}`);
    return `${this.prefix}e:${key}`;
  }

  async has(key: string): Promise<boolean> {
    return (await this.redis.hexists(this.#entry(key), META)) === 1;
  }

  async check(key: string): Promise<"hit" | "miss" | "damaged"> {
    const name = this.#entry(key);
    const metaText = await this.redis.hget(name, META);
    if (metaText === null) return (await this.redis.exists(name)) ? "damaged" : "miss";
    const sizes = listedSizes(key, metaText);
    if (sizes === undefined) return "damaged";
    for (const [file, bytes] of sizes) if ((await this.redis.hstrlen(name, file)) !== bytes) return "damaged";
    return "hit";
  }

  async get(key: string): Promise<Entry | undefined> {
    const name = this.#entry(key);
    const fields = await this.redis.hgetallBuffer(name);
    const meta = fields[META];
    if (meta === undefined) {
      if (Object.keys(fields).length > 0) await this.#damaged(key, "meta.json is missing (incomplete entry)");
      return undefined;
    }
    const decoded = await decodeEntry(key, meta.toString("utf8"), (file) => {
      const b = fields[file];
      return Promise.resolve(b === undefined ? undefined : new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    });
    if (decoded.kind === "hit") return decoded.entry;
    await this.#damaged(key, decoded.problem);
    return undefined;
  }

  async #damaged(key: string, problem: string): Promise<void> {
    this.warn(`cache entry ${key} (${this.location}): ${problem}; removing it`);
    await this.remove(key);
  }

  async put(key: string, stageName: string, value: EntryInput): Promise<PutOutcome> {
    const name = this.#entry(key);
    const encoded = await encodeEntry(key, stageName, value);
    if (await this.has(key)) return "exists";
    const tmp = `${this.prefix}tmp:${key}:${crypto.randomUUID()}`;
    const fields: (string | Buffer)[] = [META, JSON.stringify(encoded.meta)];
    for (const [file, bytes] of encoded.files) {
      fields.push(file, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    }
    // One transaction: the hash is built under a private name and renamed into place unless an entry is there.
    const replies = await this.redis.multi()
      .hset(tmp, ...(fields as [string, string]))
      .renamenx(tmp, name)
      .del(tmp)
      .exec();
    const renamed = replies?.[1]?.[1];
    if (replies === null || replies.some(([e]) => e !== null)) {
      throw new Error(`cache entry ${key}: Redis refused the write (${replies?.find(([e]) => e)?.[0]?.message})`);
    }
    return renamed === 1 ? "written" : "exists";
  }

  async remove(key: string): Promise<boolean> {
    return (await this.redis.del(this.#entry(key))) === 1;
  }

  async lease(key: string, onWarning: (message: string) => void): Promise<AsyncDisposable> {
    const name = `${this.prefix}lease:${key}`;
    const ttl = leaseTtlMs();
    const token = `${Deno.hostname()}:${Deno.pid}:${crypto.randomUUID()}`;
    let waited = false;
    for (;;) {
      if ((await this.redis.set(name, token, "PX", ttl, "NX")) === "OK") break;
      if (!waited) {
        waited = true;
        const holder = await this.redis.get(name);
        if (holder !== null) onWarning(`waiting for ${holder.split(":").slice(0, 2).join(" pid ")} to compute ${key}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const timer = setInterval(() => {
      void this.redis.eval(RENEW, 1, name, token, String(ttl)).catch(() => {});
    }, Math.max(100, Math.floor(ttl / 3)));
    Deno.unrefTimer(timer);
    return {
      [Symbol.asyncDispose]: async () => {
        clearInterval(timer);
        await this.redis.eval(RELEASE, 1, name, token).catch(() => {});
      },
    };
  }

  /** Closes the connection. */
  close(): void {
    this.redis.disconnect();
  }
}

/**
 * Opens the store at a Redis URL and checks that it answers.
 *
 * @param url `redis://[:password@]host:port[/db]` or `rediss://…`
 * @param options `warn` for damaged entries
 * @returns the store
 * @throws Error naming the server when it cannot be reached or refuses the password
 */
export async function openRedisStore(
  url: string,
  options: { readonly warn?: (message: string) => void } = {},
): Promise<RedisStore> {
  const redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true });
  let last: Error | undefined; // the server's own words (e.g. WRONGPASS) come as an error event
  redis.on("error", (e: Error) => last = e);
  const store = new RedisStore(redis, url, "dbal:store:", options.warn);
  try {
    await redis.connect();
    await redis.ping();
  } catch (e) {
    redis.disconnect();
    throw new Error(`cache store ${store.location}: ${last?.message ?? (e as Error).message}`);
  }
  redis.removeAllListeners("error");
  redis.on("error", () => {}); // from now on ioredis reconnects; commands wait for it
  return store;
}
