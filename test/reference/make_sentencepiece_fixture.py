"""Trains test/fixtures/tiny-xlm-roberta/sentencepiece.bpe.model: a tiny sentencepiece Unigram model
in the shape of XLM-RoBERTa's (`<unk>`=0, `<s>`=1, `</s>`=2, nmt_nfkc normalization with its
precompiled_charsmap, add_dummy_prefix, remove_extra_whitespaces), on families/corpus.py's text.

    apt-get install python3-sentencepiece
    /usr/bin/python3 test/reference/make_sentencepiece_fixture.py

Run by hand, once: the model file is checked in (as the bert-base-uncased fixture is), so neither
the test setup nor generate_models.py needs sentencepiece; generate_models.py reads the protobuf
itself (families/sentencepiece_model.py) and converts it as transformers' XLMRobertaConverter does.
(XLM-R's file is called sentencepiece.bpe.model although it holds a Unigram model.)
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import os  # noqa: E402
import shutil  # noqa: E402

import sentencepiece as spm  # noqa: E402

from families.corpus import write_corpus  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "fixtures", "tiny-xlm-roberta", "sentencepiece.bpe.model")
VOCAB_SIZE = 3000  # pieces, <unk> <s> </s> included; the tokenizer adds <pad> and <mask>


def main() -> int:
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    # A fixed folder: the model records its input and model_prefix paths (trainer_spec).
    tmp = "/tmp/tiny-xlm-roberta-spm"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        corpus = os.path.join(tmp, "corpus.txt")
        write_corpus(corpus)
        prefix = os.path.join(tmp, "spm")
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=prefix, model_type="unigram", vocab_size=VOCAB_SIZE,
            normalization_rule_name="nmt_nfkc", character_coverage=1.0, num_threads=1,
            shuffle_input_sentence=False, input_sentence_size=0, hard_vocab_limit=True,
            unk_id=0, bos_id=1, eos_id=2, pad_id=-1, add_dummy_prefix=True,
            remove_extra_whitespaces=True, byte_fallback=False, minloglevel=2)
        with open(prefix + ".model", "rb") as f:
            data = f.read()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    with open(OUT, "wb") as f:
        f.write(data)
    print(f"wrote {OUT} ({len(data)} bytes, {VOCAB_SIZE} pieces)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
