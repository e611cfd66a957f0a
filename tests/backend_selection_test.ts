/**
 * The backend selection of `auto` and `tensorflow`, with stand-in modules for
 * tfjs-node (it cannot install here: its install step downloads
 * libtensorflow): `auto` takes native TensorFlow first when it loads, says
 * why it skipped each candidate that did not, and falls back to wasm.
 */
import { assert, assertEquals } from "./asserts.ts";

const dir = new URL("./backend_fixtures/", import.meta.url).pathname;

async function select(
  request: string,
  modules?: string,
): Promise<{ name?: string; notes?: string[]; sum?: string; error?: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${dir}select.ts`, request],
    env: modules === undefined ? {} : { DBAL_TENSORFLOW_MODULES: modules },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  assert(out.success && text.startsWith("{"), new TextDecoder().decode(out.stderr));
  return JSON.parse(text);
}

Deno.test("auto picks native TensorFlow when a candidate loads, after the ones that do not", async () => {
  const got = await select("auto", `${dir}missing.ts,${dir}broken_tensorflow.ts,${dir}stand_in_tensorflow.ts`);
  assertEquals(got.name, "tensorflow");
  assertEquals(got.sum, "4,6");
  assertEquals(got.notes?.length, 2);
  assert(/missing\.ts: not installed/.test(got.notes?.[0] ?? ""), JSON.stringify(got.notes));
  assert(
    /broken_tensorflow\.ts: libtensorflow\.so\.2: cannot open/.test(got.notes?.[1] ?? ""),
    JSON.stringify(got.notes),
  );
});

Deno.test("auto falls back to wasm when no native candidate is installed, and says so", async () => {
  const got = await select("auto");
  assertEquals(got.name, "wasm");
  assertEquals(got.sum, "4,6");
  assert(got.notes?.some((n) => /tfjs-node-gpu@4\.22\.0: not installed/.test(n)), JSON.stringify(got.notes));
  assert(got.notes?.some((n) => /tfjs-node@4\.22\.0: not installed/.test(n)), JSON.stringify(got.notes));
});

Deno.test("--backend tensorflow fails with every candidate's reason when none loads", async () => {
  const got = await select("tensorflow", `${dir}broken_tensorflow.ts`);
  assert(
    /Backend "tensorflow" is not available: .*broken_tensorflow\.ts: libtensorflow/.test(got.error ?? ""),
    got.error,
  );
  const ok = await select("tensorflow", `${dir}stand_in_tensorflow.ts`);
  assertEquals(ok.name, "tensorflow");
});
