"""transformers' get_length_grouped_indices (trainer_pt_utils.py, used by LengthGroupedSampler
under TrainingArguments.group_by_length), transcribed from the published source, with the
generator our groupByLength seeds: torch.Generator().manual_seed(seed + epoch); the DataLoader's
batches are consecutive chunks of its indices.

    /usr/bin/python3 test/reference/length_grouped.py < request.json
    {"queries": [{"lengths", "batch_size", "megabatch_batch_size", "seed", "epoch", "drop_last",
                  "mutation": null | "no_swap" | "ascending"}]} -> {"batches": [...]}
"mutation" makes the grouping deliberately wrong (the test's proof that the comparison can fail).
"""
from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import json  # noqa: E402

import torch  # noqa: E402


def get_length_grouped_indices(lengths, batch_size, mega_batch_mult=None, generator=None, mutation=None):
    if mega_batch_mult is None:
        mega_batch_mult = min(len(lengths) // (batch_size * 4), 50)
        if mega_batch_mult == 0:
            mega_batch_mult = 1
    indices = torch.randperm(len(lengths), generator=generator)
    megabatch_size = mega_batch_mult * batch_size
    megabatches = [indices[i: i + megabatch_size].tolist() for i in range(0, len(lengths), megabatch_size)]
    megabatches = [sorted(m, key=lambda i: lengths[i], reverse=mutation != "ascending") for m in megabatches]
    if mutation != "no_swap":
        megabatch_maximums = [lengths[m[0]] for m in megabatches]
        max_idx = torch.argmax(torch.tensor(megabatch_maximums)).item()
        megabatches[0][0], megabatches[max_idx][0] = megabatches[max_idx][0], megabatches[0][0]
    return [i for m in megabatches for i in m]


def epoch_batches(q):
    generator = torch.Generator().manual_seed(q["seed"] + q["epoch"])
    indices = get_length_grouped_indices(q["lengths"], q["megabatch_batch_size"], generator=generator,
                                         mutation=q.get("mutation"))
    size, n = q["batch_size"], len(indices)
    stop = n - n % size if q["drop_last"] else n
    return [indices[i: i + size] for i in range(0, stop, size)]


def main() -> int:
    request = json.load(sys.stdin)
    json.dump({"batches": [epoch_batches(q) for q in request["queries"]]}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
