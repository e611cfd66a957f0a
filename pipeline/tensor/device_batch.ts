/**
 * The tensor parts of the batch rules on a GPU backend (see
 * `JointEntropyDevice` and `NearestCentresDevice` in
 * `pipeline/algorithms/batch.ts`). BatchBALD: H(y_i | y_S) for every
 * candidate i in one matrix product per greedy step, with only one entropy
 * per item read back. Core-set: every row's squared distance to its nearest
 * labelled row, one number per row read back.
 *
 * For configurations m of the chosen set, with weights w_m and posterior rows
 * q_m over the T samples, and an item's probabilities p_i[t, c]:
 * H(y_i | y_S) = sum_m w_m sum_c -r log r with r = sum_t q_m[t] p_i[t, c],
 * which is Q [M, T] times P [T, N*C], then -r log r, a sum over C and a
 * weighted sum over M. Items go in chunks so that no product exceeds
 * {@link MAX_PRODUCT} values. float32 (the JS form sums in float64).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { JointEntropyDevice, NearestCentresDevice } from "../algorithms/batch.ts";
import { LOG_ZERO } from "./device_scores.ts";

/** The most values one product [M, chunk * C] may hold (64 MiB of float32). */
export const MAX_PRODUCT = 1 << 24;

/**
 * BatchBALD's conditional entropies as tensor ops on the current backend.
 *
 * @param maxProduct the most values one product may hold (items go in chunks to stay under it)
 * @returns the device part
 */
export function jointEntropyDevice(maxProduct: number = MAX_PRODUCT): JointEntropyDevice {
  return {
    load: ({ data, n, t, c }) => {
      // P as [T, N * C]: sample-major, so that Q [M, T] times it gives every (item, class).
      const probs = tf.tidy(() =>
        tf.reshape(tf.transpose(tf.exp(tf.tensor3d(data, [n, t, c])), [1, 0, 2]), [t, n * c])
      );
      return {
        async conditionalEntropies(weight, rows, count) {
          const out = new Float64Array(n);
          if (n === 0 || count === 0) return out;
          const chunk = Math.max(1, Math.floor(maxProduct / (count * c)));
          const q = tf.tensor2d(Float32Array.from(rows.subarray(0, count * t)), [count, t]);
          const w = tf.tensor2d(Float32Array.from(weight.subarray(0, count)), [1, count]);
          try {
            for (let start = 0; start < n; start += chunk) {
              const size = Math.min(chunk, n - start);
              const h = tf.tidy(() => {
                const p = tf.slice(probs, [0, start * c], [t, size * c]);
                const r = tf.matMul(q, p);
                const negRLogR = tf.neg(tf.mul(r, tf.maximum(tf.log(r), LOG_ZERO)));
                const perConfig = tf.sum(tf.reshape(negRLogR, [count, size, c]), 2);
                return tf.reshape(tf.matMul(w, perConfig), [size]);
              });
              try {
                out.set(await h.data(), start);
              } finally {
                h.dispose();
              }
            }
          } finally {
            tf.dispose([q, w]);
          }
          return out;
        },
        release() {
          probs.dispose();
        },
      };
    },
  };
}

/** {@link jointEntropyDevice} with the default chunking. */
export const jointEntropiesOnDevice: JointEntropyDevice = jointEntropyDevice();

/**
 * Core-set's distances to the labelled rows as tensor ops on the current
 * backend: for a chunk of rows and every centre, the differences [rows,
 * centres, d] squared and summed (not |x|^2 + |c|^2 - 2 x.c, which loses
 * close pairs to cancellation in float32), then the minimum over centres.
 *
 * @param maxProduct the most values one difference tensor may hold
 * @returns the device part
 */
export function nearestCentresDevice(maxProduct: number = MAX_PRODUCT): NearestCentresDevice {
  return {
    async minSquaredDistances(x, n, d, centres) {
      const out = new Float64Array(n).fill(Infinity);
      if (n === 0 || centres.length === 0) return out;
      const rows = tf.tensor2d(x.subarray(0, n * d), [n, d]);
      const c = tf.tidy(() => tf.gather(rows, tf.tensor1d(Int32Array.from(centres), "int32")));
      const chunk = Math.max(1, Math.floor(maxProduct / (centres.length * d)));
      try {
        for (let start = 0; start < n; start += chunk) {
          const size = Math.min(chunk, n - start);
          const m = tf.tidy(() => {
            const r = tf.reshape(tf.slice(rows, [start, 0], [size, d]), [size, 1, d]);
            return tf.min(tf.sum(tf.square(tf.sub(r, tf.expandDims(c, 0))), 2), 1);
          });
          try {
            out.set(await m.data(), start);
          } finally {
            m.dispose();
          }
        }
      } finally {
        tf.dispose([rows, c]);
      }
      return out;
    },
  };
}

/** {@link nearestCentresDevice} with the default chunking. */
export const nearestCentresOnDevice: NearestCentresDevice = nearestCentresDevice();
