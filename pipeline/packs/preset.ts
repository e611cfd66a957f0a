/**
 * The preset record (`dsl/experiment.ts`, from `experiment({...})` or YAML)
 * as a composed experiment, whatever its modality: a text data set (`trec`,
 * `trec-fine`, `reuters`, `{ table: ... }`) goes to the text pack, every
 * other to the image pack. Both give an {@link Experiment} for the one
 * interpreter.
 *
 * @module
 */
import type { Experiment } from "../../dsl/compose.ts";
import type { ExperimentConfig } from "../../dsl/experiment.ts";
import { isTextDataset } from "../../dsl/text.ts";
import { presetExperiment as imagePreset } from "./images.ts";
import { presetTextExperiment } from "./text.ts";

/**
 * The composed experiment of a decoded preset record.
 *
 * @param config the decoded experiment, at the scale to run
 * @param opts `baseDir`: the experiment file's directory, which the paths of a user's data start from
 * @returns the composed experiment (its load step gives image or text data)
 */
export function presetExperiment(config: ExperimentConfig, opts: { readonly baseDir?: string } = {}): Experiment {
  return (isTextDataset(config.dataset) ? presetTextExperiment(config, opts) : imagePreset(config, opts)) as Experiment;
}
