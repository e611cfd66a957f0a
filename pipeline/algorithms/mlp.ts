/**
 * The small seeded MLP that discriminative active learning and the
 * learning-loss head both train: dense layers d → hidden... → 1 with ReLU
 * between them, Glorot-uniform weights drawn from the caller's `rand`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

/** One dense layer's trainable weights. */
export interface MlpLayer {
  readonly w: tf.Variable;
  readonly b: tf.Variable;
}

/**
 * Dense layers d → hidden... → 1, Glorot-uniform weights drawn from `rand`,
 * zero biases. The caller disposes the variables.
 *
 * @param d input width
 * @param hidden hidden widths
 * @param rand seeded uniforms in [0, 1)
 * @returns the layers
 */
export function initMlp(d: number, hidden: readonly number[], rand: () => number): MlpLayer[] {
  const widths = [d, ...hidden, 1];
  const layers: MlpLayer[] = [];
  for (let k = 0; k + 1 < widths.length; k++) {
    const fanIn = widths[k] as number, fanOut = widths[k + 1] as number;
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    const w = new Float32Array(fanIn * fanOut);
    for (let i = 0; i < w.length; i++) w[i] = (2 * rand() - 1) * limit;
    // tf.variable shares the initial tensor's data; the tidies dispose those initial handles.
    layers.push({
      w: tf.tidy(() => tf.variable(tf.tensor2d(w, [fanIn, fanOut]))),
      b: tf.tidy(() => tf.variable(tf.zeros([fanOut]))),
    });
  }
  return layers;
}

/**
 * Outputs [rows] of the MLP (ReLU between layers, linear output). Call inside a tidy.
 *
 * @param layers the layers
 * @param x inputs [rows, d]
 * @returns one number per row
 */
export function mlpForward(layers: readonly MlpLayer[], x: tf.Tensor2D): tf.Tensor1D {
  let h: tf.Tensor2D = x;
  layers.forEach((layer, k) => {
    h = tf.add(tf.matMul(h, layer.w as tf.Tensor2D), layer.b);
    if (k + 1 < layers.length) h = tf.relu(h);
  });
  return tf.reshape(h, [-1]);
}

/**
 * In-place Fisher-Yates shuffle driven by `rand`.
 *
 * @param order the array to shuffle
 * @param rand seeded uniforms in [0, 1)
 */
export function shuffleInPlace(order: Int32Array, rand: () => number): void {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const tmp = order[i] as number;
    order[i] = order[j] as number;
    order[j] = tmp;
  }
}
