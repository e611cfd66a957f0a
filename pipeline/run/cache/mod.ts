/**
 * The cache of stage outputs: keys made of keys (`stageKey`), and a
 * content-addressed, verified, multi-process-safe store of JSON values and
 * typed arrays (`openStore`). Tensors are converted by the caller.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openStore, stageKey } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * const store = await openStore(dir, { warn: (message) => console.warn(message) });
 * const key = await stageKey({ name: "train", version: 1, params: { epochs: 3 }, seed: 0, inputs: ["ab".repeat(32)] });
 * if ((await store.get(key)) === undefined) {
 *   await store.put(key, "train", { json: { accuracy: 0.97 }, arrays: { w: { data: new Float32Array(6), shape: [2, 3] } } });
 * }
 * assert.ok((await store.get(key))?.arrays["w"]?.shape[1] === 3);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

export { canonicalJson, hashTypedArrays, isCacheKey, type StageIdentity, stageKey } from "./key.ts";
export {
  type Entry,
  type EntryInput,
  openStore,
  type PutOutcome,
  type StageStore,
  Store,
  type StoredArray,
  type StoredArrayData,
  type StoreOptions,
  type StoreStats,
} from "./store.ts";
export { openRedisStore, RedisStore } from "./redis_store.ts";
