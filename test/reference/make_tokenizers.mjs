// Helper of test/reference/generate_models.py (and of tests) around the official `tokenizers`
// binding (npm `tokenizers`, the Rust library that also writes transformers' tokenizer.json):
//
//   node make_tokenizers.mjs train-bpe CORPUS OUT.json
//       trains a byte-level BPE (ByteLevel pre-tokenizer, add_prefix_space false, the library's
//       default BpeTrainer: every merge the corpus has) and saves it; the caller keeps the first
//       merges it wants (BPE training is greedy, so that is the model a smaller vocab_size gives).
//   node make_tokenizers.mjs canonicalize IN.json OUT.json [IN2.json OUT2.json ...]
//       loads a hand-composed tokenizer.json and saves it as the library serializes it (pretty,
//       as PreTrainedTokenizerFast.save_pretrained does), so an invalid file fails here.
//   node make_tokenizers.mjs encode < {"tokenizer": "DIR or tokenizer.json", "pairs": [[a, b], ...]}
//       prints {"input_ids", "token_type_ids", "attention_mask", "tokens"} (one list per pair, with
//       the post-processor's special tokens, no truncation, no padding): the ids the Rust
//       tokenizer gives, for references and self-checks.
//
// Single-threaded (RAYON_NUM_THREADS=1 is set by the caller when it matters): the output is a
// function of the input files.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import tokenizers from 'tokenizers';

const { Tokenizer, BPE, byteLevelPreTokenizer } = tokenizers;

function fail(message) {
  process.stderr.write(`make_tokenizers: ${message}\n`);
  process.exit(2);
}

async function main(argv) {
  const [command, ...args] = argv;
  if (command === 'train-bpe' && args.length === 2) {
    const tokenizer = new Tokenizer(BPE.empty());
    tokenizer.setPreTokenizer(byteLevelPreTokenizer(false, true));
    tokenizer.train([args[0]]);
    tokenizer.save(args[1], false);
    return;
  }
  if (command === 'canonicalize' && args.length >= 2 && args.length % 2 === 0) {
    for (let i = 0; i < args.length; i += 2) Tokenizer.fromString(readFileSync(args[i], 'utf8')).save(args[i + 1], true);
    return;
  }
  if (command === 'encode' && args.length === 0) {
    const request = JSON.parse(readFileSync(0, 'utf8'));
    let file = request.tokenizer;
    if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, 'tokenizer.json');
    const tokenizer = Tokenizer.fromFile(file);
    const answer = { input_ids: [], token_type_ids: [], attention_mask: [], tokens: [] };
    for (const [a, b] of request.pairs) {
      const encoding = await tokenizer.encode(a, b ?? null);
      answer.input_ids.push(encoding.getIds());
      answer.token_type_ids.push(encoding.getTypeIds());
      answer.attention_mask.push(encoding.getAttentionMask());
      answer.tokens.push(encoding.getTokens());
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
    return;
  }
  fail('usage: train-bpe CORPUS OUT.json | canonicalize IN.json OUT.json... | encode < request.json');
}

main(process.argv.slice(2)).catch((error) => fail(error?.stack ?? String(error)));
