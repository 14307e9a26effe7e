"""The PyTorch side of `npm run bench`: the same workloads as bench/worker.ts, on the plain
PyTorch BERT of test/reference (same libtorch, same weights), in a process of its own:

    /usr/bin/python3 bench/torch_worker.py <predict|rank> <torch-WORKLOAD.json> <forwards.json>
    /usr/bin/python3 bench/torch_worker.py train <torch-train.json>
    /usr/bin/python3 bench/torch_worker.py sgemm <size>

The inputs are token ids from our tokenizer, in our order (length-sorted for predict and rank,
the trainer's seeded shuffle for training), so Python's tokenisation is not timed; the padded
tensors are even built before the clock starts. predict and rank are cut into forwards as
forwards.json says: the forwards our worker ran (the same shapes on both sides), or whole
batches of 32 (Sentence Transformers' way). Predict runs under torch.inference_mode();
training is Sentence Transformers' loop: BCEWithLogitsLoss, clip_grad_norm_(1.0), AdamW with
HF's two parameter groups, a linear schedule, zero_grad. Threads come from the environment
(OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, OMP_WAIT_POLICY), set by bench/run.ts as for our side;
torch.set_num_threads applies OMP_NUM_THREADS explicitly. Prints one JSON line.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import ctypes  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "reference"))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from bert_model import load_model  # noqa: E402
from train_reference import TrainingArgs, lr_lambda, make_optimizer  # noqa: E402


def padded(batch, pad_id=0):
    """[[ids, type ids], ...] -> (input_ids, attention_mask, token_type_ids) long tensors."""
    length = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), length), pad_id, dtype=torch.long)
    types = torch.zeros((len(batch), length), dtype=torch.long)
    mask = torch.zeros((len(batch), length), dtype=torch.long)
    for row, (input_ids, type_ids) in enumerate(batch):
        ids[row, : len(input_ids)] = torch.tensor(input_ids)
        types[row, : len(type_ids)] = torch.tensor(type_ids)
        mask[row, : len(input_ids)] = 1
    return ids, mask, types


def rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def forwards(pairs, sizes):
    """A call's pairs cut, in order, into forwards of the given sizes, as padded tensors."""
    if sum(sizes) != len(pairs):
        raise ValueError(f"the forward plan covers {sum(sizes)} pairs, the call has {len(pairs)}")
    cuts, start = [], 0
    for size in sizes:
        cuts.append(padded(pairs[start:start + size]))
        start += size
    return cuts


def shapes(batches):
    """[batch size, padded length] of each forward run, as the Node worker reports its own."""
    return [list(ids.shape) for ids, _, _ in batches]


def score(model, call):
    """One call: its forwards one after the other, then the scores sorted best first (rank's
    output; predict's caller would keep input order, which costs the same)."""
    scores = []
    for batch in call:
        scores.extend(model(*batch).view(-1).tolist())
    sorted(range(len(scores)), key=lambda i: -scores[i])


def run_scoring(model, spec, plan):
    """predict and rank: each call timed on its own (predict has one call, rank one per query)."""
    warmup = [forwards(p, s) for p, s in zip(spec["warmup"], plan["warmup"], strict=True)]
    calls = [forwards(p, s) for p, s in zip(spec["calls"], plan["calls"], strict=True)]
    latencies = []
    with torch.inference_mode():
        for call in warmup:
            score(model, call)
        for call in calls:
            start = time.perf_counter()
            score(model, call)
            latencies.append(time.perf_counter() - start)
    return {"seconds": sum(latencies), "pairs": sum(len(c) for c in spec["calls"]),
            "latencies": latencies,
            "forwards": {"warmup": [shapes(c) for c in warmup], "measured": [shapes(c) for c in calls]}}


def train_steps(model, batches, labels, spec, rss=None):
    """Sentence Transformers' CrossEncoderTrainer steps (see test/reference/train_reference.py)."""
    args = TrainingArgs(learningRate=spec["learningRate"], maxGradNorm=spec["maxGradNorm"],
                        seed=spec["seed"])
    torch.manual_seed(args.seed)
    loss_fn = nn.BCEWithLogitsLoss()
    optimizer = make_optimizer(model, args)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda("linear", 0, len(batches)))
    model.train()
    model.zero_grad()
    losses = []
    for batch, y in zip(batches, labels):
        logits = model(*batch).view(-1)
        loss = loss_fn(logits, y)
        loss.backward()
        losses.append(loss.item())
        nn.utils.clip_grad_norm_(model.parameters(), args.maxGradNorm)
        optimizer.step()
        scheduler.step()
        model.zero_grad()
        if rss is not None:
            rss.append(rss_kib())
    return sum(losses) / len(losses)


def run_train(model, spec):
    def tensors(batches, labels):
        return ([padded(b) for b in batches], [torch.tensor(y, dtype=torch.float32) for y in labels])

    warmup = tensors(spec["warmup"], spec["warmupLabels"])
    train_steps(model, *warmup, spec)
    batches, labels = tensors(spec["batches"], spec["labels"])
    rss = []
    start = time.perf_counter()
    mean_loss = train_steps(model, batches, labels, spec, rss)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "pairs": sum(len(b) for b in spec["batches"]),
            "rssPerStepKiB": rss, "meanLoss": mean_loss,
            "forwards": {"warmup": [shapes(warmup[0])], "measured": [shapes(batches)]}}


def run_sgemm(size: int):
    """Best time of a size³ float32 torch.mm (OpenBLAS sgemm), as GFLOP/s."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(2):
        torch.mm(a, b)
    best = float("inf")
    for _ in range(8):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return {"flops": 2.0 * size ** 3 / best, "seconds": best}


def blas_threads() -> str:
    """OpenBLAS's own count (it falls back to OMP_NUM_THREADS when OPENBLAS_NUM_THREADS is unset)."""
    try:
        return str(ctypes.CDLL("libopenblas.so.0").openblas_get_num_threads())
    except (OSError, AttributeError):
        return "unknown (not OpenBLAS)"


def threads():
    return {"intraOp": torch.get_num_threads(), "blas": blas_threads(),
            "waitPolicy": os.environ.get("OMP_WAIT_POLICY", "libgomp default")}


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def main() -> int:
    if "OMP_NUM_THREADS" in os.environ:
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    workload = sys.argv[1] if len(sys.argv) > 1 else ""
    if workload == "sgemm":
        result = run_sgemm(int(sys.argv[2]))
    elif (workload in ("predict", "rank") and len(sys.argv) == 4) or (workload == "train" and len(sys.argv) == 3):
        spec = read_json(sys.argv[2])
        model = load_model(spec["modelDir"])
        if os.environ.get("BENCH_DTYPE") == "int8" and workload != "train":
            # What our dtype 'int8' matches: quantize_dynamic of every nn.Linear on oneDNN.
            torch.backends.quantized.engine = "onednn"
            model = torch.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        if workload == "train":
            measured = run_train(model, spec["workload"])
        else:
            measured = run_scoring(model, spec["workload"], read_json(sys.argv[3]))
        result = {"side": "pytorch", "workload": workload, **measured}
    else:
        print("usage: torch_worker.py <predict|rank> <torch-WORKLOAD.json> <forwards.json>\n"
              "       torch_worker.py train <torch-train.json>\n"
              "       torch_worker.py sgemm <size>", file=sys.stderr)
        return 2
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.update(maxRssKiB=usage.ru_maxrss, cpuSeconds=usage.ru_utime + usage.ru_stime, threads=threads(),
                  torchVersion=torch.__version__)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
