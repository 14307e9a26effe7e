"""Training reference for torch-crossencoder: Sentence Transformers' CrossEncoderTrainer with
BinaryCrossEntropyLoss on Hugging Face's Trainer loop, in plain PyTorch (no `transformers`,
no `sentence_transformers`, no `accelerate`).

Importable (ReferenceTrainer, epoch_batches, decay_parameter_names, lr_lambda, resolve_max_steps,
resolve_warmup_steps, TrainingArgs) and a CLI reading one JSON request on stdin:

    /usr/bin/python3 test/reference/train_reference.py < request.json

Training request:
    {"model_dir": DIR, "rows": [{"query", "document", "label"}, ...],
     "args": {camelCase CrossEncoderTrainingArguments}, "max_length": N (optional),
     "pos_weight": P (optional), "out": "final.safetensors",
     "variant": {...} (optional), "mutation": {...} (optional)}
"variant" changes the order of float summation but not the maths, so that a test can measure how
far PyTorch moves from itself (the tolerance of a parity check): {"threads": N} runs the case with
torch.set_num_threads(N) (restored afterwards; without it: 1); {"reverse_rows": true} feeds each
micro-batch's rows in reverse order (the mean loss is the same function of the rows; every dropout
mask is drawn over the rows in their original order and applied to the same rows as without it);
{"pad": N} appends N [PAD] positions (mask 0) to every micro-batch, which changes the shapes of
every matmul and softmax but no result (their attention weight is exactly 0, and so is their
gradient); {"split_rows": true} runs forward and backward one row at a time, each loss divided by
the micro-batch size (the same gradient, summed by autograd instead of inside the matmuls). "pad"
and "split_rows" would change the dropout masks, so they are refused for a model with dropout.
"mutation" makes the run deliberately wrong, so that a test can show its parity check fails on
a real bug: {"lr_scale": s} (the optimizer steps with s times the scheduled lr; the reported lr is
the scheduled one), {"no_decay": "name"} (that parameter misses its weight decay), {"skip_step": k}
(update k, 1-based, does not call optimizer.step(): gradients are dropped, the scheduler goes on),
{"loss_divisor": "accumulation_steps"} (every micro-batch's loss is divided by
gradientAccumulationSteps, also in an epoch's short last group).
answer, after the final parameters (HF names, F32) are written to "out":
    {"steps": [{"step", "loss", "grad_norm", "learning_rate", "batch_indices"}, ...],
     "train_loss": mean step loss, "max_steps": N, "warmup_steps": N, "max_length": N}
Several training runs in one process (torch is imported once):
    {"runs": [training request, ...]}  ->  {"runs": [answer, ...]}
Sampler request (the order alone, no model):
    {"epoch_batches": [{"n", "batch_size", "seed", "epoch", "drop_last"}, ...]}
answer: {"epoch_batches": [batches of row indices, one list per query]}
A bad request prints `error: ...` on stderr and exits with status 2.

What each step does, and where Hugging Face (transformers 4.4x-4.5x `trainer.py`, `optimization.py`)
or Sentence Transformers (`cross_encoder/trainer.py`, `trainer.py`, `losses/BinaryCrossEntropyLoss.py`)
does the same is cited next to the code. Non-finite numbers are reported as null (JSON has no NaN).
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import dataclasses  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

from bert_model import BertForSequenceClassification, load_model  # noqa: E402
from bert_tokenizer import BertTokenizer  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402


class RequestError(ValueError):
    """A request that does not have the documented shape; the message names the field."""


# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------
SCHEDULES = ("linear", "constant", "constant_with_warmup", "cosine")


@dataclasses.dataclass
class TrainingArgs:
    """The numeric CrossEncoderTrainingArguments, camelCase as in lib/training-arguments.ts,
    with HF's TrainingArguments defaults."""

    numTrainEpochs: float = 3.0
    maxSteps: int = -1
    perDeviceTrainBatchSize: int = 8
    learningRate: float = 5e-5
    weightDecay: float = 0.0
    adamBeta1: float = 0.9
    adamBeta2: float = 0.999
    adamEpsilon: float = 1e-8
    lrSchedulerType: str = "linear"
    warmupSteps: int = 0
    warmupRatio: float = 0.0
    maxGradNorm: float = 1.0
    gradientAccumulationSteps: int = 1
    seed: int = 42
    dataloaderDropLast: bool = False


# Options of the TS API that do not change the numbers (files, logging, evaluation): accepted so a
# test can pass its whole argument object, and ignored.
IGNORED_ARGS = frozenset({
    "outputDir", "perDeviceEvalBatchSize", "loggingSteps", "loggingFirstStep", "saveStrategy",
    "saveSteps", "saveTotalLimit", "disableTqdm", "evalStrategy", "evalSteps", "evalOnStart",
    "loadBestModelAtEnd", "metricForBestModel", "greaterIsBetter",
})


def parse_args(raw: Any) -> TrainingArgs:
    """Validates `raw` (camelCase names); unknown names are errors, so a typo cannot pass unseen."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise RequestError('"args" must be an object')
    fields = {f.name: f for f in dataclasses.fields(TrainingArgs)}
    unknown = sorted(set(raw) - set(fields) - IGNORED_ARGS)
    if unknown:
        raise RequestError(f'"args" has unknown option(s) {unknown}')
    values = {}
    for name, value in raw.items():
        if name in IGNORED_ARGS:
            continue
        kind = type(fields[name].default)
        ok = (isinstance(value, bool) if kind is bool else
              isinstance(value, str) if kind is str else
              isinstance(value, int) and not isinstance(value, bool) if kind is int else
              isinstance(value, (int, float)) and not isinstance(value, bool))
        if not ok:
            raise RequestError(f'args.{name} must be a {kind.__name__}, got {value!r}')
        values[name] = value
    args = TrainingArgs(**values)
    if args.lrSchedulerType not in SCHEDULES:
        raise RequestError(f"args.lrSchedulerType must be one of {SCHEDULES}, got {args.lrSchedulerType!r}")
    for name in ("perDeviceTrainBatchSize", "gradientAccumulationSteps"):
        if getattr(args, name) < 1:
            raise RequestError(f"args.{name} must be >= 1, got {getattr(args, name)}")
    if args.maxSteps <= 0 and not args.numTrainEpochs > 0:
        raise RequestError("args: numTrainEpochs must be > 0 when maxSteps <= 0")
    return args


@dataclasses.dataclass
class Variant:
    """A change of float summation order that leaves the maths unchanged (see the docstring)."""

    threads: int = 1
    reverse_rows: bool = False
    pad: int = 0
    split_rows: bool = False


class RowFlippedDropout(nn.Dropout):
    """nn.Dropout for a batch whose rows come reversed: the mask is drawn over the rows in their
    original order (the same draws from the generator) and lands on the same rows."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.flip(0)).flip(0)


def has_dropout(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Dropout) and m.p > 0 for m in model.modules())


def flip_dropout_rows(model: nn.Module) -> None:
    """Replaces every nn.Dropout of `model` by a RowFlippedDropout of the same p."""
    for module in list(model.modules()):
        for name, child in module.named_children():
            if type(child) is nn.Dropout:
                setattr(module, name, RowFlippedDropout(child.p))


@dataclasses.dataclass
class Mutation:
    """A deliberate bug (see the module docstring); the defaults change nothing."""

    lr_scale: float = 1.0
    no_decay: Optional[str] = None
    skip_step: int = 0
    loss_divisor: str = "group"  # or "accumulation_steps"


def parse_options(raw: Any, cls, field: str):
    """A Variant or Mutation from its JSON object; unknown names and wrong types are errors."""
    if raw is None:
        return cls()
    if not isinstance(raw, Mapping):
        raise RequestError(f'"{field}" must be an object')
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise RequestError(f'"{field}" has unknown option(s) {unknown}')
    for name, value in raw.items():
        default = fields[name].default
        kind = (str,) if default is None else (bool,) if isinstance(default, bool) else (
            (int, float) if isinstance(default, float) else (type(default),))
        if not isinstance(value, kind) or (bool not in kind and isinstance(value, bool)):
            raise RequestError(f'{field}.{name} has the wrong type: {value!r}')
    options = cls(**raw)
    if isinstance(options, Variant) and (options.threads < 1 or options.pad < 0):
        raise RequestError("variant.threads must be >= 1 and variant.pad >= 0")
    if isinstance(options, Mutation) and options.loss_divisor not in ("group", "accumulation_steps"):
        raise RequestError('mutation.loss_divisor must be "group" or "accumulation_steps"')
    return options


# ---------------------------------------------------------------------------------------------
# Data order
# ---------------------------------------------------------------------------------------------
def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, drop_last: bool) -> List[List[int]]:
    """Row indices of each batch of `epoch` (0-based).

    ST `SentenceTransformerTrainer.get_batch_sampler`: DefaultBatchSampler(RandomSampler(dataset,
    generator)); accelerate `prepare_data_loader` swaps RandomSampler for SeedableRandomSampler, whose
    `__iter__` does `generator.manual_seed(initial_seed + epoch)` (initial_seed = the seed HF's
    `set_seed(args.seed)` gave torch) before RandomSampler's `torch.randperm(n, generator=...)`;
    BatchSampler then cuts consecutive chunks, dropping a short last one when drop_last.
    """
    generator = torch.Generator().manual_seed(seed + epoch)
    order = torch.randperm(n, generator=generator).tolist()
    stop = n - n % batch_size if drop_last else n
    return [order[i:i + batch_size] for i in range(0, stop, batch_size)]


# ---------------------------------------------------------------------------------------------
# Optimizer and schedule
# ---------------------------------------------------------------------------------------------
def decay_parameter_names(model: nn.Module) -> Set[str]:
    """HF `Trainer.get_decay_parameter_names`: every parameter except those of nn.LayerNorm modules
    and those whose name contains "bias" (`get_parameter_names(model, [nn.LayerNorm], ...)`)."""
    no_decay = set()
    for module_name, module in model.named_modules():
        for name, _ in module.named_parameters(recurse=False):
            full = f"{module_name}.{name}" if module_name else name
            if isinstance(module, nn.LayerNorm) or "bias" in full:
                no_decay.add(full)
    return {name for name, _ in model.named_parameters()} - no_decay


def make_optimizer(model: nn.Module, args: TrainingArgs,
                   no_decay: Optional[str] = None) -> torch.optim.AdamW:
    """HF `Trainer.create_optimizer`: two groups (decay first, weight_decay / 0.0) in
    named_parameters order; `get_optimizer_cls_and_kwargs` for optim "adamw_torch":
    torch.optim.AdamW(lr, betas=(adam_beta1, adam_beta2), eps=adam_epsilon).
    `no_decay` (a mutation) moves one decayed parameter to the no-decay group."""
    decay = decay_parameter_names(model)
    if no_decay is not None:
        if no_decay not in decay:
            raise RequestError(f'mutation.no_decay: {no_decay!r} is not a decayed parameter')
        decay = decay - {no_decay}
    named = list(model.named_parameters())
    groups = [
        {"params": [p for n, p in named if n in decay], "weight_decay": args.weightDecay},
        {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=args.learningRate, betas=(args.adamBeta1, args.adamBeta2),
                             eps=args.adamEpsilon)


def lr_lambda(schedule: str, warmup_steps: int, max_steps: int) -> Callable[[int], float]:
    """The multiplier of the base lr after `current_step` scheduler steps (HF `optimization.py`)."""

    def warmup(step: int) -> float:
        return float(step) / float(max(1, warmup_steps))

    if schedule == "constant":
        # get_scheduler returns get_constant_schedule(optimizer) for "constant": warmup is ignored.
        return lambda step: 1.0
    if schedule == "constant_with_warmup":
        # _get_constant_schedule_with_warmup_lr_lambda
        return lambda step: warmup(step) if step < warmup_steps else 1.0
    if schedule == "linear":
        # _get_linear_schedule_with_warmup_lr_lambda
        return lambda step: warmup(step) if step < warmup_steps else max(
            0.0, float(max_steps - step) / float(max(1, max_steps - warmup_steps)))
    if schedule == "cosine":
        # _get_cosine_schedule_with_warmup_lr_lambda with num_cycles = 0.5
        def cosine(step: int) -> float:
            if step < warmup_steps:
                return warmup(step)
            progress = float(step - warmup_steps) / float(max(1, max_steps - warmup_steps))
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))
        return cosine
    raise RequestError(f"unknown lrSchedulerType {schedule!r}")


def resolve_max_steps(args: TrainingArgs, batches_per_epoch: int) -> int:
    """HF `Trainer.set_initial_training_values`: max_steps wins when > 0; otherwise
    num_update_steps_per_epoch = max(1, batches // accumulation) and
    max_steps = ceil(num_train_epochs * num_update_steps_per_epoch)."""
    if args.maxSteps > 0:
        return args.maxSteps
    updates_per_epoch = max(1, batches_per_epoch // args.gradientAccumulationSteps)
    return math.ceil(args.numTrainEpochs * updates_per_epoch)


def resolve_warmup_steps(args: TrainingArgs, max_steps: int) -> int:
    """HF `TrainingArguments.get_warmup_steps`: warmup_steps if > 0, else ceil(ratio * max_steps)."""
    return args.warmupSteps if args.warmupSteps > 0 else math.ceil(max_steps * args.warmupRatio)


# ---------------------------------------------------------------------------------------------
# Training loop
# ---------------------------------------------------------------------------------------------
def accumulation_groups(batches: List[List[int]], accumulation: int) -> List[List[List[int]]]:
    """The micro-batches of each optimizer update of one epoch.

    HF `_inner_training_loop`: chunks of `gradient_accumulation_steps` batches; the last chunk of an
    epoch may be shorter (`remainder`) and still ends in an update (`do_sync_step` when
    `step + 1 == steps_in_epoch`).
    """
    return [batches[i:i + accumulation] for i in range(0, len(batches), accumulation)]


class ReferenceTrainer:
    """One training run: the model, its loss, optimizer and schedule, and the update step."""

    def __init__(self, model: BertForSequenceClassification, tokenizer: BertTokenizer,
                 rows: Sequence[Mapping], args: TrainingArgs, max_length: Optional[int],
                 pos_weight: Optional[float] = None, variant: Optional[Variant] = None,
                 mutation: Optional[Mutation] = None):
        if model.num_labels != 1:
            raise RequestError(f"BinaryCrossEntropyLoss needs a 1-label model, this one has "
                               f"{model.num_labels}")
        self.model, self.tokenizer, self.rows, self.args = model, tokenizer, rows, args
        self.max_length = max_length
        self.variant = variant or Variant()
        self.mutation = mutation or Mutation()
        if (self.variant.pad or self.variant.split_rows) and has_dropout(model):
            raise RequestError("variant.pad and variant.split_rows change the dropout masks of a "
                               "model with dropout")
        if self.variant.reverse_rows:
            flip_dropout_rows(model)
        self.batches_per_epoch = len(self.epoch_batches(0))
        if self.batches_per_epoch == 0:
            raise RequestError(f"{len(rows)} rows make no batch of {args.perDeviceTrainBatchSize} "
                               "with dataloaderDropLast")
        self.max_steps = resolve_max_steps(args, self.batches_per_epoch)
        self.warmup_steps = resolve_warmup_steps(args, self.max_steps)

        # HF Trainer.__init__: set_seed(args.seed) (torch.manual_seed among others) before any draw.
        torch.manual_seed(args.seed)
        # ST BinaryCrossEntropyLoss: nn.BCEWithLogitsLoss(pos_weight=pos_weight), mean reduction.
        self.loss_fn = nn.BCEWithLogitsLoss(
            pos_weight=None if pos_weight is None else torch.tensor(pos_weight, dtype=torch.float32))
        self.optimizer = make_optimizer(model, args, self.mutation.no_decay)
        # HF create_scheduler -> get_scheduler: a LambdaLR, so update k (0-based) uses base * lambda(k).
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(args.lrSchedulerType, self.warmup_steps, self.max_steps))

    def epoch_batches(self, epoch: int) -> List[List[int]]:
        a = self.args
        return epoch_batches(len(self.rows), a.perDeviceTrainBatchSize, a.seed, epoch, a.dataloaderDropLast)

    def train(self) -> Dict[str, Any]:
        """Trains the model in place and returns the per-step record (see the module docstring)."""
        self.model.train()  # HF _inner_training_loop: model.train() (training_step repeats it)
        self.model.zero_grad()
        steps: List[Dict[str, Any]] = []
        # HF loops over ceil(num_train_epochs) epochs (or as many as max_steps needs) and its
        # DefaultFlowCallback stops training once global_step >= max_steps.
        epoch = 0
        while len(steps) < self.max_steps:
            # HF makes each epoch's iterator with `iter(epoch_dataloader)`, and torch's
            # `_BaseDataLoaderIter.__init__` draws its `_base_seed` from the global generator (ST's
            # DataLoader has no generator of its own): one int64 draw that shifts the dropout masks.
            torch.empty((), dtype=torch.int64).random_()
            for group in accumulation_groups(self.epoch_batches(epoch), self.args.gradientAccumulationSteps):
                steps.append(self.update(group, len(steps) + 1))
                if len(steps) == self.max_steps:
                    break
            epoch += 1
        train_loss = sum(s["loss"] for s in steps) / len(steps)  # HF: _total_loss_scalar / global_step
        return {"steps": [_json_safe(s) for s in steps], "train_loss": _finite_or_none(train_loss),
                "max_steps": self.max_steps, "warmup_steps": self.warmup_steps}

    def update(self, group: List[List[int]], step: int) -> Dict[str, Any]:
        """One optimizer update over the micro-batches of `group`."""
        loss_sum = 0.0
        for indices in group:
            # HF training_step: loss / current_gradient_accumulation_steps (the micro-batches of this
            # update: gradient_accumulation_steps except in an epoch's short last group), backward.
            # Dividing by 1 is exact, so a plain step is unchanged.
            divisor = (self.args.gradientAccumulationSteps
                       if self.mutation.loss_divisor == "accumulation_steps" else len(group))
            loss_sum += self.backward(indices, divisor)  # HF: tr_loss += tr_loss_step (detached)
        grad_norm = None
        if self.args.maxGradNorm > 0:
            # HF: accelerator.clip_grad_norm_(model.parameters(), max_grad_norm) -> torch's
            # clip_grad_norm_, which returns the total norm before clipping (what HF logs).
            grad_norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.args.maxGradNorm).item()
        if step != self.mutation.skip_step:
            scale = self.mutation.lr_scale
            for g in self.optimizer.param_groups:
                g["lr"] *= scale
            self.optimizer.step()
            for g in self.optimizer.param_groups:
                g["lr"] /= scale  # the scheduler sets the next lr from its lambda anyway
        self.scheduler.step()
        # The lr after scheduler.step(), as HF <= 4.5x logs it in _maybe_log_save_evaluate
        # (`self._get_learning_rate()`); newer HF logs the lr read before scheduler.step().
        learning_rate = self.scheduler.get_last_lr()[0]
        self.model.zero_grad()
        return {"step": step, "loss": loss_sum, "grad_norm": grad_norm,
                "learning_rate": learning_rate, "batch_indices": group}

    def batch_loss(self, indices: List[int]) -> torch.Tensor:
        """ST `BinaryCrossEntropyLoss.forward`: tokenize the pairs (padding to the longest,
        truncation), logits `.view(-1)`, `BCEWithLogitsLoss(logits, labels.float())`."""
        if self.variant.reverse_rows:
            indices = indices[::-1]
        pairs = [(self.rows[i]["query"], self.rows[i]["document"]) for i in indices]
        batch = self.tokenizer.encode_pairs(pairs, self.max_length)
        pad = [self.tokenizer.token_id("pad_token")] * self.variant.pad
        no = [0] * self.variant.pad  # type id and attention mask of a [PAD] position
        logits = self.model(
            torch.tensor([row + pad for row in batch.input_ids], dtype=torch.long),
            torch.tensor([row + no for row in batch.attention_mask], dtype=torch.long),
            torch.tensor([row + no for row in batch.token_type_ids], dtype=torch.long),
        ).view(-1)
        labels = torch.tensor([float(self.rows[i]["label"]) for i in indices], dtype=torch.float32)
        return self.loss_fn(logits, labels)

    def backward(self, indices: List[int], divisor: int) -> float:
        """Backward of the micro-batch's loss / divisor; returns that scaled loss."""
        if not self.variant.split_rows:
            loss = self.batch_loss(indices) / divisor
            loss.backward()
            return loss.item()
        total = 0.0
        for i in indices:  # mean over rows = sum of each row's loss / len(indices)
            loss = self.batch_loss([i]) / (len(indices) * divisor)
            loss.backward()
            total += loss.item()
        return total


def _finite_or_none(value: Optional[float]) -> Optional[float]:
    return value if value is not None and math.isfinite(value) else None


def _json_safe(step: Dict[str, Any]) -> Dict[str, Any]:
    return {k: _finite_or_none(v) if isinstance(v, float) else v for k, v in step.items()}


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------
def check_rows(rows: Any) -> List[Mapping]:
    if not isinstance(rows, list) or not rows:
        raise RequestError('"rows" must be a non-empty list of {query, document, label} objects')
    for i, row in enumerate(rows):
        if not (isinstance(row, Mapping) and isinstance(row.get("query"), str)
                and isinstance(row.get("document"), str)
                and isinstance(row.get("label"), (int, float)) and not isinstance(row["label"], bool)):
            raise RequestError(f'rows[{i}] must be {{"query": str, "document": str, "label": number}}')
    return rows


def _optional_int(request: Mapping, name: str) -> Optional[int]:
    value = request.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 3):
        raise RequestError(f'"{name}" must be an integer >= 3, got {value!r}')
    return value


def default_max_length(tokenizer: BertTokenizer, model: BertForSequenceClassification) -> int:
    # As CrossEncoder.fromPretrained: min(tokenizer model_max_length, max_position_embeddings).
    positions = model.config.max_position_embeddings
    return min(tokenizer.model_max_length or positions, positions)


def run_training(request: Mapping[str, Any]) -> Dict[str, Any]:
    model_dir, out = request.get("model_dir"), request.get("out")
    if not isinstance(model_dir, str) or not isinstance(out, str):
        raise RequestError('"model_dir" and "out" must be paths (strings)')
    rows = check_rows(request.get("rows"))
    args = parse_args(request.get("args"))
    pos_weight = request.get("pos_weight")
    if pos_weight is not None and (not isinstance(pos_weight, (int, float)) or isinstance(pos_weight, bool)):
        raise RequestError(f'"pos_weight" must be a number, got {pos_weight!r}')
    variant = parse_options(request.get("variant"), Variant, "variant")
    mutation = parse_options(request.get("mutation"), Mutation, "mutation")
    model = load_model(model_dir)
    tokenizer = BertTokenizer.from_dir(model_dir)
    max_length = _optional_int(request, "max_length") or default_max_length(tokenizer, model)
    threads = torch.get_num_threads()
    torch.set_num_threads(variant.threads)
    try:
        result = ReferenceTrainer(model, tokenizer, rows, args, max_length, pos_weight,
                                  variant, mutation).train()
    finally:
        torch.set_num_threads(threads)
    write_safetensors(out, model.state_dict(), {"format": "pt"})
    return {**result, "max_length": max_length}


def run_many(runs: Any) -> Dict[str, Any]:
    if not isinstance(runs, list):
        raise RequestError('"runs" must be a list of training requests')
    answers = []
    for i, run in enumerate(runs):
        if not isinstance(run, Mapping):
            raise RequestError(f"runs[{i}] must be a JSON object")
        try:
            answers.append(run_training(run))
        except ValueError as e:
            raise RequestError(f"runs[{i}]: {e}") from None
    return {"runs": answers}


def run_sampler(queries: Any) -> Dict[str, Any]:
    if not isinstance(queries, list):
        raise RequestError('"epoch_batches" must be a list of {n, batch_size, seed, epoch, drop_last}')
    answers = []
    for i, q in enumerate(queries):
        ints = ("n", "batch_size", "seed", "epoch")
        if not (isinstance(q, Mapping) and all(isinstance(q.get(k), int) for k in ints)
                and isinstance(q.get("drop_last"), bool) and q["n"] >= 0 and q["batch_size"] >= 1):
            raise RequestError(f"epoch_batches[{i}] must be {{n, batch_size >= 1, seed, epoch: int, "
                               "drop_last: bool}")
        answers.append(epoch_batches(q["n"], q["batch_size"], q["seed"], q["epoch"], q["drop_last"]))
    return {"epoch_batches": answers}


def main() -> int:
    try:
        try:
            request = json.load(sys.stdin)
        except json.JSONDecodeError as e:
            raise RequestError(f"stdin is not one JSON object ({e})") from None
        if not isinstance(request, Mapping):
            raise RequestError("the request must be a JSON object")
        if "epoch_batches" in request:
            answer = run_sampler(request["epoch_batches"])
        elif "runs" in request:
            answer = run_many(request["runs"])
        else:
            answer = run_training(request)
    except (ValueError, OSError) as e:  # RequestError and the reference modules' errors are ValueErrors
        print(f"error: {e}", file=sys.stderr)
        return 2
    json.dump(answer, sys.stdout, allow_nan=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
