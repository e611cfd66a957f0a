import { assert, assertEquals, assertRejects } from "../../tests/asserts.ts";
import { mainScriptWithPrelude, maxWasmThreads, patchWorkerScript, wasmThreadRequest } from "./wasm_threads.ts";

Deno.test("wasmThreadRequest: the variable wins, else the cores, capped at the pool size", async () => {
  assertEquals(wasmThreadRequest(undefined, 2), 2);
  assertEquals(wasmThreadRequest("", 4), 4);
  assertEquals(wasmThreadRequest("1", 16), 1);
  assertEquals(wasmThreadRequest("3", 2), 3);
  assertEquals(wasmThreadRequest(undefined, 64), maxWasmThreads);
  assertEquals(wasmThreadRequest("100", 2), maxWasmThreads);
  assertEquals(wasmThreadRequest(undefined, 0), 1);
  for (const bad of ["0", "-2", "1.5", "two"]) {
    await assertRejects(
      () => wasmThreadRequest(bad, 2),
      new RegExp(`DBAL_WASM_THREADS must be a positive integer, got "${bad}"`),
    );
  }
});

Deno.test("patchWorkerScript: reads the main script from its file and leaves location alone", async () => {
  const blob =
    "var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)";
  const text = `Object.assign(global,{self:global,location:{href:__filename},Worker:W});if(x){${blob}}`;
  assertEquals(
    patchWorkerScript(text, "/tmp/d/main.cjs"),
    'Object.assign(global,{self:global,Worker:W});if(x){importScripts("/tmp/d/main.cjs")}',
  );
  await assertRejects(() => patchWorkerScript("something else", "/x"), /unexpected form/);
});

Deno.test("mainScriptWithPrelude: defines the bundle's aliases before the factory", () => {
  const out = mainScriptWithPrelude("var WasmBackendModuleThreadedSimd = 1;", "/tmp/d");
  const lines = out.split("\n");
  assertEquals(lines.at(-1), "var WasmBackendModuleThreadedSimd = 1;");
  assert(lines.includes('var require$$4 = require("os");'));
  assert(lines.includes('var __dirname = "/tmp/d";'));
});

// The threaded backend is process-wide, so it runs in a child process: it
// must initialise with the requested threads, agree with the pure-JS cpu
// backend on a matMul and a conv2d, and let the process exit on its own.
Deno.test("threaded wasm: 2 threads, same results as the cpu backend, the process exits", async () => {
  const script = `
    import * as tf from "@tensorflow/tfjs-core";
    import { selectBackend } from "./pipeline/tensor/backend.ts";
    const run = () => tf.tidy(() => {
      const a = tf.randomUniform([96, 200], -1, 1, "float32", 1);
      const b = tf.randomUniform([200, 64], -1, 1, "float32", 2);
      const x = tf.randomUniform([8, 20, 20, 16], -1, 1, "float32", 3);
      const f = tf.randomUniform([3, 3, 16, 24], -1, 1, "float32", 4);
      return [...tf.matMul(a, b).dataSync(), ...tf.conv2d(x, f, 1, "valid").dataSync()];
    });
    await tf.setBackend("cpu");
    const expected = run();
    const info = await selectBackend("wasm");
    const got = run();
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
    console.log(JSON.stringify({ name: info.name, threads: info.threads, worst, n: got.length }));
  `;
  const path = await Deno.makeTempFile({ dir: ".", prefix: ".wasm-threads-", suffix: ".ts" });
  try {
    await Deno.writeTextFile(path, script);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", path],
      env: { DBAL_WASM_THREADS: "2" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill(), 60_000);
    const out = await child.output();
    clearTimeout(timer);
    const err = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, `child did not exit cleanly: ${err}`);
    const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) as string);
    assertEquals(r.name, "wasm");
    assertEquals(r.threads, 2);
    assertEquals(r.n, 96 * 64 + 8 * 18 * 18 * 24);
    assert(r.worst < 1e-4, `largest difference from the cpu backend: ${r.worst}`);
  } finally {
    await Deno.remove(path);
  }
});
