/**
 * The code half of a cache key: the sha256 of a module's source together
 * with every local module it imports, transitively. Editing any helper a
 * stage calls changes the hash, so a stale output is never restored. Bare
 * specifiers (`fp-ts`, `@tensorflow/tfjs-core`) are hashed as the import-map
 * entry that pins them; `npm:`/`node:`/`jsr:` specifiers as written (they
 * carry their version). A module that cannot be read (a remote URL, a
 * `data:` URL, a deleted file) makes the whole hash undefined: the caller
 * must then treat the stage as unhashable (a fresh key, never a hit).
 *
 * @module
 */
import { sha256HexOfText } from "./_sha256.ts";

// Static imports and re-exports (`import x from "s"`, `import "s"`, `export * from "s"`) and dynamic `import("s")`.
const IMPORT =
  /(?:^|[\s;])(?:import|export)\s*(?:type\s+)?(?:[\w*${}\s,]*?\sfrom\s*)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

const projectConfig = new URL("../../../deno.json", import.meta.url);
const projectRoot = new URL("../../../", import.meta.url).href;
let importMap: Promise<Readonly<Record<string, string>>> | undefined;

function loadImportMap(): Promise<Readonly<Record<string, string>>> {
  importMap ??= Deno.readTextFile(projectConfig).then(
    (text) => (JSON.parse(text) as { imports?: Record<string, string> }).imports ?? {},
    () => ({}),
  );
  return importMap;
}

/**
 * The import specifiers of a module's source text, in order of appearance.
 * Comments are not parsed: a commented-out import is still listed, which can
 * only make a key change more often, never less.
 *
 * @param source TypeScript or JavaScript text
 * @returns the specifiers
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { importSpecifiers } from "./module_hash.ts";
 * // (The example names real files: this module's own text is hashed too, comments included.)
 * const found = importSpecifiers('import { a } from "./key.ts";\nexport * from "../results.ts";\nconst c = await import("./store.ts");');
 * assert(found.join() === "./key.ts,../results.ts,./store.ts");
 * ```
 */
export function importSpecifiers(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    if (spec !== undefined) out.push(spec);
  }
  return out;
}

function bareEntry(spec: string, map: Readonly<Record<string, string>>): string {
  if (spec in map) return `${spec}=${map[spec]}`;
  // Prefix entries such as "fp-ts/": the longest one that matches.
  const prefix =
    Object.keys(map).filter((k) => k.endsWith("/") && spec.startsWith(k)).sort((a, b) => b.length - a.length)[0];
  return prefix === undefined ? spec : `${spec}=${map[prefix]}${spec.slice(prefix.length)}`;
}

/**
 * The sha256 of a module and its local imports, transitively: every file's
 * URL and text, in a fixed order, plus the pins of its package imports.
 * Memoised in `memo` (give each run its own, so an edit between runs of a
 * long-lived process is seen).
 *
 * @param url a `file:` URL of a TypeScript or JavaScript module
 * @param memo hashes already computed, by root URL
 * @returns 64 hex digits, or undefined when some module cannot be read
 */
export function hashModuleGraph(
  url: string,
  memo: Map<string, Promise<string | undefined>> = new Map(),
): Promise<string | undefined> {
  let hashed = memo.get(url);
  if (!hashed) {
    hashed = computeGraphHash(url);
    memo.set(url, hashed);
  }
  return hashed;
}

async function computeGraphHash(root: string): Promise<string | undefined> {
  const map = await loadImportMap();
  const parts: string[] = [];
  const seen = new Set<string>();
  const queue = [root];
  while (queue.length > 0) {
    const url = queue.shift() as string;
    if (seen.has(url)) continue;
    seen.add(url);
    if (!url.startsWith("file:")) return undefined;
    let text: string;
    try {
      text = await Deno.readTextFile(new URL(url));
    } catch {
      return undefined;
    }
    // Paths inside the project are relative, so two clones in different folders share keys.
    const name = url.startsWith(projectRoot) ? url.slice(projectRoot.length) : url;
    parts.push(`${name}\n${await sha256HexOfText(text)}`);
    const packages: string[] = [];
    for (const spec of importSpecifiers(text)) {
      if (spec.startsWith("./") || spec.startsWith("../") || spec.startsWith("/") || spec.startsWith("file:")) {
        queue.push(new URL(spec, url).href);
      } else if (/^(npm|node|jsr|https?|data):/.test(spec)) {
        if (/^(https?|data):/.test(spec)) return undefined;
        packages.push(spec);
      } else {
        packages.push(bareEntry(spec, map));
      }
    }
    if (packages.length > 0) parts.push(`${name} packages\n${packages.sort().join("\n")}`);
  }
  return sha256HexOfText(parts.sort().join("\n\n"));
}
