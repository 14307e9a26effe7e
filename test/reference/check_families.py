"""Self-check of the family references and the generated family test models (not a vitest test):

    /usr/bin/python3 test/reference/check_families.py [--models test/.models]

Checks, on pairs tokenized by the official Rust tokenizer (make_tokenizers.mjs encode): every
family model loads and gives finite logits; logits do not depend on extra padding (all families),
on batch size / composition or thread count beyond float rounding; tiny-modernbert (cls) and
tiny-modernbert-mean differ; ModernBERT's sliding window matters past the window (and not within
it); RoBERTa's positions follow create_position_ids_from_input_ids; the HF inits run and keep their
documented properties; a short training run of xlm-roberta and modernbert (train mode with dropout
for xlm-roberta) is finite and deterministic. Prints one line per check; exits 1 on a failure.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402

import torch  # noqa: E402

import family_reference as fr  # noqa: E402
from families import modernbert, roberta  # noqa: E402
from families.registry import FAMILIES, build_model, load_config  # noqa: E402
from families.tokenizer_files import node  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PAIRS = [
    ("what is the weather in Paris", "Il fait très beau à Paris aujourd'hui, 23 °C."),
    ("東京の天気", "今日は晴れです 👍🏽 and the café is open"),
    ("short", "x"),
    ("ﬁne ＡＢＣ ① straße", "a much longer document " * 6 + "with emoji 🚀🔥 at its end"),
]
FAILURES = []


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
    if not ok:
        FAILURES.append(name)


def encode(model_dir: str, pairs=PAIRS):
    answer = json.loads(node("encode", stdin=json.dumps({"tokenizer": model_dir, "pairs": pairs})))
    width = max(len(r) for r in answer["input_ids"])
    pad = load_config(model_dir).pad_token_id
    ids = [r + [pad] * (width - len(r)) for r in answer["input_ids"]]
    types = [r + [0] * (width - len(r)) for r in answer["token_type_ids"]]
    mask = [r + [0] * (width - len(r)) for r in answer["attention_mask"]]
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}, answer


def max_diff(a, b) -> float:
    return max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))


def main(argv) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=os.path.join(os.path.dirname(HERE), ".models"))
    models = parser.parse_args(argv).models
    logits = {}
    for name in ("tiny-roberta", "tiny-xlm-roberta", "tiny-electra", "tiny-modernbert",
                 "tiny-modernbert-mean"):
        d = os.path.join(models, name)
        request, enc = encode(d)
        if "modernbert" in name or "roberta" in name:
            request["token_type_ids"] = [[0] * len(r) for r in request["input_ids"]]
        answer = fr.predict(d, {**request, "batch_sizes": [1, 3], "threads": [1, 2],
                                "extra_padding": [1, 13], "reverse": True})
        flat = [v for row in answer["logits"] for v in row]
        logits[name] = answer["logits"]
        check(f"{name}: finite logits", all(math.isfinite(v) for v in flat),
              f"{[round(v, 4) for v in flat]}, {len(enc['input_ids'][3])} tokens in pair 4")
        check(f"{name}: padding / batch / threads / order spread <= 1e-6",
              answer["spread"] <= 1e-6, f"spread {answer['spread']:.2e}")
        distinct = len({round(v, 6) for v in flat}) == len(flat)
        check(f"{name}: pairs get distinct logits", distinct)
    check("tiny-modernbert cls vs mean pooling differ",
          max_diff(logits["tiny-modernbert"], logits["tiny-modernbert-mean"]) > 1e-3,
          f"max diff {max_diff(logits['tiny-modernbert'], logits['tiny-modernbert-mean']):.3f}")
    # Sliding window: local_attention 8 (window +-4) against one that covers the whole sequence.
    d = os.path.join(models, "tiny-modernbert")
    request, _ = encode(d)
    wide = fr.predict(d, {**request, "mutations": [{"config": {"local_attention": 4096}}]})
    long_rows = [i for i, m in enumerate(request["attention_mask"]) if sum(m) > 5]
    diff_long = max(abs(wide["logits"][i][0] - wide["logits_by_mutation"][0][i][0]) for i in long_rows)
    check("modernbert: the sliding window changes logits of sequences longer than the window",
          diff_long > 1e-3, f"max diff {diff_long:.3f}")
    short = fr.predict(d, {"input_ids": [[1996, 100, 101, 1997]],
                           "mutations": [{"config": {"local_attention": 4096}}]})
    check("modernbert: ... and not of a sequence within +-local_attention/2",
          short["logits"] == short["logits_by_mutation"][0])
    theta = fr.predict(d, {**request, "mutations": [{"config": {"local_rope_theta": 160000.0}},
                                                    {"config": {"global_rope_theta": 10000.0}}]})
    check("modernbert: local_rope_theta and global_rope_theta each matter",
          all(max_diff(theta["logits"], m) > 1e-4 for m in theta["logits_by_mutation"]))
    # RoBERTa positions.
    ids = torch.tensor([[0, 5, 6, 2, 1, 1], [0, 7, 1, 8, 2, 1]])
    pos = roberta.create_position_ids_from_input_ids(ids, 1).tolist()
    check("roberta: position ids", pos == [[2, 3, 4, 5, 1, 1], [2, 3, 1, 4, 5, 1]], str(pos))
    for name in ("tiny-roberta", "tiny-xlm-roberta"):
        d = os.path.join(models, name)
        request, _ = encode(d)
        a = fr.predict(d, {**request, "mutations": [{"arange_positions": True}]})
        check(f"{name}: arange positions would change logits",
              max_diff(a["logits"], a["logits_by_mutation"][0]) > 1e-3)
    d = os.path.join(models, "tiny-electra")
    request, _ = encode(d)
    a = fr.predict(d, {**request, "mutations": [{"head_activation": "tanh"}]})
    check("electra: the head's GELU matters", max_diff(a["logits"], a["logits_by_mutation"][0]) > 1e-4)
    # HF inits.
    for name in ("tiny-roberta", "tiny-electra", "tiny-modernbert"):
        config = load_config(os.path.join(models, name))
        model = build_model(config)
        FAMILIES[config.model_type].hf_init(model, 0)
        state = model.state_dict()
        again = build_model(config)
        FAMILIES[config.model_type].hf_init(again, 0)
        same = all(torch.equal(state[k], v) for k, v in again.state_dict().items())
        check(f"{name}: HF init is seeded", same)
    config = load_config(os.path.join(models, "tiny-modernbert"))
    model = build_model(config)
    modernbert.hf_init_weights(model, 0)
    w = model.classifier.weight
    std = config.hidden_size ** -0.5
    check("modernbert HF init: classifier within +-cutoff*std, biases 0",
          bool(w.abs().max() <= 2.0 * std) and bool((model.classifier.bias == 0).all()))
    # Training.
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("tiny-xlm-roberta", "tiny-modernbert"):
            d = os.path.join(models, name)
            _, enc = encode(d, PAIRS * 3)
            rows = [{"input_ids": ids, "label": float(i % 2)} for i, ids in enumerate(enc["input_ids"])]
            run = {"model_dir": d, "rows": rows, "out": os.path.join(tmp, "a.safetensors"),
                   "args": {"perDeviceTrainBatchSize": 4, "numTrainEpochs": 2, "learningRate": 1e-3,
                            "warmupRatio": 0.1, "weightDecay": 0.01}}
            first = fr.run_many([run, dict(run, variant={"threads": 2}),
                                 dict(run, variant={"reverse_rows": True})])["runs"]
            losses = [s["loss"] for s in first[0]["steps"]]
            check(f"{name}: training steps are finite", all(v is not None for v in losses),
                  f"{len(losses)} steps, losses {[round(v, 4) for v in losses]}")
            spread = max(abs(a["loss"] - b["loss"]) for r in first[1:]
                         for a, b in zip(first[0]["steps"], r["steps"]))
            check(f"{name}: training variants agree (threads 2, reversed rows)", spread < 1e-5,
                  f"loss spread {spread:.1e}")
    print("all checks passed" if not FAILURES else f"{len(FAILURES)} check(s) failed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
