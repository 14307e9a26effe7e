"""A small, seeded, multilingual text corpus: what the tiny tokenizers are trained on.

    corpus_lines(seed, n) -> list of n lines

English, accented Latin-script languages (French, German, Spanish, Portuguese, Vietnamese,
Turkish), Greek and Cyrillic, Chinese / Japanese / Korean, emoji (with ZWJ sequences and skin tones),
digits, punctuation, full-width forms and a few compatibility characters (ligatures, superscripts,
circled digits) that NFKC and sentencepiece's nmt_nfkc rewrite. Only `random.Random(seed)`: the same
seed gives the same lines on every machine and Python version >= 3.2.
"""

from __future__ import annotations

import random
from typing import List

ENGLISH = (
    "the of and to in is was for on that with as by at from this be are or an it not have which "
    "his her they we you he she their there been has had were more one all can will would about "
    "what when who how where why query document search relevant answer question model rank score "
    "train learning neural network language text passage retrieval cross encoder batch token "
    "weather river mountain city music science history market health energy water computer phone "
    "open source library package function return value error test parity float tensor gradient "
    "running jumped quickly beautiful unbelievable internationalization tokenization reranker "
    "information systems evaluation precision recall benchmark baseline dataset sentence pair"
).split()
ACCENTED = (
    "café naïve résumé déjà vu élève être français garçon où très crème brûlée façade "
    "straße müller größe über schön fußball mädchen grüße äpfel öffnen "
    "niño señor mañana corazón canción jalapeño información pingüino "
    "ação coração não informação português "
    "tiếng việt người nước ngôn ngữ "
    "türkçe çalışmak güzel ışık şehir "
    "ελληνικά γλώσσα καλημέρα αναζήτηση "
    "русский язык поиск документ вопрос ответ привет мир"
).split()
CJK = (
    "中文 汉字 搜索 文档 问题 答案 模型 排序 机器学习 自然语言处理 北京 上海 天气 今天 你好 世界 "
    "日本語 検索 文書 質問 回答 東京 ひらがな カタカナ こんにちは ありがとう 学習 "
    "한국어 검색 문서 질문 답변 서울 안녕하세요 감사합니다"
).split()
EMOJI = ("😀 😂 🥲 👍 👍🏽 ❤️ 🎉 🚀 🌍 🔥 🤖 👩‍💻 👨‍👩‍👧 🇫🇷 🇯🇵 ✨ 🍕 ☕").split()
# Characters NFKC / nmt_nfkc map to others: ligatures, full-width, superscripts, circled digits,
# the Angstrom and Kelvin signs, a non-breaking space, Roman numerals.
COMPAT = ("ﬁ ﬂ ＡＢＣ ｆｕｌｌ ｗｉｄｔｈ ² ³ ½ ① ② Å K x\u00a0y Ⅻ ℃ ㍿ ｶﾀｶﾅ").split()
PUNCT = list(".,;:!?") + ["...", "—", "–", "(", ")", "\"", "'", "«", "»", "“", "”", "¿", "¡", "%", "&", "#", "@"]


SYLLABLES = ("ka ri to mu se na lo pe vi da ren tal mor quin stra blen chor phy gue ix zo "
             "ber ston wick lan dell ash ford ing tion ment able ous ly ness er est").split()


def _pseudo_word(rng: random.Random) -> str:
    """A made-up word (the corpus needs more distinct words than the lists have)."""
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4)))


def _word(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.2:
        return _pseudo_word(rng)
    if r < 0.55:
        w = rng.choice(ENGLISH)
        return w.capitalize() if rng.random() < 0.1 else w.upper() if rng.random() < 0.02 else w
    if r < 0.75:
        return rng.choice(ACCENTED)
    if r < 0.88:
        return rng.choice(CJK)
    if r < 0.93:
        return rng.choice(EMOJI)
    if r < 0.96:
        return rng.choice(COMPAT)
    return str(rng.randint(0, 10 ** rng.randint(1, 6)))


def corpus_lines(seed: int = 20241127, n: int = 4000) -> List[str]:
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        words = []
        for _ in range(rng.randint(3, 18)):
            words.append(_word(rng))
            if rng.random() < 0.12:
                words[-1] += rng.choice(PUNCT)
        sep = "" if rng.random() < 0.05 else " "  # a few lines without spaces (as CJK text)
        lines.append(sep.join(words))
    return lines


def write_corpus(path: str, seed: int = 20241127, n: int = 4000) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(corpus_lines(seed, n)) + "\n")
