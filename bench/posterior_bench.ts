/**
 * Posterior sampling throughput per approximation (images/s of [n, T, C]
 * log-probabilities, read back to JS), each against full-net MC sampling
 * measured in the same run, and the peak memory of scoring a whole pool
 * through the real score stage.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { galCnn, hybridPreset } from "../dsl/model.ts";
import { bald } from "../dsl/strategy.ts";
import { applyLayers, createNet, disposeNet, type Net } from "../pipeline/tensor/net.ts";
import { ensemblePosterior, mcDropoutPosterior, type Posterior } from "../pipeline/tensor/posterior.ts";
import { makeRng } from "../pipeline/tensor/rng.ts";
import { score } from "../pipeline/tensor/stages.ts";
import { vognHeadLogProbs } from "../pipeline/tensor/vogn.ts";
import { fullNetMc } from "./sections.ts";

/** One bench row (see bench.ts). */
export interface BenchRow {
  readonly what: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: { readonly what: string; readonly value: number };
}

const BATCH = 128;

function randomImages(n: number): tf.Tensor4D {
  return tf.randomUniform([n, 28, 28, 1], 0, 1, "float32", 7) as tf.Tensor4D;
}

/** Images/s of a posterior's logProbs over `batches` batches of 128 (after one warm-up batch). */
async function samplingRate(posterior: Posterior, batches: number): Promise<number> {
  const x = randomImages(BATCH);
  const rng = makeRng(3);
  try {
    const warm = posterior.logProbs(x, rng);
    await warm.data();
    warm.dispose();
    const start = performance.now();
    for (let i = 0; i < batches; i++) {
      const out = posterior.logProbs(x, rng);
      await out.data();
      out.dispose();
    }
    return (BATCH * batches) / ((performance.now() - start) / 1000);
  } finally {
    x.dispose();
  }
}

/** A VOGN head with a made-up mean and precision over a net's penultimate features (sampling cost only). */
function vognPosterior(net: Net, samples: number): Posterior {
  const last = net.spec.layers.length - 1;
  const d = 128, classes = 10;
  const rng = makeRng(9);
  const head = {
    d,
    classes,
    mean: Float32Array.from({ length: (d + 1) * classes }, () => rng.next() - 0.5),
    precision: new Float32Array((d + 1) * classes).fill(100),
  };
  return {
    samples,
    logProbs: (x, r) =>
      tf.tidy(() => vognHeadLogProbs(applyLayers(net, x, 0, last, { kind: "off" }) as tf.Tensor2D, head, samples, r)),
    dispose: () => {},
  };
}

/**
 * Sampling rates at T = `samples` for every approximation on the Gal CNN
 * architecture, and peak RSS while scoring a pool.
 *
 * @param opts T, repetitions, and the pool size of the memory measure
 * @returns bench rows
 */
export async function benchPosteriors(
  opts: { samples: number; batches: number; pool: number; log: (m: string) => void },
): Promise<BenchRow[]> {
  const T = opts.samples;
  const rows: BenchRow[] = [];
  const gal = createNet(galCnn(10), 1);
  const lastLayer = createNet(hybridPreset("BNN-1", 10), 1);
  const allBayes = createNet(hybridPreset("BNN", 10), 1);
  const members = [1, 2, 3, 4, 5].map((s) => createNet(galCnn(10), s));
  try {
    opts.log(`posteriors: full-net MC baseline, T=${T}`);
    const full = await samplingRate(fullNetMc(gal, T), 1);
    const baseline = { what: `MC dropout, T=${T} full forward passes`, value: full };
    const measure = async (what: string, p: Posterior, batches = opts.batches) => {
      opts.log(`posteriors: ${what}`);
      rows.push({ what, value: await samplingRate(p, batches), unit: "images/s", baseline });
    };
    await measure(`MC dropout (Gal CNN), T=${T}, conv features shared`, mcDropoutPosterior(gal, T));
    await measure(
      `MC dropout, T=${T}, consistent masks`,
      mcDropoutPosterior(gal, T, 11),
    );
    await measure(`Bayes-by-backprop last layer only (BNN-1), T=${T}`, mcDropoutPosterior(lastLayer, T));
    await measure(`VOGN head (last layer), T=${T}`, vognPosterior(gal, T));
    await measure(`deep ensemble, 5 members (T=5)`, ensemblePosterior(members));
    await measure(`deterministic net (T=1)`, ensemblePosterior([gal]));
    await measure(`Bayes-by-backprop every layer (BNN), T=${T}`, mcDropoutPosterior(allBayes, T), 1);

    // Memory: BALD over a whole pool through the score stage, chunked; RSS sampled per chunk.
    const n = opts.pool;
    const pixels = new Uint8Array(n * 784);
    const fill = makeRng(5);
    for (let i = 0; i < pixels.length; i += 97) pixels[i] = fill.int(256);
    const images = { x: pixels, shape: [n, 28, 28, 1] as const };
    const pool = Array.from({ length: n }, (_, i) => i);
    const before = Deno.memoryUsage().rss;
    let peak = before;
    const start = performance.now();
    const stage = score(bald, 1, 0);
    const result = await stage.run({ posterior: mcDropoutPosterior(lastLayer, T), images, pool }, {
      progress: (m) => {
        peak = Math.max(peak, Deno.memoryUsage().rss);
        if (/score (\d+)000\//.test(m)) opts.log(`posteriors: ${m}`);
      },
      warn: () => {},
    })();
    const seconds = (performance.now() - start) / 1000;
    if (result._tag === "Left") throw new Error(result.left.message);
    rows.push({ what: `BALD over a ${n}-item pool, T=${T}, BNN-1 (score stage)`, value: n / seconds, unit: "items/s" });
    rows.push({
      what: `peak RSS while scoring that pool, chunks of 256 (RSS before: ${(before / 2 ** 20).toFixed(0)} MiB)`,
      value: peak / 2 ** 20,
      unit: "MiB",
    });
  } finally {
    [gal, lastLayer, allBayes, ...members].forEach(disposeNet);
  }
  return rows;
}
