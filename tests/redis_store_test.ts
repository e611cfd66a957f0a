/**
 * The Redis store against a real `redis-server` on loopback: entries round
 * trip exactly, a second write keeps the first, a damaged entry is reported,
 * removed and read as a miss, and leases exclude each other and expire when
 * their holder stops renewing them (a dead worker).
 */
import { assert, assertEquals } from "./asserts.ts";
import { freePort, has, RedisServer } from "./sweep_helpers.ts";
import { openRedisStore } from "../pipeline/run/cache/mod.ts";
import { Redis } from "ioredis";
import { Buffer } from "node:buffer";

const redis = has("redis-server") && has("redis-cli");

async function withServer(fn: (server: RedisServer) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "dbal-redis-store-" });
  const server = new RedisServer(dir, freePort(), "pw");
  await server.start();
  try {
    await fn(server);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

const keyA = "a1".repeat(32);
const keyB = "b2".repeat(32);

Deno.test({
  name: "redis store: entries round trip; a second write keeps the first; damage is found, reported and removed",
  ignore: !redis,
  fn: () =>
    withServer(async (server) => {
      const warnings: string[] = [];
      const store = await openRedisStore(server.url, { warn: (m) => warnings.push(m) });
      try {
        assert(!store.location.includes("pw"), store.location);
        assertEquals(await store.check(keyA), "miss");
        assertEquals(await store.get(keyA), undefined);
        const value = {
          json: { accuracy: 0.875, labelled: [3, 1, 2], note: "é" },
          arrays: {
            w: { data: new Float32Array([1.5, -2.25, 3e-8]), shape: [3] },
            idx: { data: new Int32Array([7, -1, 2, 0]), shape: [2, 2] },
            mask: { data: new Uint8Array([0, 255]), shape: [2] },
            f64: { data: new Float64Array([Math.PI]), shape: [] },
          },
        };
        assertEquals(await store.put(keyA, "train", value), "written");
        assertEquals(await store.put(keyA, "train", { json: { other: true } }), "exists");
        assertEquals(await store.check(keyA), "hit");
        assert(await store.has(keyA));
        const got = await store.get(keyA);
        assertEquals(got?.json, { accuracy: 0.875, labelled: [3, 1, 2], note: "é" });
        assertEquals(Array.from(got?.arrays["w"]?.data ?? []), [1.5, -2.25, Math.fround(3e-8)]);
        assert(got?.arrays["w"]?.data instanceof Float32Array);
        assertEquals(Array.from(got?.arrays["idx"]?.data ?? []), [7, -1, 2, 0]);
        assertEquals(got?.arrays["idx"]?.shape, [2, 2]);
        assertEquals(Array.from(got?.arrays["mask"]?.data ?? []), [0, 255]);
        assertEquals(Array.from(got?.arrays["f64"]?.data ?? []), [Math.PI]);

        // Flip one byte of an array's blob, as a bad disk or a stray write would.
        const raw = new Redis(server.url);
        try {
          await raw.hset(`dbal:store:e:${keyA}`, "w.bin", Buffer.from(new Uint8Array(12).fill(1)));
          assertEquals(await store.check(keyA), "hit"); // sizes still match: check does not read the data
          assertEquals(await store.get(keyA), undefined);
          assertEquals(warnings.length, 1);
          assert(/sha256 of w\.bin/.test(warnings[0] ?? ""), warnings[0]);
          assertEquals(await raw.exists(`dbal:store:e:${keyA}`), 0);
          // A blob of the wrong size is seen without reading the data.
          await store.put(keyB, "train", value);
          await raw.hset(`dbal:store:e:${keyB}`, "idx.bin", Buffer.from(new Uint8Array(3)));
          assertEquals(await store.check(keyB), "damaged");
        } finally {
          raw.disconnect();
        }
      } finally {
        store.close();
      }
    }),
});

Deno.test({
  name: "redis store: a lease excludes a second holder until released; a dead holder's lease expires",
  ignore: !redis,
  fn: () =>
    withServer(async (server) => {
      Deno.env.set("DBAL_LEASE_TTL_MS", "600");
      const a = await openRedisStore(server.url);
      const b = await openRedisStore(server.url);
      try {
        const first = await a.lease(keyA, () => {});
        let second: AsyncDisposable | undefined;
        const waiting = b.lease(keyA, () => {}).then((l) => second = l);
        // Held and renewed: after three times the lease's life the second is still waiting.
        await new Promise((r) => setTimeout(r, 1800));
        assertEquals(second, undefined);
        await first[Symbol.asyncDispose]();
        await waiting;
        assert(second !== undefined);
        await second[Symbol.asyncDispose]();

        // A dead worker: its lease is there but nobody renews it.
        const raw = new Redis(server.url);
        await raw.set(`dbal:store:lease:${keyB}`, "elsewhere:4242:x", "PX", 600);
        raw.disconnect();
        const t0 = performance.now();
        const warned: string[] = [];
        const taken = await a.lease(keyB, (m) => warned.push(m));
        const waited = performance.now() - t0;
        assert(waited >= 300 && waited < 3000, `waited ${waited} ms`);
        assert(/elsewhere pid 4242/.test(warned[0] ?? ""), warned.join());
        await taken[Symbol.asyncDispose]();
      } finally {
        Deno.env.delete("DBAL_LEASE_TTL_MS");
        a.close();
        b.close();
      }
    }),
});

Deno.test({
  name: "redis store: a clear error when the server refuses the password",
  ignore: !redis,
  fn: () =>
    withServer(async (server) => {
      let message = "";
      try {
        (await openRedisStore(server.url.replace(":pw@", ":wrong@"))).close();
      } catch (e) {
        message = (e as Error).message;
      }
      assert(/cache store redis:\/\/\*\*\*@127\.0\.0\.1:\d+: .*(WRONGPASS|invalid)/i.test(message), message);
    }),
});
