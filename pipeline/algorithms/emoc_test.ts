import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
// tf-core's npm entry registers no gradients; tfjs-layers' bundle registers them (see pipeline/tensor/kernels/wasm_grad_test.ts).
import "@tensorflow/tfjs-layers";
import { makeRng } from "../tensor/rng.ts";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../../tests/asserts.ts";
import { emocReference, emocScores } from "./emoc.ts";
import { meanPredictive } from "./scores.ts";

tf.enableProdMode();
await tf.setBackend("cpu");

/** |actual - expected| <= tol |expected|. */
function assertRelative(actual: number, expected: number, tol: number, what: string): void {
  assert(Math.abs(actual - expected) <= tol * Math.abs(expected), `${what}: expected ${expected}, got ${actual}`);
}

/** Random features (normal-ish, scaled) and a random dense layer. */
function randomLayer(seed: number, n: number, d: number, c: number, scale: number) {
  const rng = makeRng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const h = Float32Array.from({ length: n * d }, () => scale * normal());
  const w = Float32Array.from({ length: c * d }, () => normal() / Math.sqrt(d));
  const b = Float32Array.from({ length: c }, () => 0.5 * normal());
  return { h, w, b, rng };
}

/** softmax(W h_i + b) for every row, in float64, stored as float32 like a model's output. */
function softmaxRows(h: Float32Array, w: Float32Array, b: Float32Array, n: number, d: number, c: number) {
  const out = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: c }, (_, k) => {
      let s = b[k] as number;
      for (let j = 0; j < d; j++) s += (w[k * d + j] as number) * (h[i * d + j] as number);
      return s;
    });
    const top = Math.max(...z);
    const e = z.map((v) => Math.exp(v - top));
    const sum = e.reduce((a, v) => a + v, 0);
    e.forEach((v, k) => (out[i * c + k] = v / sum));
  }
  return out;
}

// ---------------------------------------------------------------------------
// (a) A case worked by hand.
//
// Two classes, 1-D features, both candidates are the references:
//   x0: h = 1,  p = (0.5, 0.5);   x1: h = -2, p = (0.8, 0.2).
// Feature factors s = h(x) h(x') + 1: s(0,0) = 2, s(0,1) = s(1,0) = -1, s(1,1) = 5.
//
// logits: Σ_y q_y ||q - e_y||_1 = 2 (1 - Σ q²) is 1 for x0 and 2 (1 - 0.68) = 0.64
//   for x1, so the scores are 1 · (2 + 1) / 2 = 1.5 and 0.64 · (1 + 5) / 2 = 1.92.
// probs: with two classes J(x) = p0 p1 [[1, -1], [-1, 1]], so
//   ||J (q - e_y)||_1 = 2 p0 p1 |(q - e_y)_0 - (q - e_y)_1|, which is
//   2 p0 p1 |q0 - q1 - 1| for y = 0 and 2 p0 p1 |q0 - q1 + 1| for y = 1.
//   2 p0 p1 is 0.5 at x0 and 0.32 at x1.
//   Candidate x0 (q0 - q1 = 0, both labels give |..| = 1):
//     ref x0: |s| 0.5 · 1 = 2 · 0.5 = 1;  ref x1: |s| 0.32 · 1 = 0.32;  mean 0.66.
//   Candidate x1 (q0 - q1 = 0.6: |..| is 0.4 for y = 0, 1.6 for y = 1):
//     ref x0: 1 · 0.5 · (0.8 · 0.4 + 0.2 · 1.6) = 0.32
//     ref x1: 5 · 0.32 · (0.8 · 0.4 + 0.2 · 1.6) = 5 · 0.2048 = 1.024;  mean 0.672.

Deno.test("emocScores: a case worked by hand", () => {
  const probs = new Float32Array([0.5, 0.5, 0.8, 0.2]);
  const h = new Float32Array([1, -2]);
  const logits = emocScores(probs, h, 2, 2, 1, { reference: [0, 1], output: "logits" });
  assertAlmostEquals(logits[0] as number, 1.5, 1e-6);
  assertAlmostEquals(logits[1] as number, 1.92, 1e-6);
  const p = emocScores(probs, h, 2, 2, 1, { reference: [0, 1] }); // "probs" is the default
  assertAlmostEquals(p[0] as number, 0.66, 1e-6);
  assertAlmostEquals(p[1] as number, 0.672, 1e-6);
  // A reference given twice counts twice: references (0, 0, 1) for candidate x1 give (0.32 · 2 + 1.024) / 3.
  const twice = emocScores(probs, h, 2, 2, 1, { reference: [0, 0, 1] });
  assertAlmostEquals(twice[1] as number, (0.64 + 1.024) / 3, 1e-6);
});

// ---------------------------------------------------------------------------
// (b) A second method: the same dense layer in tfjs, with the parameter update
// from the autograd gradient of the cross-entropy and the output change as
// the autograd Jacobian of each output times that update.

/** EMOC of every candidate by autograd: Σ_y' p(y'|x') mean_x Σ_k |∇_θ f_k(x) · (-∇_θ CE(x', y'))|. */
function emocByAutograd(
  h: Float32Array,
  wData: Float32Array,
  bData: Float32Array,
  n: number,
  d: number,
  c: number,
  reference: readonly number[],
  output: "logits" | "probs",
): number[] {
  return tf.tidy(() => {
    const w = tf.tensor2d(wData, [c, d]), b = tf.tensor1d(bData);
    const row = (i: number) => tf.tensor2d(h.subarray(i * d, (i + 1) * d), [d, 1]);
    const logitsOf = (x: tf.Tensor2D, wt: tf.Tensor, bt: tf.Tensor) =>
      tf.add(tf.reshape(tf.matMul(wt as tf.Tensor2D, x), [c]), bt);
    const probsOf = (i: number) => tf.softmax(logitsOf(row(i), w, b)).arraySync() as number[];
    // Jacobian rows of each reference: jac[x][k] = [∂f_k/∂W, ∂f_k/∂b] flattened.
    const jac = reference.map((r) =>
      Array.from({ length: c }, (_, k) => {
        const fk = tf.grads((wt: tf.Tensor, bt: tf.Tensor) => {
          const z = logitsOf(row(r), wt, bt);
          return tf.gather(output === "logits" ? z : tf.softmax(z), k);
        });
        const [gw, gb] = fk([w, b]);
        return [...gw!.dataSync(), ...gb!.dataSync()];
      })
    );
    const scores: number[] = [];
    for (let i = 0; i < n; i++) {
      const q = probsOf(i);
      let score = 0;
      for (let y = 0; y < c; y++) {
        const ce = tf.grads((wt: tf.Tensor, bt: tf.Tensor) =>
          tf.neg(tf.gather(tf.logSoftmax(logitsOf(row(i), wt, bt)), y))
        );
        const [gw, gb] = ce([w, b]);
        const step = [...gw!.dataSync(), ...gb!.dataSync()].map((g) => -g); // one SGD step, rate 1
        let mean = 0;
        for (const rows of jac) {
          for (const jk of rows) mean += Math.abs(jk.reduce((a, v, j) => a + v * (step[j] as number), 0));
        }
        score += (q[y] as number) * mean / reference.length;
      }
      scores.push(score);
    }
    return scores;
  });
}

Deno.test("emocScores: agrees with autograd through a tfjs dense layer", () => {
  // n = 6 candidates leave a short block of 2 after a block of 4; 5 references leave an odd one.
  const n = 6, d = 3, c = 4;
  for (const seed of [1, 2]) {
    const { h, w, b } = randomLayer(seed, n, d, c, 1);
    const probs = softmaxRows(h, w, b, n, d, c);
    const reference = [0, 2, 3, 5, 2];
    for (const output of ["logits", "probs"] as const) {
      const expected = emocByAutograd(h, w, b, n, d, c, reference, output);
      const got = emocScores(probs, h, n, c, d, { reference, output });
      assertEquals(got.length, n);
      for (let i = 0; i < n; i++) assertRelative(got[i] as number, expected[i] as number, 1e-4, `${output} ${i}`);
    }
  }
});

// ---------------------------------------------------------------------------
// (c) The logits form factorises; and a plain-JS check of the probs form with
// the Jacobian built as a matrix.

Deno.test("emocScores: logits form is 2 (1 - ||q||²) times the mean of |h·h' + 1|", () => {
  const n = 13, d = 5, c = 7;
  const { h, w, b, rng } = randomLayer(3, n, d, c, 0.7);
  const probs = softmaxRows(h, w, b, n, d, c);
  const reference = emocReference(n, 6, () => rng.next());
  const got = emocScores(probs, h, n, c, d, { reference, output: "logits" });
  for (let i = 0; i < n; i++) {
    let sq = 0;
    for (let k = 0; k < c; k++) sq += (probs[i * c + k] as number) ** 2;
    let mean = 0;
    for (const r of reference) {
      let dot = 1;
      for (let j = 0; j < d; j++) dot += (h[i * d + j] as number) * (h[r * d + j] as number);
      mean += Math.abs(dot) / reference.length;
    }
    assertRelative(got[i] as number, 2 * (1 - sq) * mean, 1e-6, `candidate ${i}`);
  }
});

Deno.test("emocScores: probs form matches the Jacobian as a matrix", () => {
  const n = 9, d = 4, c = 5;
  const { h, w, b } = randomLayer(4, n, d, c, 1.5);
  const probs = softmaxRows(h, w, b, n, d, c);
  const reference = [8, 0, 3, 3, 7];
  const got = emocScores(probs, h, n, c, d, { reference });
  const p = (i: number, k: number) => probs[i * c + k] as number;
  for (let i = 0; i < n; i++) {
    let expected = 0;
    for (let y = 0; y < c; y++) {
      for (const r of reference) {
        let s = 1;
        for (let j = 0; j < d; j++) s += (h[i * d + j] as number) * (h[r * d + j] as number);
        let l1 = 0;
        for (let k = 0; k < c; k++) {
          let dz = 0; // (J(x) Δz)_k with Δz_l = -s (q_l - [l = y])
          for (let l = 0; l < c; l++) {
            const jkl = (k === l ? p(r, k) : 0) - p(r, k) * p(r, l);
            dz += jkl * -s * (p(i, l) - (l === y ? 1 : 0));
          }
          l1 += Math.abs(dz);
        }
        expected += p(i, y) * l1 / reference.length;
      }
    }
    assertRelative(got[i] as number, expected, 1e-9, `candidate ${i}`);
  }
});

Deno.test("emocScores: a one-hot candidate changes nothing; zero-probability labels are skipped", () => {
  const probs = new Float32Array([1, 0, 0, 0.2, 0.3, 0.5, 0, 0.5, 0.5]);
  const h = new Float32Array([1, 2, -1, 0.5, 0, 3]);
  for (const output of ["logits", "probs"] as const) {
    const s = emocScores(probs, h, 3, 3, 2, { reference: [0, 1, 2], output });
    assertEquals(s[0], 0);
    assert((s[1] as number) > 0 && (s[2] as number) > 0);
  }
});

Deno.test("emocScores: bad inputs throw; no candidates give no scores", async () => {
  const probs = new Float32Array([0.5, 0.5, 0.9, 0.1]);
  const h = new Float32Array([1, 2]);
  assertEquals(emocScores(new Float32Array(0), new Float32Array(0), 0, 2, 1, { reference: [] }).length, 0);
  await assertRejects(() => emocScores(probs, h, 2, 2, 1, { reference: [] }), /reference set is empty/);
  await assertRejects(() => emocScores(probs, h, 2, 2, 1, { reference: [2] }), /reference position 2/);
  await assertRejects(() => emocScores(probs, h, 2, 2, 1, { reference: [0.5] }), /reference position 0.5/);
  await assertRejects(() => emocScores(probs, h, 2, 2, 2, { reference: [0] }), /embeddings holds 2 values/);
  await assertRejects(() => emocScores(probs, h, 2, 3, 1, { reference: [0] }), /probabilities holds 4 values/);
  const negative = new Float32Array([1.5, -0.5, 0.5, 0.5]);
  await assertRejects(() => emocScores(negative, h, 2, 2, 1, { reference: [0] }), /row 0 holds a negative/);
  const nan = new Float32Array([1, NaN]);
  await assertRejects(() => emocScores(probs, nan, 2, 2, 1, { reference: [0] }), /embeddings row 1 holds a non-finite/);
  const bad = { reference: [0], output: "z" as "logits" };
  await assertRejects(() => emocScores(probs, h, 2, 2, 1, bad), /unknown output "z"/);
});

Deno.test("emocScores: 10,000 candidates x 500 references, d = 128, C = 10", () => {
  const n = 10_000, m = 500, d = 128, c = 10;
  const rng = makeRng(5);
  const h = Float32Array.from({ length: n * d }, () => rng.next() - 0.5);
  const probs = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    const e = Array.from({ length: c }, () => Math.exp(3 * rng.next()));
    const sum = e.reduce((a, v) => a + v, 0);
    e.forEach((v, k) => (probs[i * c + k] = v / sum));
  }
  const reference = emocReference(n, m, () => rng.next());
  for (const output of ["logits", "probs"] as const) {
    const start = performance.now();
    const s = emocScores(probs, h, n, c, d, { reference, output });
    const ms = performance.now() - start;
    assert(s.every((v) => Number.isFinite(v) && v >= 0));
    assert(ms < 60_000, `${output} took ${ms.toFixed(0)} ms`);
  }
});

// ---------------------------------------------------------------------------
// Helpers

Deno.test("meanPredictive: averages the samples' probabilities", async () => {
  const p = [[[0.7, 0.3], [0.1, 0.9]], [[1, 0], [0, 1]], [[0.25, 0.75], [0.25, 0.75]]];
  const lp = { data: new Float32Array(p.flat(2).map(Math.log)), n: 3, t: 2, c: 2 };
  const mean = meanPredictive(lp);
  [0.4, 0.6, 0.5, 0.5, 0.25, 0.75].forEach((v, k) => assertAlmostEquals(mean[k] as number, v, 1e-6));
  assertEquals(meanPredictive({ data: new Float32Array(0), n: 0, t: 3, c: 2 }).length, 0);
  await assertRejects(() => meanPredictive({ ...lp, t: 3 }), /hold 12 values, expected 3 x 3 x 2/);
});

Deno.test("emocReference: distinct sorted rows, the same for the same seed, all rows when m >= n", async () => {
  const draw = (seed: number) => {
    const r = makeRng(seed);
    return emocReference(50, 20, () => r.next());
  };
  const a = draw(1);
  assertEquals(a.length, 20);
  assertEquals(new Set(a).size, 20);
  assert(a.every((v, j) => Number.isInteger(v) && v >= 0 && v < 50 && (j === 0 || v > (a[j - 1] as number))));
  assertEquals(draw(1), a);
  assert(draw(2).join() !== a.join());
  assertEquals(emocReference(4, 9, Math.random), [0, 1, 2, 3]);
  assertEquals(emocReference(3, 1, () => 0.9999999999), [2]);
  await assertRejects(() => emocReference(3, -1, Math.random), /sample size must be an integer/);
});
