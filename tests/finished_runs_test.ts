/**
 * The finished-runs ledger of a results folder (`pipeline/run/finished_runs.ts`):
 * a study stopped part-way (here, failed in its second run) and resumed on a
 * machine without its stage cache (a fresh cache folder) takes its finished
 * runs from the ledger, runs only the rest, and ends with the results of an
 * uninterrupted run; a run whose key changed is run again; a torn last line
 * loses nothing. The local pool's side (a sweep SIGKILLed mid-way) is in
 * `workers_test.ts`.
 */
import { assert, assertEquals, assertRejects } from "./asserts.ts";
import { pathExists, withTinyMnist } from "./fixtures.ts";
import { FINISHED_RUNS_FILE, readFinishedRuns } from "../pipeline/run/finished_runs.ts";

const root = new URL("../", import.meta.url);
const url = (path: string) => new URL(path, root).href;

/**
 * Two runs of the tiny net (BALD, seeds 0 and 1); the second one's acquisitions pass through a
 * stage that fails while DBAL_TEST_FAIL_SECOND is set (read at run time, so in no key).
 */
const twoRuns = `
import * as TE from "fp-ts/TaskEither.js";
import { bald, builtinImages, composeExperiment, defineStage, imageRound, loop, mcDropout, netSpecModel, type Scored,
  scoredCodec, source, step, strategy, topK, warmStartState } from "${url("mod.ts")}";
import tiny from "${url("tests/tiny_mnist.ts")}";

const failWhenAsked = defineStage<{ readonly scored: Scored }, Scored>({
  kind: "filter", name: "filter/fail-when-asked", version: 1, params: {}, numeric: false,
  run: ({ scored }) => Deno.env.get("DBAL_TEST_FAIL_SECOND") === "1"
    ? TE.left({ _tag: "StageError" as const, stage: "filter/fail-when-asked", message: "asked to fail" })
    : TE.right(scored),
});

export default composeExperiment({
  name: "two-runs",
  load: source(builtinImages("mnist")),
  runs: ({ data, value, scale }) => [0, 1].map((seed) => loop({
    label: { curve: "bald", seed },
    start: warmStartState(data, 2, value.classes, seed),
    round: imageRound({
      data, model: netSpecModel(tiny.model, tiny.train), seed, classes: value.classes,
      strategy: strategy({ posterior: mcDropout({ samples: 5 }), score: bald, acquire: topK(10) }),
      poolSubset: 100, testSubset: 100,
      ...(seed === 1 ? { between: (scored) => step(failWhenAsked, { scored }) } : {}),
    }),
    rounds: scale.rounds ?? 2,
  })),
});
`;

const summary = (records: readonly { seed: number; round: number; accuracy: number; acquired: readonly number[] }[]) =>
  records.map((r) => [r.seed, r.round, r.accuracy, r.acquired]);

Deno.test("a stopped study resumed without its cache takes finished runs from the ledger and ends as one run would", async () => {
  await withTinyMnist(async (dir, run) => {
    const file = `${dir}/two-runs.ts`;
    await Deno.writeTextFile(file, twoRuns);
    const base = await run(file, "base");
    assertEquals(base.records.length, 6);
    assertEquals(await pathExists(`${dir}/base/${FINISHED_RUNS_FILE}`), false, "the ledger is removed at the end");

    // The second run fails: the first one is in the ledger, nothing else is written.
    Deno.env.set("DBAL_TEST_FAIL_SECOND", "1");
    try {
      await assertRejects(() => run(file, "resumed", { cacheDir: `${dir}/cache-1` }), /asked to fail/);
    } finally {
      Deno.env.delete("DBAL_TEST_FAIL_SECOND");
    }
    const ledger = await readFinishedRuns(`${dir}/resumed`);
    assertEquals([...ledger.values()].map((r) => r.label), ["bald seed 0"]);
    const [first] = [...ledger.values()];
    assertEquals(summary(first?.records ?? []), summary(base.records.slice(0, 3)));
    assertEquals(await pathExists(`${dir}/resumed/rounds.jsonl`), false);

    // A write cut short by a kill leaves a torn last line: it is dropped, the finished run is kept.
    await Deno.writeTextFile(`${dir}/resumed/${FINISHED_RUNS_FILE}`, '{"v":1,"runKey":"ab', { append: true });

    // Resumed on "another machine" (a fresh, empty cache): only the second run's stages execute.
    const resumed = await run(file, "resumed", { cacheDir: `${dir}/cache-2` });
    assertEquals(summary(resumed.records), summary(base.records));
    assertEquals(resumed.executed["retrain"], (base.executed["retrain"] ?? NaN) / 2);
    assertEquals(resumed.executed["evaluate"], (base.executed["evaluate"] ?? NaN) / 2);
    assertEquals(await pathExists(`${dir}/resumed/${FINISHED_RUNS_FILE}`), false);
    const written = (await Deno.readTextFile(`${dir}/resumed/rounds.jsonl`)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assertEquals(summary(written), summary(base.records));
  });
});

Deno.test("a ledger's run is not taken when its key changed (here, fewer rounds), nor under --refresh", async () => {
  await withTinyMnist(async (dir, run) => {
    const file = `${dir}/two-runs.ts`;
    await Deno.writeTextFile(file, twoRuns);
    const base = await run(file, "base");
    Deno.env.set("DBAL_TEST_FAIL_SECOND", "1");
    try {
      await assertRejects(() => run(file, "out", { cacheDir: `${dir}/cache-1` }), /asked to fail/);
      // The first run's 3 rounds are in the ledger; with --rounds 1 its key differs and it runs again (2 rounds).
      await assertRejects(() => run(file, "out", { cacheDir: `${dir}/cache-2`, rounds: 1 }), /asked to fail/);
    } finally {
      Deno.env.delete("DBAL_TEST_FAIL_SECOND");
    }
    const ledger = [...(await readFinishedRuns(`${dir}/out`)).values()];
    assertEquals(ledger.map((r) => [r.label, r.records.length]), [["bald seed 0", 3], ["bald seed 0", 2]]);
    assert(ledger[0]?.runKey !== ledger[1]?.runKey);
    // --refresh recomputes: nothing is taken from the ledger even where the key matches.
    const refreshed = await run(file, "out", { cacheDir: `${dir}/cache-3`, refresh: ["retrain"] });
    assertEquals(refreshed.executed["retrain"], base.executed["retrain"]);
    assertEquals(summary(refreshed.records), summary(base.records));
  });
});

Deno.test("a ledger line that is not an entry is an error naming the file, line and field", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dbal-ledger-" });
  try {
    const good = {
      v: 1,
      runKey: "a".repeat(64),
      label: "x seed 0",
      wallSeconds: 1,
      records: [{ round: 0, accuracy: 0.5 }],
    };
    await Deno.writeTextFile(
      `${dir}/${FINISHED_RUNS_FILE}`,
      JSON.stringify(good) + "\n" + JSON.stringify({ ...good, runKey: "short" }) + "\n",
    );
    await assertRejects(() => readFinishedRuns(dir), /finished-runs\.jsonl:2: field "runKey" must be 64 hex/);
    await Deno.writeTextFile(`${dir}/${FINISHED_RUNS_FILE}`, JSON.stringify(good) + "\nnot json\n");
    await assertRejects(() => readFinishedRuns(dir), /finished-runs\.jsonl:2: malformed JSON line/);
    await Deno.writeTextFile(`${dir}/${FINISHED_RUNS_FILE}`, JSON.stringify({ ...good, records: [] }) + "\n");
    await assertRejects(() => readFinishedRuns(dir), /finished-runs\.jsonl:1: field "records" must be/);
    assertEquals((await readFinishedRuns(`${dir}/none`)).size, 0, "no ledger: no finished runs");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
