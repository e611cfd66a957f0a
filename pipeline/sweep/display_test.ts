import { assert, assertEquals } from "../../tests/asserts.ts";
import { SweepDisplay } from "./display.ts";

/** Replays what was written on a screen of lines: cursor-up (`ESC[nF`), erase-line (`ESC[2K`), newline. */
function screen(out: string): string[] {
  const rows: string[] = [];
  let row = 0;
  // deno-lint-ignore no-control-regex -- the escape sequences are what is replayed
  for (const tok of out.split(/(\x1b\[\d*F|\x1b\[2K|\n)/)) {
    if (tok === "") continue;
    // deno-lint-ignore no-control-regex -- cursor up
    const up = tok.match(/^\x1b\[(\d*)F$/);
    if (up) row -= Number(up[1] || 1);
    else if (tok === "\x1b[2K") rows[row] = "";
    else if (tok === "\n") row++;
    else rows[row] = (rows[row] ?? "") + tok;
  }
  return rows.filter((r) => r !== undefined && r !== "");
}

Deno.test("sweep display on a terminal: one line per worker and the sweep's, redrawn; warnings stay above", () => {
  let out = "";
  const d = new SweepDisplay({ write: (t) => out += t, terminal: true, columns: () => 60 }, 0);
  d.worker("w1", "[exp w1] run 2/4 round 0/2");
  d.worker("w0", "[exp w0] run 1/4 round 0/2");
  d.sweep("[exp] sweep: 2/12 rounds");
  d.worker("w0", "[exp w0] run 1/4 round 1/2");
  d.worker("w1", "[exp w1] WARNING cache lease: took over");
  d.worker("w1", "[exp w1] run 2/4 round 1/2 | a line much longer than the terminal is wide, cut to fit it");
  d.sweep("[exp] sweep: 4/12 rounds");
  d.close();
  assertEquals(screen(out), [
    "[exp w1] WARNING cache lease: took over",
    "[exp w0] run 1/4 round 1/2",
    "[exp w1] run 2/4 round 1/2 | a line much longer than the t…",
    "[exp] sweep: 4/12 rounds",
  ]);
  d.remove("w1");
  assertEquals(d.block(), ["[exp w0] run 1/4 round 1/2", "[exp] sweep: 4/12 rounds"]);
});

Deno.test("sweep display elsewhere: every line as it comes, nothing redrawn", () => {
  let out = "";
  const d = new SweepDisplay({ write: (t) => out += t, terminal: false, columns: () => 60 });
  d.worker("w0", "[exp w0] run 1/4 round 0/2");
  d.sweep("[exp] sweep: 1/12 rounds");
  d.permanent("[exp] job 1/4: worker w0 was killed");
  d.close();
  assertEquals(out, "[exp w0] run 1/4 round 0/2\n[exp] sweep: 1/12 rounds\n[exp] job 1/4: worker w0 was killed\n");
  assert(!out.includes("\x1b"));
});
