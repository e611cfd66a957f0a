/**
 * The NLP part of S. Loustau's talk "Bayesian Deep Active Learning: Computer
 * vision and NLP" (2023, `seeds/000_*.txt`), on Reuters-21578 (ModApte, 90
 * topics, multi-label) and, as `trec`, on TREC question classification
 * (6 classes, single-label).
 *
 * The talk's procedure: start from a small labelled subsample; train the text
 * encoder (5 epochs of a pretrained Transformer, CamemBERT/FlauBERT), then a
 * fully connected output layer with VOGN (a diagonal Gaussian posterior over
 * its weights); select the next subsample by uncertainty; continue training;
 * validate on the test set with top1, top5 and "recall". Uncertainties
 * compared:
 * - non-Bayesian, from the deterministic network: entropy H(y) and the
 *   "difference" 1 - (y⁽¹⁾ - y⁽²⁾) (margin);
 * - Bayesian, from N = 10 draws of the VOGN posterior: the entropy of the
 *   top-u outputs across draws ("the randomness of the Bayesian procedure
 *   does the job"), and here also BALD;
 * - random selection as the baseline.
 * Its warning that "the uncertainty depends on the number of tags" is met by
 * aggregating per-tag entropy/BALD as the sum per expected tag ("sum-per-tag",
 * see `pipeline/algorithms/multilabel.ts`): on multi-label data the text pack runs `maxEntropy`
 * and `bald` as `multiLabelEntropy()` and `multiLabelBald()`.
 *
 * What differs: no pretrained encoder can be downloaded here, so the encoder
 * is a hashed unigram+bigram embedding bag with one ReLU hidden layer
 * (fastText-like), trained from scratch on the labelled documents every round
 * (`pipeline/tensor/text_encoder.ts`, a `textEncoder` model of the text pack,
 * `pipeline/packs/text.ts`); the VOGN head (`vognHead`) is fitted on its
 * hidden features (`pipeline/tensor/vogn.ts`, and its sigmoid twin
 * `fitVognSigmoidHead` for multi-label tags). The talk's data
 * (French library catalogues) are replaced by Reuters-21578 and TREC. The
 * metrics are those of its tables (top1, top5, recall) plus micro/macro F1.
 *
 * The default size (100 random labels, then 4 rounds of 100, 2 seeds, a pool
 * subset of 2,000 scored per round) is meant to run in about a quarter of an
 * hour on 2 CPU cores; `full` goes to 1,100 labels over 10 rounds, scores the
 * whole pool and uses 3 seeds.
 *
 * Run: `deno task exp examples/text-multilabel.ts` (add `--full` for the
 * larger scale). `trec` (named export) is the same experiment on TREC.
 */
import { experiment } from "../dsl/experiment.ts";
import { bald, deterministic, margin, maxEntropy, random, strategy, topK, topU, vognHead } from "../dsl/strategy.ts";
import { textEncoder } from "../dsl/text.ts";

/** Non-Bayesian strategies read the encoder's own output layer; Bayesian ones N = 10 draws of the VOGN head. */
const point = deterministic();
const vogn = vognHead({ samples: 10, priorPrecision: 1, epochs: 50 });
const acquire = topK(100);
const strategies = [
  strategy({ name: "random", posterior: point, score: random, acquire }),
  strategy({ name: "entropy", posterior: point, score: maxEntropy, acquire }),
  strategy({ name: "difference", posterior: point, score: margin, acquire }),
  strategy({ name: "bald-vogn", posterior: vogn, score: bald, acquire }),
  strategy({ name: "top-u-vogn", posterior: vogn, score: topU(1), acquire }),
];

const encoder = { buckets: 32768, maxTokens: 200, dim: 64, hidden: 64, epochs: 20, batchSize: 32, learningRate: 0.03 };

/** Reuters-21578 ModApte, multi-label: the default experiment. */
export default experiment({
  name: "text-multilabel",
  description: "Loustau 2023, NLP part, on Reuters-21578 ModApte (90 topics): a hashed n-gram embedding-bag " +
    "encoder trained from scratch, a VOGN sigmoid head, Bayesian (BALD, top-u entropy over 10 VOGN draws) vs " +
    "non-Bayesian (entropy, difference) vs random acquisition.",
  dataset: "reuters",
  model: textEncoder(encoder),
  initialLabelled: 100,
  rounds: 4,
  seeds: [0, 1],
  strategies,
  poolSubset: 2000,
  testSubset: 3019,
  full: { rounds: 10, seeds: [0, 1, 2], poolSubset: 7770 },
});

/** The same on TREC (6 coarse classes, single-label): softmax encoder and the softmax VOGN head. */
export const trec = experiment({
  name: "text-trec",
  description: "Loustau 2023, NLP part, on TREC (6 coarse classes): as text-multilabel, single-label.",
  dataset: "trec",
  model: textEncoder({ ...encoder, maxTokens: 50 }),
  initialLabelled: 100,
  rounds: 4,
  seeds: [0, 1],
  strategies,
  poolSubset: 2000,
  testSubset: 500,
  full: { rounds: 10, seeds: [0, 1, 2], poolSubset: 5452 },
});
