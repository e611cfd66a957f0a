/** The README's code is real: its custom-score block is the example file, and its experiment block decodes. */
import * as E from "fp-ts/Either.js";
import { assert, assertEquals } from "./asserts.ts";
import { decodeExperiment, expandGrid } from "../dsl/experiment.ts";

const readme = await Deno.readTextFile("README.md");
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);

Deno.test("the README's acquisition-function example is examples/custom-score.ts, verbatim", async () => {
  const file = await Deno.readTextFile("examples/custom-score.ts");
  const region = file.split("// #region custom-score\n")[1]?.split("// #endregion custom-score")[0];
  assert(region !== undefined && region.includes("defineScore"), "region markers missing in the example");
  assert(blocks.includes(region), "README and examples/custom-score.ts differ: copy the region into the README");
});

Deno.test("the README's experiment example decodes, with its grid and stop conditions", async () => {
  const block = blocks.find((b) => b.includes('name: "my-mnist"'));
  assert(block !== undefined, "README lost its experiment example");
  // Written beside mod.ts's users so that its relative import resolves.
  const path = `examples/.readme-${crypto.randomUUID()}.ts`;
  await Deno.writeTextFile(path, block);
  try {
    const mod = await import(new URL(`../${path}`, import.meta.url).href);
    const decoded = decodeExperiment(mod.default);
    assert(E.isRight(decoded), E.isLeft(decoded) ? decoded.left.join("\n") : "");
    assertEquals(decoded.right.strategies?.map((s) => s.name), ["bald", "max-entropy", "random"]);
    assertEquals({ ...decoded.right.stop }, { labels: 60, accuracy: 0.95 } as Record<string, number>);
    const variants = expandGrid(decoded.right);
    assert(E.isRight(variants) && variants.right.length === 2);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("every example region the README shows is the example file's, verbatim", async () => {
  const regions = [
    ["examples/compose-mnist.ts", "composed"],
    ["examples/near-duplicates.ts", "near-duplicates"],
    ["examples/own-model.ts", "own-model"],
  ] as const;
  for (const [path, name] of regions) {
    const file = await Deno.readTextFile(path);
    const region = file.split(`// #region ${name}\n`)[1]?.split(`// #endregion ${name}`)[0];
    assert(region !== undefined && region.length > 0, `${path}: region ${name} missing`);
    assert(blocks.includes(region), `README and ${path} (region ${name}) differ: copy the region into the README`);
  }
});
