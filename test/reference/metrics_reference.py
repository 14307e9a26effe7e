"""Reference values for lib/evaluation/metrics.ts, computed the way Sentence Transformers does.

Reads {"cases": [...]} as JSON on stdin and writes {"results": [...]} (one object per case) to
stdout. Run by test/evaluation.test.ts with /usr/bin/python3 (Debian's python3-sklearn).

Case kinds:
  ranking    {relevance, scores, k}      -> ap (binary relevance only), ndcg, mrr
  threshold  {scores, labels, float32}   -> accuracy/F1 threshold search and average precision
  labels     {y_true, y_pred}            -> f1 macro/micro/weighted, binary precision/recall/f1
  rerank     {samples, scores, at_k, always_rerank_positives}
                                         -> the metrics dict of CrossEncoderRerankingEvaluator, with
                                            the model replaced by the score table {"query|doc": score}

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


def rerank(case):
    """CrossEncoderRerankingEvaluator.__call__, logging and CSV left out."""
    at_k = case["at_k"]
    table = case["scores"]
    base, reranked = [], []
    documents = None
    for instance in case["samples"]:
        query = instance["query"]
        positive = instance["positive"]
        if isinstance(positive, str):
            positive = [positive]
        negative = instance.get("negative", None)
        documents = instance.get("documents", None)
        if documents:
            base_is_relevant = [int(sample in positive) for sample in documents]
            if sum(base_is_relevant) == 0:
                base.append((0, 0, 0))
            else:
                base_is_relevant += [1] * (len(positive) - sum(base_is_relevant))
                base_pred_scores = np.array(range(len(base_is_relevant), 0, -1))
                base.append(compute_metrics(base_is_relevant, base_pred_scores, at_k))
            if case["always_rerank_positives"]:
                docs = positive + [doc for doc in documents if doc not in positive]
                is_relevant = [1] * len(positive) + [0] * (len(docs) - len(positive))
            else:
                docs = documents
                is_relevant = [int(sample in positive) for sample in documents]
        else:
            docs = positive + negative
            is_relevant = [1] * len(positive) + [0] * len(negative)
        if sum(is_relevant) == 0:
            reranked.append((0, 0, 0))
            continue
        pred_scores = np.array([table[query + "|" + doc] for doc in docs], dtype=np.float32)
        reranked.append(compute_metrics(is_relevant, pred_scores, at_k))

    def summary(rows, prefix):
        mrr, ndcg, ap = (np.mean([row[i] for row in rows]) for i in range(3))
        return {prefix + "map": ap, f"{prefix}mrr@{at_k}": mrr, f"{prefix}ndcg@{at_k}": ndcg}

    metrics = summary(reranked, "")
    if documents:
        metrics.update(summary(base, "base_"))
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
        results = [{key: float(value) for key, value in KINDS[case["kind"]](case).items()} for case in cases]
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
