"""Data-parallel training reference for torch-crossencoder: what transformers' Trainer does under
torchrun with accelerate's data loader, in plain PyTorch: torch.distributed with the gloo backend,
the model wrapped in DistributedDataParallel, each rank taking its batches as accelerate's
BatchSamplerShard cuts the seeded sampler's batches. The single-process loop (loss, AdamW,
schedule, clipping) is train_reference.py's ReferenceTrainer, unchanged.

Run on 2 processes (every rank reads the same request; rank 0 writes the answer):

    /usr/bin/python3 test/reference/ddp_reference.py request.json [--nproc 2] [--master-port P]

which starts the ranks itself with multiprocessing (spawn), setting the variables torchrun sets
(RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT): Debian's `python3 -m torch.distributed.run` (1.13)
fails under Python 3.11 before starting any worker. Under a launcher that set RANK, it runs as
that rank.

request.json: {"runs": [training request, ...], "answer": "answer.json"}, a training request as
train_reference.py's (model_dir, rows, args, pos_weight, out, variant, mutation) where
"variant" may also hold {"bucket_cap_mb": x} (DDP's gradient buckets: another all-reduce
grouping and order) and "mutation" may be {"no_average": true} (the gradients summed over the
ranks instead of averaged: DDP's division by the world size forgotten).
answer.json: {"runs": [{"steps": [{"step", "loss", "grad_norm", "learning_rate",
"batch_indices", "rank_batches": [per rank: its micro-batches of this step]}], "train_loss",
"max_steps", "warmup_steps", "max_length", "world_size"}, ...]}; each run's final parameters
(rank 0's; DDP keeps every rank's equal) go to its "out".
Sharding request (no model): {"shards": [{"n", "batch_size", "seed", "epoch", "drop_last",
"world_size"}], "answer": ...} -> {"shards": [per query: per rank: its batches]} (needs no
process group; run it with plain python).
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
from datetime import timedelta  # noqa: E402
from typing import Any, Dict, List, Mapping  # noqa: E402

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch.nn.parallel import DistributedDataParallel  # noqa: E402

import train_reference as ref  # noqa: E402
from bert_model import load_model  # noqa: E402
from bert_tokenizer import BertTokenizer  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402


def shard_batches(batches: List[List[int]], batch_size: int, num_processes: int, process_index: int,
                  drop_last: bool) -> List[List[int]]:
    """accelerate `BatchSamplerShard._iter_with_no_split` (split_batches=False, even_batches=True)
    over the batches of one epoch: batch idx goes to process idx % num_processes, yielded once
    the round's last batch is full; an incomplete last round is completed from the epoch's first
    rows (not when drop_last)."""
    out: List[List[int]] = []
    initial: List[int] = []
    to_yield: List[int] = []
    idx, batch = -1, []
    for idx, batch in enumerate(batches):
        batch = list(batch)
        if not drop_last and idx < num_processes:
            initial += batch
        if idx % num_processes == process_index:
            to_yield = batch
        if idx % num_processes == num_processes - 1 and len(batch) == batch_size:
            out.append(to_yield)
            to_yield = []
    if not drop_last and len(initial) > 0:
        if len(to_yield) == batch_size:
            out.append(to_yield)
        while len(initial) < num_processes * batch_size:
            initial += initial
        if len(batch) == batch_size:
            batch = []
            idx += 1
        cycle = 0
        while idx % num_processes != 0 or len(batch) > 0:
            end = cycle + batch_size - len(batch)
            batch = batch + initial[cycle:end]
            if idx % num_processes == process_index:
                out.append(batch)
            cycle = end
            batch = []
            idx += 1
    return out


class DdpTrainer(ref.ReferenceTrainer):
    """ReferenceTrainer on a DistributedDataParallel model and this rank's shard of every epoch.
    HF's training_step runs the micro-batches of an accumulation group under `no_sync()` but the
    last (accelerate's `accumulate`), so DDP all-reduces once per optimizer step."""

    def __init__(self, model, tokenizer, rows, args, max_length, pos_weight, variant, mutation,
                 bucket_cap_mb: float, no_average: bool):
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.no_average = no_average
        super().__init__(model, tokenizer, rows, args, max_length, pos_weight, variant, mutation)
        # DDP broadcasts rank 0's parameters and buffers when it wraps the model.
        self.plain = self.model
        self.model = DistributedDataParallel(self.plain, bucket_cap_mb=bucket_cap_mb)
        self._left_in_group = 0

    def epoch_batches(self, epoch: int) -> List[List[int]]:
        batches = super().epoch_batches(epoch)
        return shard_batches(batches, self.args.perDeviceTrainBatchSize, self.world_size, self.rank,
                             self.args.dataloaderDropLast)

    def update(self, group, step):
        self._left_in_group = len(group)
        record = super().update(group, step)
        # HF logs `self._nested_gather(tr_loss).mean().item()`: the mean of the ranks' float32 losses.
        local = torch.tensor(record["loss"], dtype=torch.float32)
        gathered = [torch.zeros_like(local) for _ in range(self.world_size)]
        dist.all_gather(gathered, local)
        record["loss"] = torch.stack(gathered).mean().item()
        rank_batches: List[Any] = [None] * self.world_size
        dist.all_gather_object(rank_batches, group)
        record["rank_batches"] = rank_batches
        return record

    def backward(self, indices, divisor):
        self._left_in_group -= 1
        last_micro_batch = self._left_in_group == 0
        if not self.variant.split_rows:
            with contextlib.nullcontext() if last_micro_batch else self.model.no_sync():
                loss = self.batch_loss(indices) / divisor
                loss.backward()
            self._mutate(last_micro_batch)
            return loss.item()
        total = 0.0
        for j, i in enumerate(indices):
            sync = last_micro_batch and j == len(indices) - 1
            with contextlib.nullcontext() if sync else self.model.no_sync():
                loss = self.batch_loss([i]) / (len(indices) * divisor)
                loss.backward()
            total += loss.item()
        self._mutate(last_micro_batch)
        return total

    def _mutate(self, synced: bool) -> None:
        if synced and self.no_average:
            # The mutation: DDP averaged; scale back to the sum before clipping.
            for p in self.plain.parameters():
                if p.grad is not None:
                    p.grad.mul_(self.world_size)


def run_training(request: Mapping[str, Any]) -> Dict[str, Any]:
    variant_raw = dict(request.get("variant") or {})
    bucket_cap_mb = float(variant_raw.pop("bucket_cap_mb", 25))
    mutation_raw = dict(request.get("mutation") or {})
    no_average = bool(mutation_raw.pop("no_average", False))
    variant = ref.parse_options(variant_raw, ref.Variant, "variant")
    mutation = ref.parse_options(mutation_raw, ref.Mutation, "mutation")
    args = ref.parse_args(request.get("args"))
    rows = ref.check_rows(request.get("rows"))
    model = load_model(request["model_dir"])
    tokenizer = BertTokenizer.from_dir(request["model_dir"])
    max_length = request.get("max_length") or ref.default_max_length(tokenizer, model)
    threads = torch.get_num_threads()
    torch.set_num_threads(variant.threads)
    try:
        trainer = DdpTrainer(model, tokenizer, rows, args, max_length, request.get("pos_weight"), variant,
                             mutation, bucket_cap_mb, no_average)
        result = trainer.train()
    finally:
        torch.set_num_threads(threads)
    if dist.get_rank() == 0:
        write_safetensors(request["out"], model.state_dict(), {"format": "pt"})
    return {**result, "max_length": max_length, "world_size": dist.get_world_size()}


def _worker(rank: int, world_size: int, port: int, request_file: str, errors) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    try:
        sys.argv = [sys.argv[0], request_file]
        main()
    except BaseException as e:  # reported by the parent, which exits non-zero
        import traceback
        errors.put(f"rank {rank}: {traceback.format_exc()}")
        raise SystemExit(1) from e


def spawn(request_file: str, world_size: int, port: int) -> int:
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    errors = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(r, world_size, port, request_file, errors)) for r in range(world_size)]
    for p in procs:
        p.start()
    status = 0
    for p in procs:
        p.join()
        status = status or (p.exitcode or 0)
    while not errors.empty():
        print(errors.get(), file=sys.stderr)
    return status


def main() -> int:
    argv = sys.argv[1:]
    with open(argv[0], encoding="utf-8") as f:
        request = json.load(f)
    if "shards" in request:
        answer = {"shards": [[shard_batches(ref.epoch_batches(q["n"], q["batch_size"], q["seed"], q["epoch"], q["drop_last"]),
                                            q["batch_size"], q["world_size"], r, q["drop_last"])
                              for r in range(q["world_size"])] for q in request["shards"]]}
    elif "RANK" not in os.environ:
        nproc = int(argv[argv.index("--nproc") + 1]) if "--nproc" in argv else 2
        port = int(argv[argv.index("--master-port") + 1]) if "--master-port" in argv else 29500
        return spawn(argv[0], nproc, port)
    else:
        timeout = timedelta(seconds=int(os.environ.get("DDP_REFERENCE_TIMEOUT", "120")))
        dist.init_process_group("gloo", timeout=timeout)
        try:
            answer = {"runs": [run_training(run) for run in request["runs"]]}
        finally:
            dist.barrier()
            dist.destroy_process_group()
        if dist_rank() != 0:
            return 0
    with open(request["answer"], "w", encoding="utf-8") as f:
        json.dump(answer, f, allow_nan=False)
    return 0


def dist_rank() -> int:
    return int(os.environ["RANK"])


if __name__ == "__main__":
    sys.exit(main())
