/**
 * Where a part was defined: the module URL of the code that called a
 * `define*` constructor, read from the call stack. The interpreter hashes
 * that module and its local imports into the part's cache keys.
 *
 * @module
 */

const FRAME = /\(?((?:file|https?|data|blob):[^\s()]*?):\d+:\d+\)?\s*$/;

/**
 * The module URLs on the current call stack, innermost first (repeats kept).
 *
 * @param stack an `Error().stack` text
 * @returns one URL per frame that names a module
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stackModules } from "./origin.ts";
 * const urls = stackModules("Error\n    at f (file:///a/b.ts:3:9)\n    at file:///a/c.ts:10:1");
 * assert(urls.join() === "file:///a/b.ts,file:///a/c.ts");
 * ```
 */
export function stackModules(stack: string): string[] {
  return stack.split("\n").slice(1).flatMap((line) => {
    const m = line.match(FRAME);
    return m?.[1] ? [m[1]] : [];
  });
}

/**
 * The module that called the function calling this one: e.g. inside
 * `defineScore`, the user's file that called `defineScore`. Frames of the
 * library's own `dsl/` modules are skipped, so a constructor that calls
 * another (`topK` calling `defineAcquire`) reports the module of `topK`.
 *
 * @returns a module URL, or undefined when the stack names none
 */
export function callerModule(): string | undefined {
  const frames = stackModules(new Error().stack ?? "");
  const self = import.meta.url;
  const definers = frames.filter((u) => u !== self);
  // definers[0] is the module of the define* function itself; the first other module is the caller.
  const definer = definers[0];
  return definers.find((u) => u !== definer) ?? definer;
}
