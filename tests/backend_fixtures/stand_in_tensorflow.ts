/**
 * A stand-in for `@tensorflow/tfjs-node` in the backend selection test: it
 * registers a backend named "tensorflow" (tfjs's cpu backend under that
 * name, with the cpu kernels), as tfjs-node's import does with its binding.
 */
import * as tf from "@tensorflow/tfjs-core";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";

tf.registerBackend("tensorflow", () => new MathBackendCPU(), 0);
for (const kernel of tf.getKernelsForBackend("cpu")) tf.registerKernel({ ...kernel, backendName: "tensorflow" });
