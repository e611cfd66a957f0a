/**
 * Chooses the tensor backend. `auto` prefers native TensorFlow (its binding
 * must load), then WebAssembly with our gradient kernels (multithreaded: one
 * thread per logical core, or `DBAL_WASM_THREADS`), and falls back to
 * the pure-JS `cpu` backend only with a loud warning (it trains about 500x
 * slower than wasm here).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
// The gradients of tfjs-core's ops are registered by tfjs-layers' node bundle
// (tfjs-core's own registration module does not load as ESM under Deno).
import "@tensorflow/tfjs-layers";
import * as wasm from "@tensorflow/tfjs-backend-wasm";
import { registerWasmGradKernels } from "./kernels/mod.ts";
import { setWasmBackendThreaded, wasmThreadRequest } from "./wasm_threads.ts";

/** Backends a user can ask for. */
export const backendNames = ["auto", "tensorflow", "wasm", "webgpu", "cpu"] as const;
/** Backends a user can ask for. */
export type BackendRequest = typeof backendNames[number];

/** What was chosen, recorded with every result. */
export interface BackendInfo {
  readonly requested: BackendRequest;
  /** The tfjs backend name in use: "tensorflow", "wasm", "webgpu" or "cpu". */
  readonly name: string;
  readonly threads: number;
  /** Why other candidates were skipped. */
  readonly notes: readonly string[];
}

// Native TensorFlow packages, pinned to the tfjs version we build on. They are
// imported only on demand: they need a native binding that installs only where
// its download works (`deno install --allow-scripts=npm:@tensorflow/tfjs-node`).
const nativePackages = [
  "npm:@tensorflow/tfjs-node-gpu@4.22.0",
  "npm:@tensorflow/tfjs-node@4.22.0",
] as const;
const webgpuPackage = "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";

/** The checkout: its `node_modules/` holds the npm packages, wherever the process started. */
const projectRoot = new URL("../../", import.meta.url);

/**
 * The modules that may provide the "tensorflow" backend, in order of preference:
 * the pinned tfjs-node packages, or the comma-separated list in
 * `DBAL_TENSORFLOW_MODULES` (npm specifiers or file paths; a test's stand-in).
 */
export function nativeCandidates(): string[] {
  const listed = Deno.env.get("DBAL_TENSORFLOW_MODULES");
  if (listed === undefined) return [...nativePackages];
  return listed.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** Where a candidate is imported from. */
function candidateUrl(spec: string): string {
  if (/^(npm|jsr|https?|file):/.test(spec)) return spec;
  return new URL(spec.startsWith("/") ? `file://${spec}` : spec, `file://${Deno.cwd()}/`).href;
}

async function nativeInstalled(spec: string): Promise<boolean> {
  const url = candidateUrl(spec);
  const where = url.startsWith("npm:")
    ? new URL(`node_modules/${url.replace(/^npm:/, "").replace(/@[^@/]+$/, "")}/package.json`, projectRoot)
    : url.startsWith("file:")
    ? new URL(url)
    : undefined;
  if (where === undefined) return true; // a remote module: let the import decide
  try {
    await Deno.stat(where);
    return true;
  } catch {
    return false;
  }
}

async function tryNative(notes: string[], onlyIfInstalled: boolean): Promise<boolean> {
  for (const spec of nativeCandidates()) {
    if (onlyIfInstalled && !(await nativeInstalled(spec))) {
      notes.push(`${spec}: not installed`);
      continue;
    }
    try {
      await import(candidateUrl(spec));
      if (await tf.setBackend("tensorflow")) return true;
      notes.push(`${spec}: loaded but the "tensorflow" backend did not initialise`);
    } catch (e) {
      notes.push(`${spec}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  return false;
}

async function tryWasm(notes: string[]): Promise<boolean> {
  const threads = wasmThreadRequest(Deno.env.get("DBAL_WASM_THREADS"), navigatorThreads());
  if (threads > 1) {
    try {
      if (await setWasmBackendThreaded(threads)) {
        registerWasmGradKernels();
        return true;
      }
      notes.push(`wasm: the threaded build did not initialise with ${threads} threads`);
    } catch (e) {
      notes.push(`wasm: the threaded build failed (${(e as Error).message}); using one thread`);
    }
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    wasm.setThreadsCount(1);
  }
  try {
    if (await tf.setBackend("wasm")) {
      registerWasmGradKernels();
      return true;
    }
    notes.push("wasm: backend did not initialise");
  } catch (e) {
    notes.push(`wasm: ${(e as Error).message}`);
  }
  return false;
}

async function tryWebgpu(notes: string[]): Promise<boolean> {
  const nav = globalThis.navigator as { gpu?: unknown } | undefined;
  if (!nav?.gpu) {
    notes.push("webgpu: navigator.gpu is not available in this runtime");
    return false;
  }
  try {
    await import(webgpuPackage);
    if (await tf.setBackend("webgpu")) return true;
    notes.push("webgpu: no adapter could be initialised");
  } catch (e) {
    notes.push(`webgpu: ${(e as Error).message.split("\n")[0]}`);
  }
  return false;
}

/**
 * Selects and initialises a backend.
 *
 * @param requested what the user asked for (`--backend`)
 * @param warn where to print warnings (stderr by default)
 * @returns the backend in use and why others were skipped
 * @throws Error when an explicitly requested backend cannot be used
 */
export async function selectBackend(
  requested: BackendRequest,
  warn: (msg: string) => void = (m) => console.error(m),
): Promise<BackendInfo> {
  tf.enableProdMode();
  const notes: string[] = [];
  let ok = false;
  switch (requested) {
    case "auto":
      ok = (await tryNative(notes, true)) || (await tryWasm(notes));
      if (!ok && (await tf.setBackend("cpu"))) {
        ok = true;
        warn(
          "WARNING: falling back to the pure-JS cpu backend: training will be hundreds of times slower.\n" +
            `  Reasons: ${notes.join("; ")}`,
        );
      }
      break;
    case "tensorflow":
      ok = await tryNative(notes, false);
      break;
    case "wasm":
      ok = await tryWasm(notes);
      break;
    case "webgpu":
      ok = await tryWebgpu(notes);
      break;
    case "cpu":
      ok = await tf.setBackend("cpu");
      if (ok) warn("WARNING: the pure-JS cpu backend trains hundreds of times slower than wasm");
      break;
  }
  if (!ok) {
    throw new Error(`Backend "${requested}" is not available: ${notes.join("; ")}`);
  }
  await tf.ready();
  const name = tf.getBackend();
  const threads = name === "wasm" ? wasm.getThreadsCount() : name === "cpu" ? 1 : navigatorThreads();
  return { requested, name, threads, notes };
}

function navigatorThreads(): number {
  const nav = globalThis.navigator as { hardwareConcurrency?: number } | undefined;
  return nav?.hardwareConcurrency ?? 1;
}

/**
 * Parses a `--backend` value.
 *
 * @param value the flag's value
 * @returns the request, or an error message naming the allowed values
 */
export function parseBackend(value: string): BackendRequest | string {
  return (backendNames as readonly string[]).includes(value)
    ? value as BackendRequest
    : `--backend: unknown backend "${value}" (expected one of ${backendNames.join(", ")})`;
}
