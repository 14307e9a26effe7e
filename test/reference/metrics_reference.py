"""Reference values for lib/evaluation/metrics.ts, computed the way Sentence Transformers does.

Reads {"cases": [...]} as JSON on stdin and writes {"results": [...]} (one object per case) to
stdout. Run by test/evaluation.test.ts with /usr/bin/python3 (Debian's python3-sklearn).

Case kinds:
  ranking    {relevance, scores, k}      -> ap (binary relevance only), ndcg, mrr
  threshold  {scores, labels, float32}   -> accuracy/F1 threshold search and average precision
  labels     {y_true, y_pred}            -> f1 macro/micro/weighted, binary precision/recall/f1
  rerank     {samples, at_k, always_rerank_positives, pairs, scores}
                                         -> the metrics dict of CrossEncoderRerankingEvaluator, or
                                            {"error"} where it raises; the model replays `scores`,
                                            the TypeScript model's score of each of `pairs` in the
                                            order it scored them (pairs null: all scores 0)

AP and NDCG come straight from scikit-learn. MRR@k, the threshold searches and the reranking loop
are Sentence Transformers code (CrossEncoderRerankingEvaluator.__call__ / compute_metrics and
BinaryClassificationEvaluator's static methods), restated here because sentence-transformers itself is not installed; the one
deliberate change is `kind="stable"` in the MRR argsort, which NumPy's default equals for arrays of
up to 16 items and which makes the tie order defined beyond that.
"""

import json
import sys
import warnings

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, ndcg_score, precision_score, recall_score


def mrr_at_k(y_true, y_pred, k):
    ranking = np.argsort(y_pred, kind="stable")[::-1]
    for rank, index in enumerate(ranking[0:k]):
        if y_true[index]:
            return 1 / (rank + 1)
    return 0


def find_best_acc_and_threshold(scores, labels):
    rows = sorted(zip(scores, labels), key=lambda x: x[0], reverse=True)
    max_acc = 0
    best_threshold = -1
    positive_so_far = 0
    remaining_negatives = sum(labels == 0)
    for i in range(len(rows) - 1):
        _, label = rows[i]
        if label == 1:
            positive_so_far += 1
        else:
            remaining_negatives -= 1
        acc = (positive_so_far + remaining_negatives) / len(labels)
        if acc > max_acc:
            max_acc = acc
            best_threshold = (rows[i][0] + rows[i + 1][0]) / 2
    return max_acc, best_threshold


def find_best_f1_and_threshold(scores, labels):
    rows = sorted(zip(scores, labels), key=lambda x: x[0], reverse=True)
    best_f1 = best_precision = best_recall = 0
    threshold = 0
    nextract = 0
    ncorrect = 0
    total_num_duplicates = sum(labels)
    for i in range(len(rows) - 1):
        _, label = rows[i]
        nextract += 1
        if label == 1:
            ncorrect += 1
        if ncorrect > 0:
            precision = ncorrect / nextract
            recall = ncorrect / total_num_duplicates
            f1 = 2 * precision * recall / (precision + recall)
            if f1 > best_f1:
                best_f1 = f1
                best_precision = precision
                best_recall = recall
                threshold = (rows[i][0] + rows[i + 1][0]) / 2
    return best_f1, best_precision, best_recall, threshold


def compute_metrics(y_true, y_pred, k):
    mrr = mrr_at_k(y_true, y_pred, k)
    ndcg = ndcg_score([y_true], [y_pred], k=k)
    ap = average_precision_score(y_true, y_pred)
    return mrr, ndcg, ap


class ReplayedModel:
    """Stands in for CrossEncoder.predict: replays the scores the TypeScript evaluator got from its
    model, pair by pair, and checks that Sentence Transformers asks for the same pairs in the same
    order. With no recording (the TypeScript side refused the samples) every score is 0."""

    def __init__(self, pairs, scores):
        self.pairs, self.scores, self.used = pairs, scores, 0

    def predict(self, model_input):
        if self.pairs is None:
            return np.zeros(len(model_input), dtype=np.float32)
        end = self.used + len(model_input)
        if [list(pair) for pair in model_input] != self.pairs[self.used : end]:
            raise AssertionError(f"Sentence Transformers scores {model_input}, TypeScript scored {self.pairs[self.used : end]}")
        scores = np.array(self.scores[self.used : end], dtype=np.float32)  # predict's float32 numpy output
        self.used = end
        return scores

    def check_all_used(self):
        if self.pairs is not None and self.used != len(self.pairs):
            raise AssertionError(f"TypeScript scored {len(self.pairs) - self.used} pairs Sentence Transformers does not")


def rerank_evaluate(samples, model, at_k, always_rerank_positives):
    """CrossEncoderRerankingEvaluator.__call__ of sentence-transformers 5.2.0.dev0 (commit 85ec645), with
    logging, model card and CSV left out; the statements that decide the metrics are as published."""
    base_mrr_scores = []
    base_ndcg_scores = []
    base_ap_scores = []
    all_mrr_scores = []
    all_ndcg_scores = []
    all_ap_scores = []
    for instance in samples:
        if "query" not in instance:
            raise ValueError("CrossEncoderRerankingEvaluator requires a 'query' key in each sample.")
        if "positive" not in instance:
            raise ValueError("CrossEncoderRerankingEvaluator requires a 'positive' key in each sample.")
        if ("negative" in instance and "documents" in instance) or (
            "negative" not in instance and "documents" not in instance
        ):
            raise ValueError(
                "CrossEncoderRerankingEvaluator requires exactly one of 'negative' and 'documents' in each sample."
            )

        query = instance["query"]
        positive = instance["positive"]
        if isinstance(positive, str):
            positive = [positive]

        negative = instance.get("negative", None)
        documents = instance.get("documents", None)

        if documents:
            base_is_relevant = [int(sample in positive) for sample in documents]
            if sum(base_is_relevant) == 0:
                base_mrr, base_ndcg, base_ap = 0, 0, 0
            else:
                # If not all positives are in documents, we need to add them at the end
                base_is_relevant += [1] * (len(positive) - sum(base_is_relevant))
                base_pred_scores = np.array(range(len(base_is_relevant), 0, -1))
                base_mrr, base_ndcg, base_ap = compute_metrics(base_is_relevant, base_pred_scores, at_k)
            base_mrr_scores.append(base_mrr)
            base_ndcg_scores.append(base_ndcg)
            base_ap_scores.append(base_ap)

            if always_rerank_positives:
                docs = positive + [doc for doc in documents if doc not in positive]
                is_relevant = [1] * len(positive) + [0] * (len(docs) - len(positive))
            else:
                docs = documents
                is_relevant = [int(sample in positive) for sample in documents]
        else:
            docs = positive + negative
            is_relevant = [1] * len(positive) + [0] * len(negative)

        if sum(is_relevant) == 0:
            all_mrr_scores.append(0)
            all_ndcg_scores.append(0)
            all_ap_scores.append(0)
            continue

        model_input = [[query, doc] for doc in docs]
        pred_scores = model.predict(model_input)

        # Add the ignored positives at the end
        if num_ignored_positives := len(is_relevant) - len(pred_scores):
            pred_scores = np.concatenate([pred_scores, np.zeros(num_ignored_positives)])

        mrr, ndcg, ap = compute_metrics(is_relevant, pred_scores, at_k)

        all_mrr_scores.append(mrr)
        all_ndcg_scores.append(ndcg)
        all_ap_scores.append(ap)

    metrics = {
        "map": np.mean(all_ap_scores),
        f"mrr@{at_k}": np.mean(all_mrr_scores),
        f"ndcg@{at_k}": np.mean(all_ndcg_scores),
    }
    if documents:  # the last sample's, as in Sentence Transformers
        metrics.update({
            "base_map": np.mean(base_ap_scores),
            f"base_mrr@{at_k}": np.mean(base_mrr_scores),
            f"base_ndcg@{at_k}": np.mean(base_ndcg_scores),
        })
    return metrics


class Tracked:
    """The samples, remembering which one the evaluator's loop is at (its errors do not say)."""

    def __init__(self, items):
        self.items, self.index = items, None

    def __iter__(self):
        for self.index, item in enumerate(self.items):
            yield item


def rerank(case):
    """A whole evaluation, or {"error", "index"} where Sentence Transformers raises on samples[index]."""
    model = ReplayedModel(case.get("pairs"), case.get("scores"))
    samples = Tracked(case["samples"])
    try:
        metrics = rerank_evaluate(samples, model, case["at_k"], case["always_rerank_positives"])
    except (ValueError, TypeError) as error:
        return {"error": f"{type(error).__name__}: {error}", "index": samples.index}
    model.check_all_used()
    return metrics


def ranking(case):
    relevance = np.asarray(case["relevance"], dtype=float)
    scores = np.asarray(case["scores"], dtype=float)
    k = case["k"]
    result = {
        "ndcg": ndcg_score([relevance], [scores], k=k),
        "mrr": mrr_at_k(relevance, scores, k),
    }
    if set(relevance.tolist()) <= {0.0, 1.0}:
        result["ap"] = average_precision_score(relevance.astype(int), scores)
    return result


def threshold(case):
    scores = np.asarray(case["scores"], dtype=np.float32 if case["float32"] else np.float64)
    labels = np.asarray(case["labels"], dtype=int)
    accuracy, accuracy_threshold = find_best_acc_and_threshold(scores, labels)
    f1, precision, recall, f1_threshold = find_best_f1_and_threshold(scores, labels)
    return {
        "accuracy": float(accuracy),
        "accuracy_threshold": float(accuracy_threshold),
        "f1": float(f1),
        "precision": float(precision),
        "recall": float(recall),
        "f1_threshold": float(f1_threshold),
        "ap": float(average_precision_score(labels, scores)),
    }


def labels(case):
    y_true = np.asarray(case["y_true"], dtype=int)
    y_pred = np.asarray(case["y_pred"], dtype=int)
    result = {average: f1_score(y_true, y_pred, average=average) for average in ("macro", "micro", "weighted")}
    result["precision"] = precision_score(y_true == 1, y_pred == 1, zero_division=0)
    result["recall"] = recall_score(y_true == 1, y_pred == 1, zero_division=0)
    result["f1"] = f1_score(y_true == 1, y_pred == 1, zero_division=0)
    return result


KINDS = {"ranking": ranking, "threshold": threshold, "labels": labels, "rerank": rerank}


def main():
    cases = json.load(sys.stdin)["cases"]
    with warnings.catch_warnings():
        # scikit-learn warns on ill-defined values (no positive, no prediction) that are part of the tests.
        warnings.simplefilter("ignore")
        results = [
            {key: value if key == "error" else float(value) for key, value in KINDS[case["kind"]](case).items()}
            for case in cases
        ]
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
