"""Plain-PyTorch re-implementations of Sentence Transformers' cross-encoder losses (v5.1,
sentence_transformers/cross_encoder/losses/*.py), written from their published source, on logits
(no model), plus 10-step training runs through train_reference.py's loop with each loss.

    /usr/bin/python3 test/reference/st_losses.py < request.json

Probe request: {"probes": [{"loss": native name, "options": {...camelCase}, "logits": [...],
  "group_sizes": [...], "labels": [...], "rows": B, "label_columns": n, "columns": C,
  "dtype": "float32"|"float64", "mutation": {...}}, ...]}
-> {"probes": [{"loss": value, "gradient": [d loss / d logits]}, ...]}
  Layout of "logits" (one per pair, in the order the native batch lists them): listwise: the
  pairs of each query in order; pointwise: one per row; margin_mse: the positive column then
  each negative column (rows each); MNRL: the grid (anchor i, candidate j) at i * B * C + j.
Training request: {"runs": [{"model_dir", "rows", "loss", "options", "args", "out",
  "variant", "mutation"}, ...]} -> {"runs": [train_reference's answer, ...]}
"mutation" makes a formula deliberately wrong (the tests' proof that a comparison can fail):
  {"sigma_scale": s}, {"scheme_shift": 1} (NDCGLoss2's |i-j| discount one position off),
  {"no_label_mask": true} (ListNet's padded labels 0 instead of -inf), {"no_padding_in_denominator":
  true} (PListMLE without ST's padded exp(1e-16) terms), {"no_margin": true} (MarginMSE on raw
  scores), {"scale_delta": d} (MNRL's scale + d), {"ordinal_ranks": true} (ADRMSE's tied labels
  ranked by argsort instead of their average rank).
Multi-dataset training: "datasets": [{"rows", "loss", "options"}, ...] in place of rows/loss/
  options, and "sampler": "proportional" | "round_robin" (multi_dataset_sampler.py's batches).
"""
from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import json  # noqa: E402
import math  # noqa: E402
from typing import Any, Callable, Dict, List  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

import multi_dataset_sampler as mds  # noqa: E402
import train_reference as tr  # noqa: E402

ACTIVATIONS = {"identity": lambda x: x, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "none": None}


def listwise_matrices(logits, labels, sizes, logit_fill, dtype):
    """ST's padding: logits_matrix full of `logit_fill`, labels_matrix full of -inf."""
    batch_size, max_docs = len(sizes), max(sizes)
    logits_matrix = torch.full((batch_size, max_docs), logit_fill, dtype=dtype)
    doc_indices = torch.cat([torch.arange(n) for n in sizes], dim=0)
    batch_indices = torch.repeat_interleave(torch.arange(batch_size), torch.tensor(sizes))
    logits_matrix[batch_indices, doc_indices] = logits
    labels_matrix = torch.full_like(logits_matrix, float("-inf"))
    labels_matrix[batch_indices, doc_indices] = labels.to(dtype)
    mask = torch.zeros_like(logits_matrix, dtype=torch.bool)
    mask[batch_indices, doc_indices] = True
    return logits_matrix, labels_matrix, mask


def lambda_loss(logits, labels, sizes, o, mut, dtype):
    """LambdaLoss.forward after the model call (RankNet: scheme none)."""
    scheme = o.get("weightingScheme", "ndcg_loss2pp")
    sigma = o.get("sigma", 1.0) * mut.get("sigma_scale", 1.0)
    eps = o.get("eps", 1e-10)
    logits = ACTIVATIONS[o.get("activationFn", "identity")](logits)
    logits_matrix, labels_matrix, _ = listwise_matrices(logits, labels, sizes, -1e16, dtype)
    max_docs = logits_matrix.shape[1]
    logits_matrix_sorted, indices_pred = logits_matrix.sort(descending=True, dim=-1)
    labels_matrix_sorted, _ = labels_matrix.sort(descending=True, dim=-1)
    true_sorted_by_preds = torch.gather(labels_matrix, dim=1, index=indices_pred)
    true_diffs = true_sorted_by_preds[:, :, None] - true_sorted_by_preds[:, None, :]
    padded_pairs_mask = torch.isfinite(true_diffs)
    if scheme != "ndcg_loss1":
        padded_pairs_mask = padded_pairs_mask & (true_diffs > 0)
    k = o.get("k") or max_docs
    ndcg_at_k_mask = torch.zeros((max_docs, max_docs), dtype=torch.bool)
    ndcg_at_k_mask[:k, :k] = 1
    true_sorted_by_preds.clamp_(min=0.0)
    labels_matrix_sorted.clamp_(min=0.0)
    pos_idxs = torch.arange(1, max_docs + 1)
    discount = torch.log2(1.0 + pos_idxs.to(dtype))[None, :]
    maxDCGs = torch.sum(((torch.pow(2, labels_matrix_sorted) - 1) / discount)[:, :k], dim=-1).clamp(min=eps)
    gain = (torch.pow(2, true_sorted_by_preds) - 1) / maxDCGs[:, None]

    def ndcg2():
        pos = torch.arange(1, gain.shape[1] + 1)
        delta_idxs = torch.abs(pos[:, None] - pos[None, :])
        shift = mut.get("scheme_shift", 0)
        lower = (delta_idxs - 1 + shift).clamp(max=gain.shape[1] - 1)
        upper = (delta_idxs + shift).clamp(max=gain.shape[1] - 1)
        deltas = torch.abs(torch.pow(torch.abs(discount[0, lower]), -1.0) - torch.pow(torch.abs(discount[0, upper]), -1.0))
        deltas.diagonal().zero_()
        return deltas[None, :, :] * torch.abs(gain[:, :, None] - gain[:, None, :])

    def lambda_rank():
        return torch.abs(torch.pow(discount[:, :, None], -1.0) - torch.pow(discount[:, None, :], -1.0)) * torch.abs(
            gain[:, :, None] - gain[:, None, :])

    if scheme == "none":
        weights = torch.tensor(1.0, dtype=dtype)
    elif scheme == "ndcg_loss1":
        weights = (gain / discount)[:, :, None]
    elif scheme == "ndcg_loss2":
        weights = ndcg2()
    elif scheme == "lambda_rank":
        weights = lambda_rank()
    else:
        weights = o.get("mu", 10.0) * ndcg2() + lambda_rank()
    scores_diffs = (logits_matrix_sorted[:, :, None] - logits_matrix_sorted[:, None, :]).clamp(min=-1e8, max=1e8)
    scores_diffs.masked_fill_(torch.isnan(scores_diffs), 0.0)
    weighted_probas = (torch.sigmoid(sigma * scores_diffs).clamp(min=eps) ** weights).clamp(min=eps)
    losses = torch.log(weighted_probas) if o.get("reductionLog", "binary") == "natural" else torch.log2(weighted_probas)
    return -torch.mean(losses[padded_pairs_mask & ndcg_at_k_mask])


def list_net(logits, labels, sizes, o, mut, dtype):
    logits = ACTIVATIONS[o.get("activationFn", "identity")](logits)
    logits_matrix, labels_matrix, mask = listwise_matrices(logits, labels, sizes, -1e16, dtype)
    if mut.get("no_label_mask"):
        labels_matrix = labels_matrix.masked_fill(~mask, 0.0)
    return nn.CrossEntropyLoss()(logits_matrix, labels_matrix.softmax(dim=1))


def adr_mse(logits, labels, sizes, o, mut, dtype):
    """ADRMSELoss.forward after the model call (ST v5.4, with alpha and average ranks of ties)."""
    alpha = o.get("alpha", 1.0)
    logits = ACTIVATIONS[o.get("activationFn", "identity")](logits)
    logits_matrix, labels_matrix, mask = listwise_matrices(logits, labels, sizes, -1e16, dtype)
    labels_matrix = labels_matrix.masked_fill(~mask, 0.0)
    labels_j, labels_i, valid_j = labels_matrix.unsqueeze(1), labels_matrix.unsqueeze(2), mask.unsqueeze(1)
    greater = ((labels_j > labels_i) & valid_j).sum(dim=-1).to(dtype)
    equal = ((labels_j == labels_i) & valid_j).sum(dim=-1).to(dtype)
    true_ranks = greater + (equal + 1.0) / 2.0
    if mut.get("ordinal_ranks"):  # ST <= v5.3: ties broken by argsort, a non-zero minimum loss
        ranking = labels_matrix.masked_fill(~mask, float("-inf"))
        true_ranks = ranking.argsort(dim=1, descending=True).argsort(dim=1).to(dtype) + 1.0
    score_diffs = logits_matrix.unsqueeze(1) - logits_matrix.unsqueeze(2)
    pairwise = torch.sigmoid(alpha * score_diffs) * mask.unsqueeze(1).to(dtype)
    approx_ranks = 1.0 + pairwise.sum(dim=2) - 0.5 * mask.to(dtype)
    loss = (1.0 / torch.log2(true_ranks + 1.0)) * (true_ranks - approx_ranks) ** 2
    loss = loss * mask.to(dtype)
    return loss.sum() / mask.sum()


def plist_mle(logits, labels, sizes, o, mut, dtype):
    eps = 1e-10
    logits = ACTIVATIONS[o.get("activationFn", "identity")](logits)
    logits_matrix, labels_matrix, mask = listwise_matrices(logits, labels, sizes, 1e-16, dtype)
    if not o.get("respectInputOrder", True):
        _, indices = labels_matrix.sort(descending=True, dim=1)
        sorted_logits = torch.gather(logits_matrix, 1, indices)
    else:
        sorted_logits = logits_matrix
    scores = sorted_logits.exp()
    if mut.get("no_padding_in_denominator"):
        scores = scores.masked_fill(~mask, 0.0)
    cumsum_scores = torch.flip(torch.cumsum(torch.flip(scores, [1]), 1), [1])
    log_probs = sorted_logits - torch.log(cumsum_scores + eps)
    if o.get("lambdaWeight", "default") == "default":
        num_docs_per_query = mask.sum(dim=1, keepdim=True)
        ranks = torch.arange(mask.size(1)).expand_as(mask)
        weights = (torch.pow(2.0, num_docs_per_query - ranks) - 1.0) * mask
        weights = weights.to(dtype)
        log_probs = log_probs * (weights / (weights.sum(dim=1, keepdim=True) + eps))
    log_probs[~mask] = 0.0
    per_query_losses = -torch.sum(log_probs, dim=1)
    if not torch.any(per_query_losses):
        return torch.tensor(0.0, dtype=dtype, requires_grad=True)
    return torch.mean(per_query_losses)


def pointwise(name, logits, labels, rows, o, mut, dtype):
    logits = logits.view(-1)
    if name == "binary_cross_entropy":
        pw = o.get("posWeight")
        return nn.BCEWithLogitsLoss(pos_weight=None if pw is None else torch.tensor(pw, dtype=dtype))(logits, labels.to(dtype))
    if name == "mse":
        return nn.MSELoss()(ACTIVATIONS[o.get("activationFn", "identity")](logits), labels.to(dtype))
    raise ValueError(name)


def margin_mse(logits, labels, rows, label_columns, o, mut, dtype):
    act = ACTIVATIONS[o.get("activationFn", "identity")]
    columns = logits.view(-1, rows)  # positive column, then each negative column
    negatives = columns.shape[0] - 1
    labels = labels.to(dtype).view(rows, label_columns)
    if labels.shape == (rows, negatives + 1) and not mut.get("no_margin"):
        labels = labels[:, 0].unsqueeze(1) - labels[:, 1:]
    elif mut.get("no_margin"):
        labels = labels[:, -negatives:]
    margin_logits = act(columns[0]).unsqueeze(1) - torch.stack([act(c) for c in columns[1:]], dim=1)
    return nn.MSELoss()(margin_logits, labels)


def mnrl_scores(o, mut, rows, columns, score: Callable[[List[int]], torch.Tensor]):
    """MultipleNegativesRankingLoss.forward with `score(pair indices)` for the model call; pair
    (anchor i, candidate j) is i * B * C + j. Returns the loss."""
    B, C = rows, columns
    scores = [score([i * B * C + i for i in range(B)])]
    num_negatives = o.get("numNegatives", 4)
    mask = ~torch.eye(B, dtype=torch.bool).repeat(1, C)
    if num_negatives is not None and num_negatives < B * C:
        negative_indices = torch.multinomial(mask.float(), num_negatives)
    else:
        all_indices = torch.arange(B * C).repeat(B, 1)
        negative_indices = all_indices[mask].reshape(B, -1)
    for column in negative_indices.T:
        scores.append(score([i * B * C + int(j) for i, j in enumerate(column)]))
    for h in range(1, C):
        scores.append(score([i * B * C + h * B + i for i in range(B)]))
    return mnrl_loss(scores, B, o, mut)


def mnrl_loss(scores, B, o, mut):
    logits = torch.cat(scores, dim=0).reshape(-1, B).T
    act = ACTIVATIONS[o.get("activationFn", "sigmoid")]
    if act:
        logits = act(logits)
    scale = o.get("scale", 10.0) + mut.get("scale_delta", 0.0)
    if scale:
        logits = logits * scale
    return nn.CrossEntropyLoss()(logits, torch.zeros(B, dtype=torch.long))


LISTWISE = {"lambda_loss": lambda_loss, "list_net": list_net, "plist_mle": plist_mle, "adr_mse": adr_mse}


def probe(p: Dict[str, Any]) -> Dict[str, Any]:
    dtype = torch.float64 if p.get("dtype") == "float64" else torch.float32
    name, o, mut = p["loss"], p.get("options", {}), p.get("mutation", {})
    leaf = torch.tensor(p["logits"], dtype=torch.float32).to(dtype).requires_grad_()
    labels = torch.tensor(p.get("labels", []), dtype=torch.float32)
    if name in LISTWISE:
        loss = LISTWISE[name](leaf, labels, p["group_sizes"], o, mut, dtype)
    elif name == "margin_mse":
        loss = margin_mse(leaf, labels, p["rows"], p["label_columns"], o, mut, dtype)
    elif name in ("multiple_negatives_ranking", "cached_multiple_negatives_ranking"):
        loss = mnrl_scores(o, mut, p["rows"], p["columns"], lambda idx: leaf[torch.tensor(idx)])
    else:
        loss = pointwise(name, leaf, labels, p["rows"], o, mut, dtype)
    if loss.requires_grad and loss.grad_fn is not None:
        loss.backward()
    grad = leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)
    value = loss.item()
    # JSON has no NaN: a NaN loss (ST's own result on some inputs) is null, NaN gradients null too.
    return {"loss": value if math.isfinite(value) else None,
            "gradient": [g if math.isfinite(g) else None for g in grad.tolist()]}


class LossTrainer(tr.ReferenceTrainer):
    """train_reference's loop with an ST loss in place of BCE; the model is called per forward
    exactly where ST's loss calls it (padding per call)."""

    def __init__(self, *a, loss_name: str, options: Dict[str, Any], datasets=None, sampler=None, **kw):
        self.loss_name, self.options = loss_name, options
        # Multi-dataset: [(first global row, rows, loss, options)] over the concatenated rows.
        self.datasets, self.sampler = datasets, sampler
        super().__init__(*a, **kw)

    def epoch_batches(self, epoch):
        if not self.datasets:
            return super().epoch_batches(epoch)
        a = self.args
        return mds.epoch_batches([len(d[1]) for d in self.datasets], a.perDeviceTrainBatchSize, a.seed, epoch,
                                 a.dataloaderDropLast, self.sampler)

    def call(self, pairs):
        batch = self.tokenizer.encode_pairs(pairs, self.max_length)
        pad = [self.tokenizer.token_id("pad_token")] * self.variant.pad
        no = [0] * self.variant.pad
        return self.model(
            torch.tensor([r + pad for r in batch.input_ids], dtype=torch.long),
            torch.tensor([r + no for r in batch.attention_mask], dtype=torch.long),
            torch.tensor([r + no for r in batch.token_type_ids], dtype=torch.long),
        )

    def batch_loss(self, indices):
        if not self.datasets:
            return self.loss_on([self.rows[i] for i in indices], self.loss_name, self.options)
        # ST's collator: the batch's dataset_name is its first row's; the compute_loss picks its loss.
        start, rows, name, options = next(d for d in reversed(self.datasets) if d[0] <= indices[0])
        return self.loss_on([rows[i - start] for i in indices], name, options)

    def loss_on(self, rows, name, o):
        keys = [k for k in rows[0] if k not in ("label", "labels", "score", "scores", "dataset_name")]
        label_key = next((k for k in ("label", "labels", "score", "scores") if k in rows[0]), None)
        mut = self.mutation_extra
        if name in LISTWISE:
            pairs = [(r[keys[0]], d) for r in rows for d in r[keys[1]]]
            size = o.get("miniBatchSize") or len(rows)
            if size <= 0:
                size = len(pairs)
            logits = torch.cat([self.call(pairs[i:i + size]).view(-1) for i in range(0, len(pairs), size)])
            labels = torch.tensor([l for r in rows for l in r[label_key]], dtype=torch.float32)
            return LISTWISE[name](logits, labels, [len(r[keys[1]]) for r in rows], o, mut, torch.float32)
        if name == "margin_mse":
            cols = [self.call([(r[keys[0]], r[k]) for r in rows]).view(-1) for k in keys[1:]]
            raw = [r[label_key] if isinstance(r[label_key], list) else [r[label_key]] for r in rows]
            labels = torch.tensor([v for x in raw for v in x], dtype=torch.float32)
            return margin_mse(torch.cat(cols), labels, len(rows), len(raw[0]), o, mut, torch.float32)
        if name in ("multiple_negatives_ranking", "cached_multiple_negatives_ranking"):
            B, C = len(rows), len(keys) - 1
            def score(idx):
                pairs = []
                for p in idx:
                    i, j = divmod(p, B * C)
                    pairs.append((rows[i][keys[0]], rows[j % B][keys[1 + j // B]]))
                return self.call(pairs).squeeze(1)
            return mnrl_scores(o, mut, B, C, score)
        labels = torch.tensor([float(r[label_key]) for r in rows], dtype=torch.float32)
        logits = self.call([(r[keys[0]], r[keys[1]]) for r in rows])
        return pointwise(name, logits, labels, len(rows), o, mut, torch.float32)


def run_training(request: Dict[str, Any]) -> Dict[str, Any]:
    model = tr.load_model(request["model_dir"])
    tokenizer = tr.BertTokenizer.from_dir(request["model_dir"])
    args = tr.parse_args(request.get("args"))
    variant = tr.parse_options(request.get("variant"), tr.Variant, "variant")
    max_length = tr.default_max_length(tokenizer, model)
    threads = torch.get_num_threads()
    torch.set_num_threads(variant.threads)
    datasets, rows = None, request.get("rows")
    if "datasets" in request:
        datasets, rows, start = [], [], 0
        for d in request["datasets"]:
            datasets.append((start, d["rows"], d["loss"], d.get("options", {})))
            rows, start = rows + d["rows"], start + len(d["rows"])
    try:
        trainer = LossTrainer(model, tokenizer, rows, args, max_length, None, variant, None,
                              loss_name=request.get("loss"), options=request.get("options", {}),
                              datasets=datasets, sampler=request.get("sampler", "proportional"))
        trainer.mutation_extra = request.get("mutation") or {}
        result = trainer.train()
    finally:
        torch.set_num_threads(threads)
    tr.write_safetensors(request["out"], model.state_dict(), {"format": "pt"})
    return {**result, "max_length": max_length}


def main() -> int:
    request = json.load(sys.stdin)
    if "probes" in request:
        answer = {"probes": [probe(p) for p in request["probes"]]}
    else:
        answer = {"runs": [run_training(r) for r in request["runs"]]}
    json.dump(answer, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
