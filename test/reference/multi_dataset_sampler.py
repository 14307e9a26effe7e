"""Sentence Transformers' multi-dataset batch samplers (sentence_transformers/sampler.py,
ProportionalBatchSampler and RoundRobinBatchSampler, v3-v5), transcribed from the published
source, over torch's own samplers: each dataset's batches come from
DefaultBatchSampler(RandomSampler(dataset, generator), batch_size, drop_last) (ST's
`get_batch_sampler`), every sampler sharing one torch.Generator, re-seeded `seed + epoch`.

    /usr/bin/python3 test/reference/multi_dataset_sampler.py < request.json
    {"queries": [{"sizes": [...], "batch_size", "seed", "epoch", "drop_last", "sampler", "mutation"}]}
    (mutation "independent_generators": each dataset its own generator, a deliberately wrong draw order)
    -> {"batches": [[[global row indices], ...], ...]}
"""
from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import json  # noqa: E402
from itertools import accumulate, cycle  # noqa: E402
from typing import Iterator, List  # noqa: E402

import torch  # noqa: E402
from torch.utils.data import BatchSampler, RandomSampler, SubsetRandomSampler  # noqa: E402


class Rows:
    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n


def batch_samplers(sizes, batch_size, drop_last, generator):
    return [BatchSampler(RandomSampler(Rows(n), generator=generator), batch_size, drop_last) for n in sizes]


def round_robin(sizes, samplers, generator, seed, epoch) -> Iterator[List[int]]:
    generator.manual_seed(seed + epoch)
    offsets = [0] + list(accumulate(sizes))
    iterators = [iter(s) for s in samplers]
    for d in cycle(range(len(iterators))):
        try:
            yield [i + offsets[d] for i in next(iterators[d])]
        except StopIteration:
            break


def proportional(sizes, samplers, generator, seed, epoch) -> Iterator[List[int]]:
    generator.manual_seed(seed + epoch)
    offsets = [0] + list(accumulate(sizes))
    counts = [len(s) for s in samplers]
    dataset_indices = [d for d, count in enumerate(counts) for _ in range(count)]
    order = SubsetRandomSampler(dataset_indices, generator=generator)
    iterators = [iter(s) for s in samplers]
    for d in order:
        try:
            yield [i + offsets[d] for i in next(iterators[d])]
        except StopIteration:
            continue


def epoch_batches(sizes, batch_size, seed, epoch, drop_last, sampler, mutation=None) -> List[List[int]]:
    generator = torch.Generator()
    generator.manual_seed(seed)
    samplers = batch_samplers(sizes, batch_size, drop_last, generator)
    if mutation == "independent_generators":  # the tests' proof that the comparison can fail
        samplers = [batch_samplers([n], batch_size, drop_last, torch.Generator().manual_seed(seed + epoch))[0] for n in sizes]
    it = (proportional if sampler == "proportional" else round_robin)(sizes, samplers, generator, seed, epoch)
    # transformers takes len(dataloader) batches an epoch (RoundRobin's __len__ = min * count).
    length = sum(len(s) for s in samplers) if sampler == "proportional" else min(len(s) for s in samplers) * len(samplers)
    out = []
    for batch in it:
        if len(out) == length:
            break
        out.append([int(i) for i in batch])
    return out


def main() -> int:
    request = json.load(sys.stdin)
    answers = [epoch_batches(q["sizes"], q["batch_size"], q["seed"], q["epoch"], q["drop_last"], q["sampler"],
                             q.get("mutation")) for q in request["queries"]]
    json.dump({"batches": answers}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
