/**
 * Labels needed to reach a test accuracy, per strategy and seed, from a
 * results folder's `rounds.jsonl`: the labelled count of the first round
 * whose accuracy is at least the target, then the mean ± std over seeds. A
 * seed that never reaches it counts as "not reached"; such a strategy gets no
 * mean, since a mean over the seeds that got there would flatter it.
 *
 * Usage: `deno run -A bench/labels_to_target.ts <results dir> [--target 0.9 ...] [--out FILE]`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { meanStd, readRounds, type RoundRecord } from "../pipeline/run/results.ts";

/** Labels to reach `target` for each (strategy, seed), and the largest labelled count each seed ran to. */
export function labelsToTarget(
  records: readonly RoundRecord[],
  target: number,
): Map<string, Map<number, { reached?: number; ranTo: number }>> {
  const out = new Map<string, Map<number, { reached?: number; ranTo: number }>>();
  const ordered = [...records].sort((a, b) => a.round - b.round);
  for (const r of ordered) {
    const name = r.variant ? `${r.acquisition} [${r.variant}]` : r.acquisition;
    const seeds = out.get(name) ?? new Map();
    const seen = seeds.get(r.seed) ?? { ranTo: 0 };
    seen.ranTo = Math.max(seen.ranTo, r.labelled);
    if (seen.reached === undefined && r.accuracy >= target) seen.reached = r.labelled;
    seeds.set(r.seed, seen);
    out.set(name, seeds);
  }
  return out;
}

/** A markdown table of {@link labelsToTarget} for several targets. */
export function labelsTable(records: readonly RoundRecord[], targets: readonly number[]): string {
  const lines: string[] = [];
  for (const target of targets) {
    const table = labelsToTarget(records, target);
    lines.push(
      `Labels needed for ${(100 * target).toFixed(0)}% test accuracy (the first round at or above it):`,
      "",
      "| strategy | mean ± std | per seed |",
      "| --- | ---: | --- |",
    );
    for (const [name, seeds] of table) {
      const values = [...seeds.entries()].sort((a, b) => a[0] - b[0]);
      const reached = values.map(([, v]) => v.reached);
      const all = reached.every((v) => v !== undefined);
      const nums = reached.filter((v): v is number => v !== undefined);
      const [mean, std] = nums.length > 0 ? meanStd(nums) : [0, 0];
      const cell = all && nums.length > 0
        ? (nums.length > 1 ? `${mean.toFixed(0)} ± ${std.toFixed(0)}` : `${mean}`)
        : "—";
      const perSeed = values.map(([seed, v]) => `seed ${seed}: ${v.reached ?? `not reached by ${v.ranTo}`}`).join(", ");
      lines.push(`| ${name} | ${cell} | ${perSeed} |`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const args = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { target: { type: "string", multiple: true }, out: { type: "string" } },
  });
  const dir = args.positionals[0];
  if (!dir) throw new Error("usage: deno run -A bench/labels_to_target.ts <results dir> [--target 0.9] [--out FILE]");
  const targets = (args.values.target ?? ["0.9"]).map(Number);
  const text = labelsTable(await readRounds(`${dir}/rounds.jsonl`), targets);
  console.log(text);
  if (args.values.out) await Deno.writeTextFile(args.values.out, text);
}
