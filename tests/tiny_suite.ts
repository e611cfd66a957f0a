/** A tiny suite used by the sweep tests: the tiny MNIST experiment and an ablation of its MC samples. */
import { experiment, suite } from "../mod.ts";
import tiny from "./tiny_mnist.ts";

export default suite({
  name: "tiny-suite",
  experiments: [tiny, experiment({ ...tiny, name: "tiny-mnist-t3", mcSamples: 3 })],
});
