/**
 * A small synthetic softmax regression and its Laplace approximation, in
 * plain JS (Newton's method with the full Hessian): the reference that the
 * VOGN head (`vogn_test.ts`) and whole-net VOGN (`vogn_net_test.ts`) tests
 * compare against.
 *
 * @module
 */
import { makeRng } from "./rng.ts";

export const N = 300, D = 3, C = 3, P = (D + 1) * C;
export const DELTA = 1; // prior precision

function gauss(rng: ReturnType<typeof makeRng>): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/** x ~ N(0, I), labels drawn from softmax(W* x + b*) with fixed true weights. */
export function synthetic(): { x: Float32Array; y: Int32Array } {
  const rng = makeRng(42);
  const wTrue = [[1.5, -1, 0], [0, 1, -1.5], [-0.5, 0.5, 1], [0.3, 0, -0.3]]; // rows: 3 features, then bias
  const x = new Float32Array(N * D);
  const y = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    for (let e = 0; e < D; e++) x[i * D + e] = gauss(rng);
    const p = probs(Array.from({ length: P }, (_, j) => wTrue[Math.floor(j / C)]![j % C]!), x, i);
    let u = rng.next(), k = 0;
    while (k < C - 1 && u >= p[k]!) u -= p[k++]!;
    y[i] = k;
  }
  return { x, y };
}

/** softmax(W^T x_i + b) for θ in the [(D + 1), C] layout. */
function probs(theta: ArrayLike<number>, x: Float32Array, i: number): number[] {
  const z = Array.from({ length: C }, (_, k) => {
    let v = theta[D * C + k]!;
    for (let e = 0; e < D; e++) v += x[i * D + e]! * theta[e * C + k]!;
    return v;
  });
  const mx = Math.max(...z);
  const ez = z.map((v) => Math.exp(v - mx));
  const s = ez.reduce((a, b) => a + b, 0);
  return ez.map((v) => v / s);
}

/** Feature j of item i, with the constant 1 of the bias as feature D. */
const feat = (x: Float32Array, i: number, j: number) => (j === D ? 1 : x[i * D + j]!);

/** Solves A u = b by Gaussian elimination with partial pivoting (A is small and SPD). */
export function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[piv]![col]!)) piv = r;
    [m[col], m[piv]] = [m[piv]!, m[col]!];
    for (let r = col + 1; r < n; r++) {
      const f = m[r]![col]! / m[col]![col]!;
      for (let k = col; k <= n; k++) m[r]![k]! -= f * m[col]![k]!;
    }
  }
  const u = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let v = m[r]![n]!;
    for (let k = r + 1; k < n; k++) v -= m[r]![k]! * u[k]!;
    u[r] = v / m[r]![r]!;
  }
  return u;
}

/**
 * MAP of Σ_i -log p(y_i | x_i, θ) + δ ‖θ‖² / 2 by Newton's method with the full
 * Hessian Σ_i (x_i x_i^T) ⊗ (diag p_i - p_i p_i^T) + δ I, and the diagonal of
 * that Hessian at the MAP: the diagonal Laplace precision. Also returns the
 * empirical-Fisher diagonal Σ_i g_i² + δ at the MAP.
 */
export function laplace(
  x: Float32Array,
  y: Int32Array,
  weight = 1,
): { map: number[]; hessDiag: number[]; fisherDiag: number[] } {
  let theta = new Array<number>(P).fill(0);
  const idx = (j: number, k: number) => j * C + k;
  let hess: number[][] = [];
  for (let iter = 0; iter < 50; iter++) {
    const grad = theta.map((t) => DELTA * t);
    hess = Array.from({ length: P }, (_, a) => Array.from({ length: P }, (_, b) => (a === b ? DELTA : 0)));
    for (let i = 0; i < N; i++) {
      const p = probs(theta, x, i);
      for (let j = 0; j <= D; j++) {
        for (let k = 0; k < C; k++) {
          grad[idx(j, k)]! += weight * feat(x, i, j) * (p[k]! - (y[i] === k ? 1 : 0));
          for (let j2 = 0; j2 <= D; j2++) {
            for (let k2 = 0; k2 < C; k2++) {
              const lam = (k === k2 ? p[k]! : 0) - p[k]! * p[k2]!;
              hess[idx(j, k)]![idx(j2, k2)]! += weight * feat(x, i, j) * feat(x, i, j2) * lam;
            }
          }
        }
      }
    }
    const step = solve(hess, grad);
    theta = theta.map((t, a) => t - step[a]!);
    if (Math.max(...step.map(Math.abs)) < 1e-12) break;
  }
  // Recompute the Hessian diagonal and the empirical Fisher at the final θ.
  const hessDiag = new Array<number>(P).fill(DELTA);
  const fisherDiag = new Array<number>(P).fill(DELTA);
  for (let i = 0; i < N; i++) {
    const p = probs(theta, x, i);
    for (let j = 0; j <= D; j++) {
      for (let k = 0; k < C; k++) {
        const f = feat(x, i, j);
        hessDiag[idx(j, k)]! += weight * f * f * p[k]! * (1 - p[k]!);
        fisherDiag[idx(j, k)]! += weight * (f * (p[k]! - (y[i] === k ? 1 : 0))) ** 2;
      }
    }
  }
  return { map: theta, hessDiag, fisherDiag };
}

export const data = synthetic();
export const reference = laplace(data.x, data.y);

/**
 * Largest gaps between a head and a reference, over all parameters: of the
 * means in reference posterior standard deviations, raw and with each row's
 * mean over classes removed first (see the large-data test), and of the
 * precisions relative to the reference.
 */
export function gaps(
  head: { readonly mean: ArrayLike<number>; readonly precision: ArrayLike<number> },
  ref: { map: number[] },
  precisionRef: number[],
) {
  let mean = 0, centredMean = 0, precision = 0;
  for (let j = 0; j <= D; j++) {
    let headRow = 0, refRow = 0;
    for (let k = 0; k < C; k++) {
      headRow += head.mean[j * C + k]! / C;
      refRow += ref.map[j * C + k]! / C;
    }
    for (let k = 0; k < C; k++) {
      const a = j * C + k;
      const sd = 1 / Math.sqrt(precisionRef[a]!);
      mean = Math.max(mean, Math.abs(head.mean[a]! - ref.map[a]!) / sd);
      centredMean = Math.max(centredMean, Math.abs(head.mean[a]! - headRow - (ref.map[a]! - refRow)) / sd);
      precision = Math.max(precision, Math.abs(head.precision[a]! / precisionRef[a]! - 1));
    }
  }
  return { mean, centredMean, precision };
}
