/**
 * The layout shows the design: no import cycle among the project's modules,
 * and `dsl/` (data, constructors, codecs, types) imports no tensor library.
 */
import { assert } from "./asserts.ts";
import { importSpecifiers } from "../pipeline/run/cache/module_hash.ts";

const root = new URL("../", import.meta.url);

async function modules(dir: URL, out: string[] = []): Promise<string[]> {
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(".") || e.name === "node_modules" || e.name === "results") continue;
    const url = new URL(e.isDirectory ? `${e.name}/` : e.name, dir);
    if (e.isDirectory) await modules(url, out);
    else if (e.name.endsWith(".ts")) out.push(url.href);
  }
  return out;
}

/** Each module's local imports (code only: a doc comment's example is not an import). */
async function graph(): Promise<Map<string, string[]>> {
  const edges = new Map<string, string[]>();
  for (const url of await modules(root)) {
    const text = (await Deno.readTextFile(new URL(url))).replace(/\/\*[\s\S]*?\*\//g, "");
    const local = importSpecifiers(text).filter((s) => s.startsWith("."));
    edges.set(url, local.map((s) => new URL(s, url).href));
  }
  return edges;
}

const rel = (url: string) => url.slice(root.href.length);

Deno.test("no import cycle among the project's modules", async () => {
  const edges = await graph();
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (u: string) => {
    if (state.get(u) === "done") return;
    if (state.get(u) === "open") {
      cycles.push([...stack.slice(stack.indexOf(u)), u].map(rel).join(" -> "));
      return;
    }
    state.set(u, "open");
    stack.push(u);
    for (const v of edges.get(u) ?? []) visit(v);
    stack.pop();
    state.set(u, "done");
  };
  for (const u of edges.keys()) visit(u);
  assert(cycles.length === 0, `import cycles:\n${cycles.join("\n")}`);
});

Deno.test("dsl/ imports no tensor library and no tensor code", async () => {
  const bad: string[] = [];
  for (const url of await modules(new URL("dsl/", root))) {
    if (url.endsWith("_test.ts")) continue;
    const text = (await Deno.readTextFile(new URL(url))).replace(/\/\*[\s\S]*?\*\//g, "");
    for (const spec of importSpecifiers(text)) {
      if (spec.includes("tensorflow") || /pipeline\/(tensor|run|cli|packs|data)\//.test(new URL(spec, url).href)) {
        bad.push(`${rel(url)} imports ${spec}`);
      }
    }
  }
  assert(bad.length === 0, bad.join("\n"));
});
