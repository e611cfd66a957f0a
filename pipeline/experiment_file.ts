/**
 * Reading an experiment from a TypeScript module (default export) or a YAML
 * file, and decoding it; every problem is reported with the file and path.
 *
 * @module
 */
import * as E from "fp-ts/Either.js";
import { parseDocument } from "yaml";
import { decodeExperiment, type ExperimentConfig } from "../dsl/experiment.ts";

/** A config file that could not be read or decoded. */
export class ConfigError extends Error {
  constructor(readonly file: string, readonly problems: readonly string[]) {
    super(`${file}: invalid experiment\n${problems.map((p) => `  ${file}: ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

function absoluteUrl(file: string): string {
  const path = file.startsWith("/") ? file : `${Deno.cwd()}/${file}`;
  return new URL(`file://${path}`).href;
}

/**
 * Loads and decodes an experiment file (`.ts`/`.js`: its default export;
 * `.yaml`/`.yml`: the document).
 *
 * @param file path to the file
 * @returns the decoded config
 * @throws ConfigError listing every problem with its path
 */
export async function loadExperimentFile(file: string): Promise<ExperimentConfig> {
  let value: unknown;
  if (/\.ya?ml$/i.test(file)) {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (e) {
      throw new ConfigError(file, [`cannot read the file (${(e as Error).message})`]);
    }
    const doc = parseDocument(text);
    if (doc.errors.length > 0) {
      throw new ConfigError(
        file,
        doc.errors.map((e) => `line ${(e.linePos?.[0]?.line ?? 0)}: ${e.message.split("\n")[0]}`),
      );
    }
    value = doc.toJS();
  } else if (/\.(ts|js|mts|mjs)$/i.test(file)) {
    try {
      await Deno.stat(file);
    } catch {
      throw new ConfigError(file, ["file not found"]);
    }
    const mod = await import(absoluteUrl(file));
    if (!("default" in mod)) throw new ConfigError(file, ["the module has no default export"]);
    value = mod.default;
  } else {
    throw new ConfigError(file, ["unknown file type (expected .ts, .js, .yaml or .yml)"]);
  }
  const decoded = decodeExperiment(value);
  if (E.isLeft(decoded)) throw new ConfigError(file, decoded.left);
  return decoded.right;
}
