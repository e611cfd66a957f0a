/**
 * Multithreaded WebAssembly under Deno.
 *
 * tfjs-backend-wasm 4.22 ships a threaded build (XNNPACK on a pthread pool)
 * but turns it off whenever it believes it runs in Node, and under Deno's npm
 * layer it does (flag `WASM_HAS_MULTITHREAD_SUPPORT`; tfjs issue 3830). The
 * threaded build itself works in Deno once three things are mended, all during
 * initialisation only:
 *
 * 1. Emscripten's Node code starts each pthread worker with
 *    `worker_threads.Worker(path)`, but tfjs hands it a `blob:` URL for the
 *    worker script, and the worker then evaluates the main script from a Blob.
 *    We record the text of the two Blobs tfjs builds, write both to a private
 *    temporary directory, and hand out those paths instead. The worker script
 *    is changed in two places: it reads the main script from its file, and it
 *    does not assign `location` (read-only on Deno's worker global).
 * 2. The main script is the factory's source text; outside its bundle it
 *    lacks the bundle's `require` aliases, which a short prelude defines.
 * 3. The threaded build caps its pool at half the logical cores that
 *    `os.cpus()` reports (it assumes two hyper-threads per core), which gives
 *    one thread on a 2-core machine. While the module initialises, `os.cpus()`
 *    reports twice the requested count, so the cap becomes the request.
 *
 * Everything patched is restored as soon as the backend is ready, and the
 * temporary files are removed. The pool holds 8 workers, so up to 8 threads.
 *
 * @module
 */
import os from "node:os";
import * as tf from "@tensorflow/tfjs-core";
import * as wasm from "@tensorflow/tfjs-backend-wasm";

/** Most threads the threaded build's pre-created worker pool serves. */
export const maxWasmThreads = 8;

const mainPrefix = "var WasmBackendModuleThreadedSimd";
const workerPrefix = '"use strict";var Module={};var ENVIRONMENT_IS_NODE';
const workerBlobImport =
  "var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)";
const workerLocation = "location:{href:__filename},";

/**
 * How many threads to ask for: `DBAL_WASM_THREADS` when set, else the
 * machine's logical cores, at most {@link maxWasmThreads}.
 *
 * @param env the environment variable's value, if any
 * @param cores logical cores of this machine
 * @returns a thread count of at least 1
 * @throws Error when the variable is not a positive integer
 */
export function wasmThreadRequest(env: string | undefined, cores: number): number {
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`DBAL_WASM_THREADS must be a positive integer, got "${env}"`);
    }
    return Math.min(n, maxWasmThreads);
  }
  return Math.max(1, Math.min(cores, maxWasmThreads));
}

/**
 * The worker script with the two edits described in the module comment.
 *
 * @param text the worker script tfjs would put in a Blob
 * @param mainPath where the main script was written
 * @returns the script to write to disk
 * @throws Error when tfjs' worker script is not the one these edits expect
 */
export function patchWorkerScript(text: string, mainPath: string): string {
  if (!text.includes(workerBlobImport) || !text.includes(workerLocation)) {
    throw new Error("wasm threads: the tfjs worker script has an unexpected form (tfjs version changed?)");
  }
  return text.replace(workerLocation, "").replace(workerBlobImport, `importScripts(${JSON.stringify(mainPath)})`);
}

/**
 * The main script with the bundle's module aliases defined first.
 *
 * @param text the factory source tfjs would put in a Blob
 * @param dir directory standing in for the bundle's `__dirname`
 * @returns the script to write to disk
 */
export function mainScriptWithPrelude(text: string, dir: string): string {
  return [
    'var require$$0 = require("fs");',
    'var require$$1 = require("path");',
    'var require$$3 = require("perf_hooks");',
    'var require$$4 = require("os");',
    "var commonjsGlobal = globalThis;",
    `var __dirname = ${JSON.stringify(dir)};`,
    text,
  ].join("\n");
}

interface PthreadWorker {
  unref?: () => void;
}

/**
 * Lets the process exit while pool threads wait for work: Emscripten keeps a
 * reference on each worker that runs a pthread, and XNNPACK's pool threads
 * run for the life of the process.
 */
function unrefWorkers(): void {
  const module = (tf.backend() as unknown as {
    wasm?: { PThread?: { runningWorkers?: PthreadWorker[]; unusedWorkers?: PthreadWorker[] } };
  }).wasm;
  const pool = module?.PThread;
  for (const w of [...(pool?.runningWorkers ?? []), ...(pool?.unusedWorkers ?? [])]) w.unref?.();
}

/**
 * Initialises the wasm backend with `threads` threads (the caller then
 * selects it with `tf.setBackend("wasm")`, which this function does).
 *
 * @param threads threads to request, 2 to {@link maxWasmThreads}
 * @returns whether the backend initialised
 * @throws Error when tfjs' scripts do not have the expected form
 */
export async function setWasmBackendThreaded(threads: number): Promise<boolean> {
  const dir = await Deno.makeTempDir({ prefix: "dbal-wasm-threads-" });
  const texts = new WeakMap<Blob, string>();
  const NativeBlob = globalThis.Blob;
  const nativeCreateObjectURL = URL.createObjectURL;
  const nativeCpus = os.cpus;
  const mainPath = `${dir}/main.cjs`;
  let mainWritten = false;
  let workerWritten = false;
  let patchError: Error | undefined;

  class RecordingBlob extends NativeBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (parts !== undefined && parts.every((p) => typeof p === "string")) {
        const text = (parts as string[]).join("");
        texts.set(this, text);
        if (text.startsWith(mainPrefix)) {
          Deno.writeTextFileSync(mainPath, mainScriptWithPrelude(text, dir));
          mainWritten = true;
        }
      }
    }
  }
  const createObjectURL = (blob: Blob): string => {
    const text = texts.get(blob);
    if (text === undefined || !text.startsWith(workerPrefix)) return nativeCreateObjectURL(blob);
    try {
      if (!mainWritten) throw new Error("wasm threads: the worker was requested before the main script");
      // Written once: each pool worker reads this file while the next is
      // created, so rewriting it in place would hand some a truncated script.
      const path = `${dir}/worker.cjs`;
      if (!workerWritten) Deno.writeTextFileSync(path, patchWorkerScript(text, mainPath));
      workerWritten = true;
      return path;
    } catch (e) {
      patchError = e as Error;
      throw e;
    }
  };

  globalThis.Blob = RecordingBlob;
  URL.createObjectURL = createObjectURL;
  (os as { cpus: () => os.CpuInfo[] }).cpus = () => {
    const one = nativeCpus()[0] ?? ({} as os.CpuInfo);
    return Array.from({ length: 2 * threads }, () => one);
  };
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
  wasm.setThreadsCount(threads);
  try {
    const ok = await tf.setBackend("wasm");
    if (patchError) throw patchError;
    if (ok) unrefWorkers();
    return ok;
  } finally {
    globalThis.Blob = NativeBlob;
    URL.createObjectURL = nativeCreateObjectURL;
    (os as { cpus: () => os.CpuInfo[] }).cpus = nativeCpus;
    // Every pool worker has read both files by now: the module waits for
    // all of them to load before it resolves.
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
