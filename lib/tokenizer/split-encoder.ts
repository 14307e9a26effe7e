/**
 * Text to token ids split by split, as the Rust `tokenizers` crate sees them: an added token is
 * one split, and each pre-token (word) of the text between added tokens is another. The split
 * boundaries matter because the crate stops encoding a text at the first word boundary past its
 * truncation length (tokenizers ≥ 0.23, `PreTokenizedString::tokenize_with_limit`), and pair
 * truncation then compares those lengths (see truncation.ts).
 *
 * `@huggingface/tokenizers` returns the ids of a whole text only, so its pipeline is driven here,
 * step by step as its `encode_text` does (and as the crate's `AddedVocabulary` does): split on
 * unnormalized added tokens, normalize, split on normalized added tokens, pre-tokenize, then run
 * the model on each word. `encode_text`'s `remove_space` and `do_lowercase_and_remove_accent`
 * (options of tokenizer_config.json) are left out: the crate reads tokenizer.json only.
 */

/** One added token of `@huggingface/tokenizers`. */
interface AddedToken {
  readonly id: number;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
}

/**
 * The parts of a `@huggingface/tokenizers` `Tokenizer` this module drives, typed by hand (they are
 * public fields of the library's class, but its .d.ts does not declare all of them).
 */
export interface TokenizerParts {
  readonly splitter_unnormalized: { split(text: string): string[] };
  readonly splitter_normalized: { split(text: string): string[] };
  readonly added_tokens_map: ReadonlyMap<string, AddedToken>;
  readonly normalizer: ((text: string) => string) | null;
  readonly pre_tokenizer: ((text: string, options: { section_index: number; at_text_start: boolean }) => string[]) | null;
  readonly model: ((words: string[]) => string[]) & {
    readonly tokens_to_ids: ReadonlyMap<string, number>;
    readonly unk_token_id?: number;
    /** Whether runs of unknown tokens are fused into one (Unigram): done here, see SplitEncoder. */
    fuse_unk?: boolean;
  };
}

/** The ids of one text, with where each split ends. */
export interface SplitIds {
  ids: number[];
  /**
   * For each split the model tokenized (a word, not an added token), the number of ids up to
   * its end; increasing.
   */
  wordEnds: number[];
}

/** Encodes texts into {@link SplitIds}, appending to a running result so chunks concatenate. */
export class SplitEncoder {
  /**
   * Whether the model fuses runs of unknown tokens (Unigram, as the crate's Unigram does per
   * word). Done on the ids here: the library fuses by growing a string it hashes at each step,
   * quadratic in the run (a second for 16,000 unknown characters).
   */
  private readonly fuseUnknown: boolean;

  constructor(private readonly parts: TokenizerParts) {
    this.fuseUnknown = parts.model.fuse_unk === true;
    parts.model.fuse_unk = false;
  }

  /**
   * Appends the splits of `text` to `into` (whose offsets continue from `into.ids.length`);
   * `atTextStart` when `text` starts the whole text (not a later chunk of it).
   */
  encode(text: string, into: SplitIds, atTextStart = true): void {
    const { added_tokens_map: added, model } = this.parts;
    const idOf = (token: string) => model.tokens_to_ids.get(token) ?? (model.unk_token_id as number);
    const sections = stripAround(this.parts.splitter_unnormalized.split(text), added);
    sections.forEach((section, sectionIndex) => {
      if (section.length === 0) return;
      const token = added.get(section);
      if (token) {
        into.ids.push(token.id);
        return;
      }
      const normalized = this.parts.normalizer ? this.parts.normalizer(section) : section;
      if (normalized.length === 0) return;
      stripAround(this.parts.splitter_normalized.split(normalized), added).forEach((subsection, subIndex) => {
        if (subsection.length === 0) return;
        const subToken = added.get(subsection);
        if (subToken) {
          into.ids.push(subToken.id);
          return;
        }
        const atStart = atTextStart && sectionIndex === 0 && subIndex === 0;
        const words = this.parts.pre_tokenizer?.(subsection, { section_index: sectionIndex, at_text_start: atStart }) ?? [subsection];
        const unknown = model.unk_token_id;
        for (const word of words) {
          const wordStart = into.ids.length;
          for (const piece of model([word])) {
            const id = added.get(piece)?.id ?? idOf(piece);
            if (this.fuseUnknown && id === unknown && into.ids.length > wordStart && into.ids[into.ids.length - 1] === unknown) continue;
            into.ids.push(id);
          }
          into.wordEnds.push(into.ids.length);
        }
      });
    });
  }
}

/** Applies added tokens' `lstrip` / `rstrip` to their neighbours, as `encode_text` does. */
function stripAround(sections: string[], added: ReadonlyMap<string, AddedToken>): string[] {
  sections.forEach((section, i) => {
    const token = added.get(section);
    if (!token) return;
    if (token.lstrip && i > 0) sections[i - 1] = sections[i - 1].trimEnd();
    if (token.rstrip && i < sections.length - 1) sections[i + 1] = sections[i + 1].trimStart();
  });
  return sections;
}
