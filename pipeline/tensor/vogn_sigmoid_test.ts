import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { assert, assertEquals } from "../../tests/asserts.ts";
import { makeRng } from "./rng.ts";
import type { VognHead } from "./vogn.ts";
import { fitVognSigmoidHead, vognSigmoidHeadLogProbs } from "./vogn.ts";
import { solve } from "./_laplace_fixture.ts";

tf.enableProdMode();
await tf.setBackend("cpu");

// ---- Two independent logistic regressions (L = 2 tags) and their Laplace approximation ----

const N = 300, D = 3, L = 2, P = (D + 1) * L;
const DELTA = 1;

function gauss(rng: ReturnType<typeof makeRng>): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/** z_l of item i under θ in the [(D + 1), L] layout. */
function logit(theta: ArrayLike<number>, x: Float32Array, i: number, l: number): number {
  let v = theta[D * L + l]!;
  for (let e = 0; e < D; e++) v += x[i * D + e]! * theta[e * L + l]!;
  return v;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const feat = (x: Float32Array, i: number, j: number) => (j === D ? 1 : x[i * D + j]!);

function synthetic(): { x: Float32Array; y: Uint8Array } {
  const rng = makeRng(11);
  const wTrue = [1.5, -1, 0, 1, -0.5, 0.5, 0.3, -0.8]; // [(D + 1), L]
  const x = new Float32Array(N * D);
  const y = new Uint8Array(N * L);
  for (let i = 0; i < N; i++) {
    for (let e = 0; e < D; e++) x[i * D + e] = gauss(rng);
    for (let l = 0; l < L; l++) y[i * L + l] = rng.next() < sigmoid(logit(wTrue, x, i, l)) ? 1 : 0;
  }
  return { x, y };
}

/** Newton MAP of each label's penalised logistic regression, and the Hessian diagonal there. */
function laplace(x: Float32Array, y: Uint8Array): { map: number[]; hessDiag: number[] } {
  const theta = new Array<number>(P).fill(0);
  const hessDiag = new Array<number>(P).fill(DELTA);
  for (let l = 0; l < L; l++) {
    const idx = (j: number) => j * L + l;
    for (let iter = 0; iter < 50; iter++) {
      const grad = Array.from({ length: D + 1 }, (_, j) => DELTA * theta[idx(j)]!);
      const hess = Array.from(
        { length: D + 1 },
        (_, a) => Array.from({ length: D + 1 }, (_, b) => (a === b ? DELTA : 0)),
      );
      for (let i = 0; i < N; i++) {
        const p = sigmoid(logit(theta, x, i, l));
        for (let j = 0; j <= D; j++) {
          grad[j]! += feat(x, i, j) * (p - y[i * L + l]!);
          for (let j2 = 0; j2 <= D; j2++) hess[j]![j2]! += feat(x, i, j) * feat(x, i, j2) * p * (1 - p);
        }
      }
      const step = solve(hess, grad);
      for (let j = 0; j <= D; j++) theta[idx(j)]! -= step[j]!;
      if (Math.max(...step.map(Math.abs)) < 1e-12) break;
    }
    for (let i = 0; i < N; i++) {
      const p = sigmoid(logit(theta, x, i, l));
      for (let j = 0; j <= D; j++) hessDiag[idx(j)]! += feat(x, i, j) ** 2 * p * (1 - p);
    }
  }
  return { map: theta, hessDiag };
}

const data = synthetic();
const reference = laplace(data.x, data.y);

function gaps(head: VognHead) {
  let mean = 0, precision = 0;
  for (let a = 0; a < P; a++) {
    const sd = 1 / Math.sqrt(reference.hessDiag[a]!);
    mean = Math.max(mean, Math.abs(head.mean[a]! - reference.map[a]!) / sd);
    precision = Math.max(precision, Math.abs(head.precision[a]! / reference.hessDiag[a]! - 1));
  }
  return { mean, precision };
}

// Tolerances as in pipeline/tensor/vogn_test.ts: VOGN's fixed point is the variational optimum, a second-order
// distance (in posterior sds) from the Laplace approximation.
Deno.test("sigmoid VOGN (GGN curvature) matches the diagonal Laplace approximation", () => {
  const opts = { priorPrecision: DELTA, batchSize: N, mcSamples: 4, seed: 1 };
  const fast = fitVognSigmoidHead(data.x, N, D, data.y, L, { ...opts, learningRate: 0.05, epochs: 300 });
  const head = fitVognSigmoidHead(data.x, N, D, data.y, L, { ...opts, init: fast, learningRate: 0.005, epochs: 800 });
  const gap = gaps(head);
  assert(gap.mean < 0.5 && gap.precision < 0.1, JSON.stringify(gap));
});

Deno.test("sigmoid VOGN with minibatches lowers the loss and stays near Laplace", () => {
  const losses: number[] = [];
  const head = fitVognSigmoidHead(data.x, N, D, data.y, L, {
    priorPrecision: DELTA,
    batchSize: 30,
    learningRate: 0.02,
    epochs: 150,
    seed: 3,
    onEpoch: (_e, loss) => losses.push(loss),
  });
  assert(losses.at(-1)! < losses[0]!, `loss ${losses[0]} -> ${losses.at(-1)}`);
  const gap = gaps(head);
  assert(gap.mean < 1 && gap.precision < 0.3, JSON.stringify(gap));
});

Deno.test("vognSigmoidHeadLogProbs samples log-sigmoids of the right shape, reproducibly, without leaks", () => {
  const head = fitVognSigmoidHead(data.x, N, D, data.y, L, { epochs: 3, seed: 4 });
  const before = tf.memory().numTensors;
  const x = tf.tensor2d(data.x.subarray(0, 5 * D), [5, D]);
  const a = vognSigmoidHeadLogProbs(x, head, 10, makeRng(9));
  const b = vognSigmoidHeadLogProbs(x, head, 10, makeRng(9));
  assertEquals(a.shape, [5, 10, L]);
  const av = a.dataSync(), bv = b.dataSync();
  assertEquals([...av], [...bv]);
  for (const v of av) assert(v <= 0 && Number.isFinite(v));
  // Draws differ between samples.
  assert(av[0] !== av[L]);
  tf.dispose([x, a, b]);
  assertEquals(tf.memory().numTensors, before);
});
