/** A tiny BatchBALD experiment for the webgpu end-to-end test: consistent MC dropout, b = 5, two rounds. */
import { bald, batchBald, experiment, mcDropout, strategy } from "../mod.ts";
import tiny from "./tiny_mnist.ts";

const { acquisitions: _acquisitions, ...rest } = tiny;
const posterior = mcDropout({ samples: 8, consistent: true });
export default experiment({
  ...rest,
  name: "tiny-batchbald",
  acquireSize: 5,
  strategies: [strategy({ name: "batch-bald", posterior, score: bald, acquire: batchBald(5) })],
});
