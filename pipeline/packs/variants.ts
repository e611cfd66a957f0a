/**
 * The grid points of a preset experiment.
 *
 * @module
 */
import { expandGrid, type ExperimentConfig, type Variant } from "../../dsl/experiment.ts";

/**
 * Expands the grid of an experiment, throwing on a bad grid.
 *
 * @param config the decoded experiment
 * @returns its variants
 */
export function variantsOf(config: ExperimentConfig): Variant[] {
  const expanded = expandGrid(config);
  if (expanded._tag === "Left") throw new Error(`invalid grid:\n  ${expanded.left.join("\n  ")}`);
  return expanded.right;
}
