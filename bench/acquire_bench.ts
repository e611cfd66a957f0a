/**
 * Acquisition throughput: pool items/s of a whole round's scoring and
 * selection through the real score and acquire stages, BALD + top-k (the
 * baseline) against BatchBALD, both at b = 10 over the same scored pool.
 *
 * @module
 */
import { galCnn } from "../dsl/model.ts";
import { bald, batchBald, topK } from "../dsl/strategy.ts";
import { createNet, disposeNet } from "../pipeline/tensor/net.ts";
import { mcDropoutPosterior } from "../pipeline/tensor/posterior.ts";
import { makeRng } from "../pipeline/tensor/rng.ts";
import { acquire, score, type Scored } from "../pipeline/tensor/stages.ts";
import type { BenchRow } from "./posterior_bench.ts";

/** Log-probabilities whose items differ in mean and in spread across samples (seeded). */
function variedLogProbs(n: number, t: number, c: number): { data: Float32Array; n: number; t: number; c: number } {
  const rng = makeRng(21);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const data = new Float32Array(n * t * c);
  const base = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) base[k] = 2 * gauss();
    const spread = 2 * rng.next();
    for (let s = 0; s < t; s++) {
      const row = (i * t + s) * c;
      let max = -Infinity;
      for (let k = 0; k < c; k++) {
        data[row + k] = (base[k] as number) + spread * gauss();
        max = Math.max(max, data[row + k] as number);
      }
      let sum = 0;
      for (let k = 0; k < c; k++) sum += Math.exp((data[row + k] as number) - max);
      const log = max + Math.log(sum);
      for (let k = 0; k < c; k++) data[row + k] = (data[row + k] as number) - log;
    }
  }
  return { data, n, t, c };
}

/**
 * Scores a random pool once with BALD over consistent MC-dropout samples of
 * the Gal CNN (keeping the samples), then times top-k and BatchBALD on it.
 *
 * @param opts T, the pool size, the batch size b, and a progress sink
 * @returns bench rows: items/s of each whole round (score + acquire), and each acquire alone
 */
export async function benchAcquisition(
  opts: { samples: number; pool: number; batch: number; log: (m: string) => void },
): Promise<BenchRow[]> {
  const { samples: T, pool: n, batch: b } = opts;
  const net = createNet(galCnn(10), 1);
  const fill = makeRng(5);
  const pixels = Uint8Array.from({ length: n * 784 }, () => fill.int(256));
  const images = { x: pixels, shape: [n, 28, 28, 1] as const };
  const pool = Array.from({ length: n }, (_, i) => i);
  const ctx = (what: string) => ({
    progress: (m: string) => {
      if (/score (\d+)000\//.test(m)) opts.log(`acquire: ${what}: ${m}`);
    },
    warn: (m: string) => opts.log(`acquire: ${what}: warning: ${m}`),
  });
  try {
    const posterior = mcDropoutPosterior(net, T, 11);
    let start = performance.now();
    const scored = await score(bald, 1, 0, ["logProbs"]).run({ posterior, images, pool }, ctx("BALD scores"))();
    const scoreSeconds = (performance.now() - start) / 1000;
    if (scored._tag === "Left") throw new Error(scored.left.message);
    const timeRule = async (what: string, stage: ReturnType<typeof acquire>, input: Scored) => {
      opts.log(`acquire: ${what}`);
      start = performance.now();
      const picked = await stage.run(input, ctx(what))();
      if (picked._tag === "Left") throw new Error(picked.left.message);
      if (picked.right.length !== b) throw new Error(`${what} picked ${picked.right.length} items, not ${b}`);
      return (performance.now() - start) / 1000;
    };
    const topKSeconds = await timeRule("top-k", acquire(topK(b), 1), scored.right);
    const batchSeconds = await timeRule(`BatchBALD b=${b}`, acquire(batchBald(b), 1), scored.right);
    // The net above is untrained and its inputs are noise, so its predictions are alike and BatchBALD's lazy
    // greedy prunes most candidates. Varied synthetic samples show the cost when it cannot.
    const varied = await timeRule(`BatchBALD b=${b}, varied synthetic samples`, acquire(batchBald(b), 1), {
      ...scored.right,
      logProbs: variedLogProbs(n, T, 10),
    });
    const baseline = { what: `BALD + top-k, b=${b}`, value: n / (scoreSeconds + topKSeconds) };
    return [
      { what: `round over a ${n}-item pool, T=${T}: BALD + top-k, b=${b}`, value: baseline.value, unit: "items/s" },
      {
        what: `round over a ${n}-item pool, T=${T}: BatchBALD, b=${b}`,
        value: n / (scoreSeconds + batchSeconds),
        unit: "items/s",
        baseline,
      },
      { what: `  of which sampling + BALD scores (Gal CNN, consistent MC dropout)`, value: scoreSeconds, unit: "s" },
      { what: `  of which top-k selection`, value: topKSeconds, unit: "s" },
      {
        what: `  of which BatchBALD selection (lazy greedy, exact joint entropy to 10^4 configs)`,
        value: batchSeconds,
        unit: "s",
      },
      {
        what: `BatchBALD selection alone, b=${b}, ${n} items with varied synthetic samples (T=${T}, C=10)`,
        value: varied,
        unit: "s",
      },
    ];
  } finally {
    disposeNet(net);
  }
}
