/**
 * The registry of built-in parts keeps its promises: every part has a
 * version (bumped by hand when its maths changes), remembers its YAML form,
 * and names the library as the module that implements it, whose source
 * (with its imports) is hashed into the keys of the stages that run it.
 */
import { assert, assertEquals } from "./asserts.ts";
import {
  badge,
  batchBald,
  bayesByBackprop,
  builtinPartNames,
  ceal,
  coreSet,
  deepEnsemble,
  deterministic,
  discriminative,
  emoc,
  learningLoss,
  mcDropout,
  powerTopK,
  scoresByName,
  suggestive,
  topK,
  topU,
  vogn,
  vognHead,
} from "../mod.ts";

const library = new URL("../dsl/strategy.ts", import.meta.url).href;

/** One value of every built-in part, built as a user would (TypeScript constructors). */
const parts = {
  posterior: [
    mcDropout({ samples: 2 }),
    bayesByBackprop({ samples: 2 }),
    deterministic(),
    deepEnsemble({ members: 2 }),
    vognHead({ samples: 2 }),
    vogn({ samples: 2 }),
  ],
  score: [...Object.values(scoresByName), topU(2)],
  acquire: [
    topK(1),
    batchBald(1),
    powerTopK(1),
    coreSet(1),
    badge(1),
    emoc(1),
    suggestive(1),
    discriminative(1),
    learningLoss(1),
  ],
  pseudoLabel: [ceal()],
};

Deno.test("every built-in part has a version, its YAML form and the library as its implementing module", () => {
  const names = builtinPartNames();
  for (const role of ["posterior", "score", "acquire", "pseudoLabel"] as const) {
    const built = parts[role];
    // The list above covers the whole registry: a new part must be added here, and so gets checked.
    assertEquals(
      [...new Set(built.map((p) => p.name))].sort(),
      [...names[role]].sort(),
      `${role}: the test's parts and the registry differ`,
    );
    for (const part of built) {
      assert(Number.isInteger(part.version) && part.version >= 1, `${role} ${part.name}: no version`);
      assert(part.source !== undefined, `${role} ${part.name}: no YAML form`);
      assertEquals(part.definedIn, library, `${role} ${part.name}: implementing module`);
    }
  }
});
