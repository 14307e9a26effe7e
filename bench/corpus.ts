/**
 * The benchmark's synthetic corpus: a pure function of a seed and a word list, so every run (and
 * both sides of the comparison) sees the same texts.
 *
 * Queries have 5-12 words. Document lengths follow a log-normal (median 60 words, clipped to
 * 20-200), the long-tailed shape of real passages (MS MARCO's average ~56 words). Words are drawn
 * from the whole-word entries of the model's WordPiece vocabulary with a Zipf-like rank bias,
 * so frequent words recur as in real text; sentences are capitalised and end with a full stop.
 */
import { readFileSync } from 'node:fs';

/** A (query, document) pair with a 0/1 relevance label (used by the training workload). */
export interface BenchPair {
  query: string;
  document: string;
  label: number;
}

export interface CorpusSizes {
  /** Pairs scored by the predict workload. */
  predictPairs: number;
  /** Rank calls (one query, `rankDocuments` documents each). */
  rankRepeats: number;
  rankDocuments: number;
  /** Training rows: exactly one epoch of `trainSteps` batches of `trainBatchSize`. */
  trainSteps: number;
  trainBatchSize: number;
}

export interface Corpus {
  seed: number;
  predict: BenchPair[];
  /** Warm-up pairs for predict and training, disjoint from the measured ones. */
  warmup: BenchPair[];
  rank: Array<{ query: string; documents: string[] }>;
  train: BenchPair[];
}

const QUERY_WORDS = [5, 12] as const;
const DOCUMENT_WORDS = { median: 60, sigma: 0.55, min: 20, max: 200 } as const;
const SENTENCE_WORDS = [6, 22] as const;
const POSITIVE_RATE = 0.3;
const WARMUP_PAIRS = 96;

/** mulberry32: a small, fast, well-mixed 32-bit generator; plenty for synthetic text. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Whole words of a vocab.txt (lowercase letters only, no `##` pieces, no special tokens). */
export function vocabularyWords(vocabFile: string): string[] {
  return readFileSync(vocabFile, 'utf8')
    .split('\n')
    .filter((token) => /^[a-z]{2,}$/.test(token));
}

class TextGenerator {
  constructor(
    private readonly random: () => number,
    private readonly words: readonly string[],
  ) {}

  integer(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  /** Box-Muller normal draw. */
  normal(): number {
    const u = 1 - this.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random());
  }

  documentLength(): number {
    const { median, sigma, min, max } = DOCUMENT_WORDS;
    return Math.min(max, Math.max(min, Math.round(median * Math.exp(sigma * this.normal()))));
  }

  /** Vocabulary order is roughly frequency order: squaring a uniform draw favours early ranks. */
  word(): string {
    const u = this.random();
    return this.words[Math.floor(u * u * this.words.length)];
  }

  sentences(count: number, end: string): string {
    const parts: string[] = [];
    let left = count;
    while (left > 0) {
      const length = Math.min(left, this.integer(SENTENCE_WORDS[0], SENTENCE_WORDS[1]));
      const words = Array.from({ length }, () => this.word());
      words[0] = words[0][0].toUpperCase() + words[0].slice(1);
      parts.push(`${words.join(' ')}${end}`);
      left -= length;
    }
    return parts.join(' ');
  }

  query(): string {
    const words = Array.from({ length: this.integer(QUERY_WORDS[0], QUERY_WORDS[1]) }, () => this.word());
    return `${words.join(' ')}?`;
  }

  document(): string {
    return this.sentences(this.documentLength(), '.');
  }

  pair(): BenchPair {
    return { query: this.query(), document: this.document(), label: this.random() < POSITIVE_RATE ? 1 : 0 };
  }
}

/** Builds the corpus; the same seed, words and sizes always give the same texts. */
export function buildCorpus(seed: number, words: readonly string[], sizes: CorpusSizes): Corpus {
  if (words.length < 1000) throw new Error(`the word list has only ${words.length} words`);
  const generate = new TextGenerator(seededRandom(seed), words);
  const pairs = (count: number) => Array.from({ length: count }, () => generate.pair());
  return {
    seed,
    predict: pairs(sizes.predictPairs),
    warmup: pairs(WARMUP_PAIRS),
    rank: Array.from({ length: sizes.rankRepeats }, () => ({
      query: generate.query(),
      documents: Array.from({ length: sizes.rankDocuments }, () => generate.document()),
    })),
    train: pairs(sizes.trainSteps * sizes.trainBatchSize),
  };
}
