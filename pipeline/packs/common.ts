/**
 * Stages every modality pack shares: they read scored candidates, index
 * lists and labelled sets, never images or texts. Acquire (the strategy's
 * rule over the {@link Scored} candidates), pseudo-label (CEAL over their
 * mean predictive) and the labelled-set bookkeeping of the next round; the
 * image pack (`images.ts`) and the text pack (`text.ts`) both build their
 * rounds from them, so a rule behaves the same on every modality.
 *
 * @module
 */
import * as TE from "fp-ts/TaskEither.js";
import { derive, loop, type Round, type Run, type Step, step } from "../../dsl/compose.ts";
import type { ExperimentConfig } from "../../dsl/experiment.ts";
import type { Stage } from "../../dsl/stage.ts";
import type { AcquireDef, PseudoLabelDef, PseudoLabels, Strategy } from "../../dsl/strategy.ts";
import { indicesCodec, pseudoCodec } from "./codecs.ts";
import * as base from "../tensor/stages.ts";
import type { Scored } from "../tensor/stages.ts";

/** The labelled items and the pool (train-set indices; the pool ascending). */
export interface LabelledSet {
  /** The labelled items, in the order they were labelled. */
  readonly labelled: readonly number[];
  /** The unlabelled items, ascending. */
  readonly pool: readonly number[];
}

// Scored pool candidates (what acquisition rules pick from): the score stage's output, documented in stages.ts.
export type { Scored };

/**
 * The identity of a tensor stage (its name, version, params, code), without its input-specific parts.
 *
 * @param inner the stage whose identity a pack's wrapper keeps
 * @returns its kind, name, version, params and code
 */
export function identityOf<I, O>(
  inner: Stage<I, O>,
): Pick<Stage<I, O>, "kind" | "name" | "version" | "params" | "code"> {
  return {
    kind: inner.kind,
    name: inner.name,
    version: inner.version,
    params: inner.params,
    ...(inner.code !== undefined ? { code: inner.code } : {}),
  };
}

/**
 * The modules implementing a part: a user part's defining module, or the library's part catalogue.
 *
 * @param def a strategy part
 * @returns the module URLs to hash into the keys of the stages that run it
 */
export function partModules(def: { readonly definedIn?: string }): string[] {
  return def.definedIn ? [def.definedIn] : [];
}

const modules = [import.meta.url];

/**
 * Acquire: the rule picks items from the scored candidates.
 *
 * @param def the rule
 * @param seed seeds rules that draw
 * @returns the stage
 */
export function acquireStage(def: AcquireDef, seed: number): Stage<{ readonly scored: Scored }, readonly number[]> {
  const inner = base.acquire(def, seed);
  return {
    ...identityOf(inner),
    modules: [...modules, ...partModules(def)],
    numeric: false,
    codec: indicesCodec,
    run: ({ scored }, ctx) => inner.run(scored, ctx),
  };
}

/**
 * Pseudo-label: CEAL-style labels for confident unacquired candidates, for the next round's models.
 *
 * @param def the part
 * @param round the round whose model scored the candidates
 * @param classes number of classes
 * @returns the stage
 */
export function pseudoLabelStage(
  def: PseudoLabelDef,
  round: number,
  classes: number,
): Stage<{ readonly scored: Scored; readonly acquired: readonly number[] }, PseudoLabels> {
  const inner = base.pseudoLabel(def, round, classes);
  return {
    ...identityOf(inner),
    modules: [...modules, ...partModules(def)],
    numeric: false,
    codec: pseudoCodec,
    run: (input, ctx) => inner.run(input, ctx),
  };
}

/**
 * The labelled set of the next round: this one plus the first `take` acquired items.
 *
 * @param take how many acquired items join (a label budget may cut the last batch); all when undefined
 * @returns the stage (bookkeeping: never cached, recomputed from its inputs)
 */
export function labelledSetStage(
  take?: number,
): Stage<{ readonly labelled: LabelledSet; readonly acquired: readonly number[] }, LabelledSet> {
  const name = "labelled-set";
  return {
    kind: "labelled-set",
    name,
    version: 1,
    params: take === undefined ? {} : { take },
    numeric: false,
    modules,
    run: ({ labelled, acquired }) => {
      const added = take === undefined ? acquired : acquired.slice(0, take);
      const taken = new Set(added);
      return TE.right({
        labelled: [...labelled.labelled, ...added],
        pool: labelled.pool.filter((i) => !taken.has(i)),
      });
    },
  };
}

/** What a preset's round builder gets besides the strategy and seed: the sizes every modality shares. */
export interface PresetSizes {
  readonly poolSubset: number;
  readonly testSubset: number;
  /** The label budget (`stop.labels`), when the preset has one. */
  readonly budget?: number;
}

/**
 * The runs of one preset variant, in any modality: every strategy x seed, a
 * loop from the start state `build` gives, up to `config.rounds`, stopping at
 * `stop.accuracy` when set.
 *
 * @param config the experiment (one grid point)
 * @param strategies its strategies (as the modality runs them)
 * @param variant the grid point's label ("" without a grid)
 * @param build the start state and round of one strategy and seed
 * @returns the runs
 */
export function presetLoops<S>(
  config: ExperimentConfig,
  strategies: readonly Strategy[],
  variant: string,
  build: (strategy: Strategy, seed: number, sizes: PresetSizes) => { readonly start: S; readonly round: Round<S> },
): Run[] {
  const sizes: PresetSizes = {
    poolSubset: config.poolSubset,
    testSubset: config.testSubset,
    ...(config.stop?.labels !== undefined ? { budget: config.stop.labels } : {}),
  };
  return strategies.flatMap((strategy) =>
    config.seeds.map((seed) =>
      loop({
        label: { curve: strategy.name, seed, ...(variant ? { variant } : {}) },
        ...build(strategy, seed, sizes),
        rounds: config.rounds,
        stop: config.stop?.accuracy !== undefined ? { accuracy: config.stop.accuracy } : {},
      })
    )
  );
}

/** What the acquisition half of a standard round makes. */
export interface AcquisitionSteps {
  /** The items the rule picked. */
  readonly picked: Step<readonly number[]>;
  /** Those that join the labelled set (the label budget may cut the last batch). */
  readonly acquired: Step<readonly number[]>;
  /** How many join. */
  readonly take: number;
  /** The next round's labelled set. */
  readonly labelled: Step<LabelledSet>;
  /** Pseudo-labels for the next round's models, when the strategy makes them (CEAL). */
  readonly pseudo?: Step<PseudoLabels>;
}

/**
 * The acquisition half of a standard round, the same in every modality:
 * acquire from the scored candidates, cut the batch to the label budget,
 * pseudo-label (CEAL) when the strategy says so, and make the next labelled set.
 *
 * @param parts the scored candidates, strategy, seeds and sizes of the round
 * @returns the steps
 */
export function acquisitionSteps(parts: {
  readonly scored: Step<Scored>;
  readonly labelled: Step<LabelledSet>;
  readonly strategy: Strategy;
  /** Seed of the acquisition rule. */
  readonly seed: number;
  readonly round: number;
  /** Classes (or labels) the pseudo-labels range over. */
  readonly classes: number;
  /** Labels so far, and the label budget (Infinity: none). */
  readonly size: number;
  readonly budget: number;
}): AcquisitionSteps {
  const { scored, strategy } = parts;
  const picked = step(acquireStage(strategy.acquire, parts.seed), { scored });
  const take = Math.min(strategy.acquire.size, parts.budget - parts.size);
  const acquired = take < strategy.acquire.size
    ? derive(`take-${take}`, { picked }, ({ picked }) => picked.slice(0, take))
    : picked;
  const pseudo = strategy.pseudoLabel
    ? step(pseudoLabelStage(strategy.pseudoLabel, parts.round, parts.classes), { scored, acquired: picked })
    : undefined;
  const labelled = step(labelledSetStage(), { labelled: parts.labelled, acquired });
  return { picked, acquired, take, labelled, ...(pseudo ? { pseudo } : {}) };
}
