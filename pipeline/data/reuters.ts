/**
 * Reuters-21578 loader: the SGML distribution, ModApte split, restricted to
 * the 90 topic categories that have at least one training and one test story.
 *
 * @module
 */

import { decodeLatin1 } from "./codec.ts";
import { formatError } from "./errors.ts";
import {
  computeContentHash,
  type DatasetSpec,
  describeFiles,
  fetchDatasetFiles,
  type FileSpec,
  type LoadOptions,
} from "./files.ts";
import type { MultiLabelTextDataset, MultiLabelTextSplit } from "./types.ts";

/** One `<REUTERS>` element. */
export interface ReutersStory {
  /** `NEWID` attribute. */
  readonly newId: number;
  /** `LEWISSPLIT` attribute: `TRAIN`, `TEST` or `NOT-USED`. */
  readonly lewisSplit: string;
  /** `TOPICS` attribute: `YES`, `NO` or `BYPASS`. */
  readonly topicsAttr: string;
  /** Topic categories from `<TOPICS><D>..</D></TOPICS>`, duplicates removed. */
  readonly topics: readonly string[];
  /** Decoded `<TITLE>` (empty when absent). */
  readonly title: string;
  /** Decoded `<BODY>` (empty when absent). */
  readonly body: string;
  /**
   * The text to classify: title and body on separate lines; for stories
   * with neither (`<TEXT TYPE="UNPROC">`), the whole `<TEXT>` content.
   */
  readonly text: string;
}

const NAMED: Readonly<Record<string, string>> = {
  lt: "<",
  gt: ">",
  amp: "&",
  quot: '"',
  apos: "'",
};

/**
 * Decodes SGML character references (`&#3;`, `&#x41;`, `&lt;`, `&amp;`, ...)
 * and then drops control characters other than tab and newline (the
 * collection marks story boundaries with `&#2;`, `&#3;` and the like, which
 * carry no text). Unknown named references are left as they are.
 */
export function decodeSgmlText(s: string): string {
  return s
    .replace(
      /&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z]+);/g,
      (ref, body: string) => {
        if (body.startsWith("#")) {
          const code = body[1] === "x" || body[1] === "X" ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
          return code <= 0x10ffff ? String.fromCodePoint(code) : ref;
        }
        return NAMED[body] ?? ref;
      },
    )
    // deno-lint-ignore no-control-regex -- matching control characters is the point
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "");
}

const elementPatterns = new Map<string, RegExp>();

/** Content of the first `<tag ...>..</tag>` element in `content`. */
function element(content: string, tag: string): string | undefined {
  let re = elementPatterns.get(tag);
  if (re === undefined) {
    re = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`);
    elementPatterns.set(tag, re);
  }
  return re.exec(content)?.[1];
}

function attributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/([A-Za-z-]+)="([^"]*)"/g)) {
    out.set(m[1]!, m[2]!);
  }
  return out;
}

/**
 * Parses one Reuters-21578 SGML file (already decoded from Latin-1) into its
 * stories, in file order. An unclosed `<REUTERS>` element or a missing or
 * non-numeric `NEWID` raises a `format` {@link DataError} naming `file`.
 */
export function parseReutersSgml(text: string, file: string): ReutersStory[] {
  const stories: ReutersStory[] = [];
  const opened = text.match(/<REUTERS[\s>]/g)?.length ?? 0;
  for (const m of text.matchAll(/<REUTERS\b([^>]*)>([\s\S]*?)<\/REUTERS>/g)) {
    const attrs = attributes(m[1]!);
    const content = m[2]!;
    const newIdText = attrs.get("NEWID") ?? "";
    if (!/^[0-9]+$/.test(newIdText)) {
      formatError(
        file,
        `story ${stories.length + 1} has no numeric NEWID attribute`,
      );
    }
    const topicsBlock = element(content, "TOPICS") ?? "";
    const topics = [
      ...new Set(
        [...topicsBlock.matchAll(/<D>([\s\S]*?)<\/D>/g)].map((d) => decodeSgmlText(d[1]!).trim()),
      ),
    ];
    const textBlock = element(content, "TEXT") ?? "";
    const title = decodeSgmlText(element(textBlock, "TITLE") ?? "").trim();
    const body = decodeSgmlText(element(textBlock, "BODY") ?? "").trim();
    const joined = [title, body].filter((t) => t !== "").join("\n");
    stories.push({
      newId: Number(newIdText),
      lewisSplit: attrs.get("LEWISSPLIT") ?? "",
      topicsAttr: attrs.get("TOPICS") ?? "",
      topics,
      title,
      body,
      text: joined !== "" ? joined : decodeSgmlText(textBlock.replace(/<[^>]*>/g, "")).trim(),
    });
  }
  if (stories.length !== opened) {
    formatError(
      file,
      `it opens ${opened} <REUTERS> elements but closes ${stories.length}`,
    );
  }
  return stories;
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The ModApte data: category names and the two splits. */
export interface ModApte {
  readonly labelNames: readonly string[];
  readonly train: MultiLabelTextSplit;
  readonly test: MultiLabelTextSplit;
}

/**
 * Applies the ModApte split: training stories have `LEWISSPLIT="TRAIN"`,
 * test stories `LEWISSPLIT="TEST"`, both with `TOPICS="YES"`. Categories are
 * the topics with at least one training and one test story (sorted by code
 * unit); stories without any of them are dropped. Story order is kept.
 */
export function modApte(stories: readonly ReutersStory[]): ModApte {
  const train = stories.filter((s) => s.topicsAttr === "YES" && s.lewisSplit === "TRAIN");
  const test = stories.filter((s) => s.topicsAttr === "YES" && s.lewisSplit === "TEST");
  const inTrain = new Set(train.flatMap((s) => s.topics));
  const inTest = new Set(test.flatMap((s) => s.topics));
  const labelNames = [...inTrain].filter((t) => inTest.has(t)).sort(byCodeUnit);
  const index = new Map(labelNames.map((l, i) => [l, i]));
  const split = (part: readonly ReutersStory[]): MultiLabelTextSplit => {
    const kept = part.filter((s) => s.topics.some((t) => index.has(t)));
    const y = new Uint8Array(kept.length * labelNames.length);
    kept.forEach((s, row) => {
      for (const t of s.topics) {
        const col = index.get(t);
        if (col !== undefined) y[row * labelNames.length + col] = 1;
      }
    });
    return {
      texts: kept.map((s) => s.text),
      y,
      ids: Int32Array.from(kept, (s) => s.newId),
    };
  };
  return { labelNames, train: split(train), test: split(test) };
}

/**
 * sha256 and sizes of the 22 SGML files. No per-file checksum is published;
 * these are the values of the copies that independent public copies agree
 * on (see the data README).
 */
const SGML_FILES: readonly (readonly [number, string])[] = [
  [
    1_324_350,
    "9ff9bb40624ef992a03f62aace12e697dca1087abfd9b4d06aa787a6ad3e0687",
  ],
  [
    1_254_440,
    "1528e7e82d110d88d0234eb9619eadb7f9fd805711971df05975b92277dfdf4d",
  ],
  [
    1_217_495,
    "99f18068d0518952987dedd78c622e5c2a584e357d264d3754696c815f3e6628",
  ],
  [
    1_298_721,
    "78a3a8d7e04bc9d42c4614d5d5c60a4293dbe3f708df6fb5a71d9ef31f4b3fa3",
  ],
  [
    1_321_623,
    "726342c19a65873330b412378cd6a3f0d512035f5223146ddd60930c62eb6ff0",
  ],
  [
    1_388_644,
    "d09de619b6dd2d047d5124681f6df90550abaf592020d1c1ce338ae9b91522e7",
  ],
  [
    1_254_765,
    "b5535c0d66b01f4976f84621a4a795afbc00d2c4bd0a1b7ae426df6630fb361d",
  ],
  [
    1_256_772,
    "aa706007ec84a03537a3921ca976d60e11b3f99e4b9e9b2d5c81dd384d2c2062",
  ],
  [
    1_410_117,
    "a3994583694a00b7c744097c1d7eabfcf90f2e6650cc21663e46828035a336cb",
  ],
  [
    1_338_903,
    "29995f606dd1a9bdf907eacc9d879846c716860d9d9141676979474aaea39c7d",
  ],
  [
    1_371_071,
    "996df6008089bd09fa5b28a4d2eb0ee5f7b9d4601cde566fed3926ac82960fa3",
  ],
  [
    1_304_117,
    "d3a2782015247d9c2bffb8926267827fdd449c70d619435ef01a25a1c56a53ca",
  ],
  [
    1_323_584,
    "da31035d483851f2aebce5b66d779e5e2c0ac9dcfe098596c6d544e81c5604ab",
  ],
  [
    1_129_687,
    "8f7700bc0455fac3fcc12377ced4807b7df8aba1f21ecad059b9cc2b1cf0b8be",
  ],
  [
    1_128_671,
    "ef936bd3e0f36cf722afa9a6957563549775af32e9e28b4f539c8737ceda83ab",
  ],
  [
    1_258_665,
    "6d3bcec73eff871b8a5403588af814c4e50a0de6bc25707480522ab836f74026",
  ],
  [
    1_316_417,
    "be2f03a185fff70131f3b4fdbd6229b7ee2be077eba9691eaa597c8cfbda8812",
  ],
  [
    1_546_911,
    "f370e610b4b1342e41a98e0c426a08541044bd1d7e539674f32372a6060b73b5",
  ],
  [
    1_258_819,
    "a5f971bf25448e915781962309e669359a35fbcaf3017a806eca0590897f209a",
  ],
  [
    1_261_780,
    "d3b07097fba2633d130b4914aceba671645985248943ce9e39c289315339dffb",
  ],
  [
    1_049_566,
    "f6ad1b724125c202566c63b35ea0b5ee23881f8b7ed47a32829d5af05d8e860d",
  ],
  [621_648, "3f5196d32869723c9042aa5756805b4e90360f1f45ea17f4594fa0e2b3630b18"],
];

/**
 * Reuters-21578 files `reuters21578/reut2-000.sgm` .. `reut2-021.sgm`,
 * downloaded as the official archive (sha256 as pinned by scikit-learn).
 */
export const REUTERS_SPEC: DatasetSpec = {
  title: "Reuters-21578",
  files: SGML_FILES.map(([bytes, sha256], i): FileSpec => ({
    path: `reuters21578/reut2-${String(i).padStart(3, "0")}.sgm`,
    bytes,
    sha256,
  })),
  source: {
    kind: "archive",
    archive: {
      path: "reuters21578.tar.gz",
      bytes: 8_150_596,
      sha256: "3bae43c9b14e387f76a61b6d82bf98a4fb5d3ef99ef7e7075ff2ccbcf59f9d30",
    },
    urls: [
      "https://kdd.ics.uci.edu/databases/reuters21578/reuters21578.tar.gz",
    ],
    into: "reuters21578",
  },
};

/**
 * Loads Reuters-21578 (ModApte, 90 categories: 7,770 train / 3,019 test
 * stories) from `<dataDir>/reuters21578/`, downloading and unpacking the
 * official archive when files are missing (unless disabled).
 */
export async function loadReuters(
  opts: LoadOptions = {},
): Promise<MultiLabelTextDataset> {
  const { files } = await fetchDatasetFiles(REUTERS_SPEC, opts);
  const stories = files.flatMap((f) => parseReutersSgml(decodeLatin1(f.data), f.absPath));
  const { labelNames, train, test } = modApte(stories);
  const described = describeFiles(files);
  return {
    kind: "multilabel",
    name: "reuters-modapte",
    train,
    test,
    labelNames,
    files: described,
    contentHash: await computeContentHash(
      "reuters",
      { loader: 1, split: "ModApte", minTrain: 1, minTest: 1 },
      described,
    ),
  };
}
