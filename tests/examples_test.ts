/** Every example decodes; the YAML twin of mnist-bald is the same experiment as the TS one. */
import { assertEquals } from "./asserts.ts";
import { loadExperimentFile } from "../pipeline/experiment_file.ts";

Deno.test("examples/mnist-bald.yaml decodes to the same config as examples/mnist-bald.ts", async () => {
  const ts = await loadExperimentFile("examples/mnist-bald.ts");
  const yaml = await loadExperimentFile("examples/mnist-bald.yaml");
  assertEquals(yaml, ts);
});

Deno.test("every example file decodes", async () => {
  for await (const e of Deno.readDir("examples")) {
    if (/\.(ts|ya?ml)$/.test(e.name)) await loadExperimentFile(`examples/${e.name}`);
  }
});
