/**
 * Reading an experiment from a TypeScript module (default export) or a YAML
 * file, and decoding it; every problem is reported with the file and path.
 *
 * @module
 */
import * as E from "fp-ts/Either.js";
import { type Document, parseDocument } from "yaml";
import { decodeExperiment, expandGrid, type ExperimentConfig } from "../dsl/experiment.ts";

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
  let yamlDoc: Document | undefined;
  let yamlText: string | undefined;
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
    yamlDoc = doc;
    yamlText = text;
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
  const decoded = E.chain((c: ExperimentConfig) => E.map(() => c)(expandGrid(c)))(decodeExperiment(value));
  if (E.isLeft(decoded)) {
    throw new ConfigError(
      file,
      yamlDoc && yamlText !== undefined ? withLines(decoded.left, yamlDoc, yamlText) : decoded.left,
    );
  }
  return decoded.right;
}

/**
 * Prefixes each `path: message` problem with the YAML line of the deepest
 * node on its path that exists (the field itself, or its parent when missing).
 */
function withLines(problems: readonly string[], doc: Document, text: string): string[] {
  const lineOf = (offset: number) => text.slice(0, offset).split("\n").length;
  return problems.map((p) => {
    const path = p.slice(0, p.indexOf(":")).split(".").filter((k) => k !== "" && k !== "(root)");
    for (let n = path.length; n >= 0; n--) {
      const keys = path.slice(0, n).map((k) => (/^\d+$/.test(k) ? Number(k) : k));
      const node = n === 0 ? doc.contents : doc.getIn(keys, true);
      const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
      if (range) return `line ${lineOf(range[0])}: ${p}`;
    }
    return p;
  });
}
