/**
 * Reading an experiment from a TypeScript module (default export) or a YAML
 * file, and decoding it; every problem is reported with the file and path.
 *
 * @module
 */
import { type Experiment, isExperiment } from "../../dsl/compose.ts";
import * as E from "fp-ts/Either.js";
import { type Document, parseDocument } from "yaml";
import { decodeExperiment, expandGrid, type ExperimentConfig } from "../../dsl/experiment.ts";

/** What an experiment file holds: one experiment, or a suite of them run in order over one cache. */
export type Runnable =
  | { readonly kind: "composed"; readonly experiment: Experiment }
  | { readonly kind: "experiment"; readonly config: ExperimentConfig }
  | {
    readonly kind: "suite";
    readonly name: string;
    readonly description?: string;
    readonly experiments: readonly (ExperimentConfig | Experiment)[];
  };

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

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const FRAME = /(file:\/\/[^\s()]+?):(\d+):\d+/g;
/** This repository's root, as a URL ending in "/". */
const PROJECT = new URL("../../", import.meta.url).href;

/** A file URL as messages show it: relative to the working directory when it lies under it. */
function shown(url: string): string {
  const cwd = new URL(`file://${Deno.cwd()}/`).href;
  return decodeURIComponent(url.startsWith(cwd) ? url.slice(cwd.length) : url.replace(/^file:\/\//, ""));
}

/**
 * What went wrong when importing an experiment module, as a problem of the
 * file: the line of the first stack frame in the module itself, or failing
 * that in a file of the project (outside node_modules), and the error's
 * first line. A syntax error reads the same (Deno reports its place as a
 * frame of the module).
 *
 * @param e what the import threw
 * @param url the module's URL
 * @returns `line 12: cannot load the module: TypeError: ...`
 */
function importProblem(e: unknown, url: string): string {
  const err = e instanceof Error ? e : undefined;
  const firstLine = (err?.message ?? String(e)).replace(ANSI, "").split("\n")[0]?.trim() ?? "";
  const relative = firstLine.replaceAll(new URL(`file://${Deno.cwd()}/`).href, "");
  const what = /^\w*Error: /.test(relative) ? relative : `${err?.name ?? "Error"}: ${relative}`;
  // Frames up to the loader's own: those after it are its callers.
  const frames: { url: string; line: number }[] = [];
  for (const m of (err?.stack ?? "").replace(ANSI, "").matchAll(FRAME)) {
    if (m[1] === import.meta.url) break;
    frames.push({ url: m[1] as string, line: Number(m[2]) });
  }
  const own = frames.find((f) => f.url === url);
  if (own) return `line ${own.line}: cannot load the module: ${what}`;
  const cwd = new URL(`file://${Deno.cwd()}/`).href;
  const near = frames.find((f) =>
    (f.url.startsWith(PROJECT) || f.url.startsWith(cwd)) && !/\/(node_modules|\.tools)\//.test(f.url)
  );
  return near
    ? `cannot load the module: ${what} (at ${shown(near.url)}, line ${near.line})`
    : `cannot load the module: ${what}`;
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
  const r = await loadRunnable(file);
  if (r.kind !== "experiment") throw new ConfigError(file, [`expected one experiment, found a ${r.kind}`]);
  return r.config;
}

function isSuite(u: unknown): u is { _tag: "suite"; name: unknown; description?: unknown; experiments: unknown } {
  return typeof u === "object" && u !== null && (u as Record<string, unknown>)["_tag"] === "suite";
}

function decodeOne(value: unknown, prefix: string): E.Either<string[], ExperimentConfig> {
  const decoded = E.chain((c: ExperimentConfig) => E.map(() => c)(expandGrid(c)))(decodeExperiment(value));
  return E.mapLeft((ps: string[]) => ps.map((p) => `${prefix}${p}`))(decoded);
}

/**
 * Loads and decodes an experiment file whose default export is an experiment
 * or a {@link Suite} (TypeScript only).
 *
 * @param file path to the file
 * @returns the experiment, or the suite with every experiment decoded
 * @throws ConfigError listing every problem with its path
 */
export async function loadRunnable(file: string, exportName = "default"): Promise<Runnable> {
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
    const url = absoluteUrl(file);
    let mod: Record<string, unknown>;
    try {
      mod = await import(url);
    } catch (e) {
      throw new ConfigError(file, [importProblem(e, url)]);
    }
    if (!(exportName in mod)) {
      throw new ConfigError(file, [
        exportName === "default" ? "the module has no default export" : `the module has no export "${exportName}"`,
      ]);
    }
    value = mod[exportName];
  } else {
    throw new ConfigError(file, ["unknown file type (expected .ts, .js, .yaml or .yml)"]);
  }
  if (isExperiment(value)) return { kind: "composed", experiment: value };
  if (isSuite(value)) {
    const problems: string[] = [];
    if (typeof value.name !== "string" || !/^[A-Za-z0-9._-]+$/.test(value.name)) {
      problems.push(`name: a suite name uses letters, digits, '.', '_' or '-', got ${JSON.stringify(value.name)}`);
    }
    const list = Array.isArray(value.experiments) ? value.experiments : [];
    if (list.length === 0) problems.push("experiments: expected at least one experiment");
    const configs: (ExperimentConfig | Experiment)[] = [];
    list.forEach((x, i) => {
      if (isExperiment(x)) {
        configs.push(x);
        return;
      }
      const d = decodeOne(x, `experiments.${i}.`);
      if (E.isLeft(d)) problems.push(...d.left);
      else configs.push(d.right);
    });
    const names = configs.map((c) => c.name);
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i) problems.push(`experiments.${i}.name: ${JSON.stringify(n)} is used twice`);
    });
    if (problems.length > 0) throw new ConfigError(file, problems);
    return {
      kind: "suite",
      name: value.name as string,
      ...(typeof value.description === "string" ? { description: value.description } : {}),
      experiments: configs,
    };
  }
  const decoded = decodeOne(value, "");
  if (E.isLeft(decoded)) {
    throw new ConfigError(
      file,
      yamlDoc && yamlText !== undefined ? withLines(decoded.left, yamlDoc, yamlText) : decoded.left,
    );
  }
  return { kind: "experiment", config: decoded.right };
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
