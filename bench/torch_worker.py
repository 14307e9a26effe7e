"""The PyTorch side of `npm run bench`: the same workloads as bench/worker.ts, on the plain
PyTorch BERT of test/reference (same libtorch, same weights), in a process of its own:

    /usr/bin/python3 bench/torch_worker.py <predict|rank|train> <torch-WORKLOAD.json>
    /usr/bin/python3 bench/torch_worker.py sgemm <size>

The inputs are token ids from our tokenizer, in our batches (length-sorted for predict, the
trainer's seeded shuffle for training), so Python's tokenisation is not timed; the padded
tensors are even built before the clock starts. Predict runs under torch.inference_mode();
training is Sentence Transformers' loop: BCEWithLogitsLoss, clip_grad_norm_(1.0), AdamW with
HF's two parameter groups, a linear schedule, zero_grad. Threads come from the environment
(OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, OMP_WAIT_POLICY), set by bench/run.ts as for our side;
torch.set_num_threads applies OMP_NUM_THREADS explicitly. Prints one JSON line.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

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


def run_predict(model, spec):
    warmup = [padded(b) for b in spec["warmup"]]
    batches = [padded(b) for b in spec["batches"]]
    with torch.inference_mode():
        for batch in warmup:
            model(*batch)
        start = time.perf_counter()
        for batch in batches:
            model(*batch).tolist()
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "pairs": sum(len(b) for b in spec["batches"])}


def run_rank(model, spec):
    """One batch per call (the query's documents, longest first), then scores sorted best first."""
    warmup = [padded(b) for b in spec["warmup"]]
    calls = [padded(b) for b in spec["batches"]]
    latencies = []
    with torch.inference_mode():
        for batch in warmup:
            model(*batch)
        for batch in calls:
            start = time.perf_counter()
            scores = model(*batch).view(-1).tolist()
            sorted(range(len(scores)), key=lambda i: -scores[i])
            latencies.append(time.perf_counter() - start)
    return {"seconds": sum(latencies), "pairs": sum(len(b) for b in spec["batches"]),
            "latencies": latencies}


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

    train_steps(model, *tensors(spec["warmup"], spec["warmupLabels"]), spec)
    batches, labels = tensors(spec["batches"], spec["labels"])
    rss = []
    start = time.perf_counter()
    mean_loss = train_steps(model, batches, labels, spec, rss)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "pairs": sum(len(b) for b in spec["batches"]),
            "rssPerStepKiB": rss, "meanLoss": mean_loss}


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


def threads():
    return {"intraOp": torch.get_num_threads(),
            "blas": os.environ.get("OPENBLAS_NUM_THREADS", "OpenBLAS default"),
            "waitPolicy": os.environ.get("OMP_WAIT_POLICY", "libgomp default")}


def main() -> int:
    if "OMP_NUM_THREADS" in os.environ:
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    workload = sys.argv[1] if len(sys.argv) > 1 else ""
    if workload == "sgemm":
        result = run_sgemm(int(sys.argv[2]))
    elif workload in ("predict", "rank", "train") and len(sys.argv) == 3:
        with open(sys.argv[2], encoding="utf-8") as f:
            spec = json.load(f)
        model = load_model(spec["modelDir"])
        run = {"predict": run_predict, "rank": run_rank, "train": run_train}[workload]
        result = {"side": "pytorch", "workload": workload, **run(model, spec["workload"])}
    else:
        print("usage: torch_worker.py <predict|rank|train> <torch-WORKLOAD.json> | sgemm <size>",
              file=sys.stderr)
        return 2
    result.update(maxRssKiB=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, threads=threads(),
                  torchVersion=torch.__version__)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
