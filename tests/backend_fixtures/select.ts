/** Prints, as JSON, what `selectBackend(<request>)` chose in a fresh process (backend state is global). */
import { selectBackend } from "../../pipeline/tensor/backend.ts";
import * as tf from "@tensorflow/tfjs-core";

const request = (Deno.args[0] ?? "auto") as Parameters<typeof selectBackend>[0];
try {
  const info = await selectBackend(request, () => {});
  // A real op on the chosen backend.
  const sum = (await tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).data()).join(",");
  console.log(JSON.stringify({ name: info.name, notes: info.notes, sum }));
} catch (e) {
  console.log(JSON.stringify({ error: (e as Error).message }));
}
