// MultipleNegativesRankingLoss and CachedMultipleNegativesRankingLoss, ST v5.1
// losses/MultipleNegativesRankingLoss.py and CachedMultipleNegativesRankingLoss.py.
// In-batch negatives are drawn as ST draws them: torch.multinomial(mask.float(), num_negatives)
// without replacement from the default CPU generator (the one dropout draws from), where mask
// [B, B * C] is ~eye(B).repeat(1, C), C the candidate columns (positive + hard negatives): MNRL
// after the positives' forward, CachedMNRL before any forward. Then per anchor the scores
// [positive, drawn negatives..., hard negatives...], activation, * scale, cross-entropy with
// target 0. The batch holds every (anchor, candidate) pair tokenised (see LossBatch).
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <mutex>

#include "runtime/errors.h"
#include "training/losses/common.h"
#include "training/losses/factories.h"

namespace tce {
namespace {

at::Tensor cpu_rng_state() {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void set_cpu_rng_state(const at::Tensor& state) {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

class MultipleNegativesRanking : public Loss {
 public:
  MultipleNegativesRanking(const LossOptions& o, const std::string& name)
      : name_(name),
        num_negatives_(o.number("numNegatives")),
        scale_(o.number_or("scale", 10.0)),
        activation_(o.string_or("activationFn", "sigmoid")) {
    if (num_negatives_ && !(*num_negatives_ >= 1)) throw ArgumentError(name + ": numNegatives must be a positive integer or null");
    if (activation_ != "none") check_activation(name, activation_);
  }

 protected:
  // ST get_in_batch_negatives: for each drawn column, the flat candidate index of each anchor.
  std::vector<std::vector<int64_t>> draw_negatives(int64_t rows, int64_t columns) const {
    const auto candidates = rows * columns;
    std::vector<std::vector<int64_t>> picked;
    if (num_negatives_ && *num_negatives_ < static_cast<double>(candidates)) {
      const auto n = static_cast<int64_t>(*num_negatives_);
      if (n > (rows - 1) * columns) {
        // torch.multinomial (without replacement) cannot draw them: Sentence Transformers fails too.
        throw ArgumentError("MultipleNegativesRankingLoss: a batch of " + std::to_string(rows) + " row(s) with " + std::to_string(columns) +
                            " candidate column(s) has " + std::to_string((rows - 1) * columns) +
                            " in-batch negatives per query, fewer than numNegatives " + std::to_string(n) +
                            " (but more than none): lower numNegatives, or set dataloaderDropLast for a short last batch");
      }
      const auto mask = at::eye(rows, at::TensorOptions().dtype(at::kBool)).logical_not().repeat({1, columns});
      const auto drawn = at::multinomial(mask.to(at::kFloat), n).contiguous();  // [rows, n], int64
      const auto* data = drawn.data_ptr<int64_t>();
      for (int64_t k = 0; k < n; ++k) {
        std::vector<int64_t> column;
        for (int64_t i = 0; i < rows; ++i) column.push_back(data[i * n + k]);
        picked.push_back(std::move(column));
      }
      return picked;
    }
    // Every candidate of the other rows, in order. ST builds this with a mask that only has the
    // right shape for one column (C = 1; its indexing fails with hard negatives); this is what
    // that code computes for C = 1 and means for more.
    for (int64_t j = 0; j < candidates - columns; ++j) picked.emplace_back();
    for (int64_t i = 0; i < rows; ++i) {
      int64_t slot = 0;
      for (int64_t j = 0; j < candidates; ++j) {
        if (j % rows != i) picked[static_cast<size_t>(slot++)].push_back(j);
      }
    }
    return picked;
  }

  // The flat pair index (into batch.candidates) of anchor i with candidate j.
  static int64_t pair_index(const LossBatch& batch, int64_t i, int64_t j) { return i * batch.rows * batch.columns + j; }

  // Pair indices of each forward of ST's order: positives, in-batch negative columns, hard negatives.
  std::vector<std::vector<int64_t>> score_columns(const LossBatch& batch, const std::vector<std::vector<int64_t>>& negatives) const {
    std::vector<std::vector<int64_t>> columns;
    const auto column_of = [&](const std::function<int64_t(int64_t)>& candidate) {
      std::vector<int64_t> pairs;
      for (int64_t i = 0; i < batch.rows; ++i) pairs.push_back(pair_index(batch, i, candidate(i)));
      return pairs;
    };
    columns.push_back(column_of([](int64_t i) { return i; }));
    for (const auto& drawn : negatives) columns.push_back(column_of([&](int64_t i) { return drawn[static_cast<size_t>(i)]; }));
    for (int64_t h = 1; h < batch.columns; ++h) columns.push_back(column_of([&](int64_t i) { return h * batch.rows + i; }));
    return columns;
  }

  void check(const LossBatch& batch) const {
    if (batch.rows < 1 || batch.columns < 1 || batch.candidates.count != batch.rows * batch.rows * batch.columns) {
      throw ArgumentError(name_ + ": the batch must hold rows * rows * columns candidate pairs");
    }
  }

  // ST calculate_loss: scores [columns of B] -> [B, columns], activation, scale, CE with target 0.
  at::Tensor calculate_loss(const std::vector<at::Tensor>& scores, int64_t rows) const {
    auto logits = at::cat(scores, 0).reshape({-1, rows}).t();
    if (activation_ != "none") logits = activate(activation_, logits);
    if (scale_ != 0.0) logits = logits * scale_;
    const auto labels = at::zeros({rows}, at::TensorOptions().dtype(at::kLong));
    return at::cross_entropy_loss(logits, labels);
  }

  std::string name_;
  std::optional<double> num_negatives_;
  double scale_;
  std::string activation_;
};

class Uncached : public MultipleNegativesRanking {
 public:
  explicit Uncached(const LossOptions& o) : MultipleNegativesRanking(o, "MultipleNegativesRankingLoss") {}

  LossValue compute(const LossBatch& batch, const Forward& forward) override {
    check(batch);
    auto tokens = std::make_shared<std::vector<CollatedPairs>>();
    const auto score = [&](const std::vector<int64_t>& pairs) {
      tokens->push_back(collate_pairs(batch.candidates, pairs, batch.pad_token_id));
      return forward(tokens->back().batch).squeeze(1);
    };
    std::vector<at::Tensor> scores;
    scores.push_back(score(score_columns(batch, {})[0]));
    // The generator ST iterates draws its negatives after the positives' forward.
    const auto negatives = draw_negatives(batch.rows, batch.columns);
    const auto columns = score_columns(batch, negatives);
    for (size_t c = 1; c < columns.size(); ++c) scores.push_back(score(columns[c]));
    return {calculate_loss(scores, batch.rows), {}, tokens};
  }
};

// GradCache: (1) every pair through the model without a graph, in mini-batches, the CPU RNG state
// saved before each; (2) the loss on those logits, backward to them, their gradients cached;
// (3) on backward, each mini-batch again with its saved RNG state (the same dropout masks) and
// the graph, back-propagating logits . cached gradient * scale; the RNG state is then put back as
// it was before (3), as torch.random.fork_rng does in ST.
class Cached : public MultipleNegativesRanking {
 public:
  explicit Cached(const LossOptions& o)
      : MultipleNegativesRanking(o, "CachedMultipleNegativesRankingLoss"), mini_batch_size_(o.number_or("miniBatchSize", 32)) {
    if (!(mini_batch_size_ >= 1)) throw ArgumentError("CachedMultipleNegativesRankingLoss: miniBatchSize must be a positive integer");
  }

  LossValue compute(const LossBatch& batch, const Forward& forward) override {
    check(batch);
    const auto negatives = draw_negatives(batch.rows, batch.columns);
    std::vector<int64_t> pairs;
    for (const auto& column : score_columns(batch, negatives)) pairs.insert(pairs.end(), column.begin(), column.end());
    const auto size = static_cast<size_t>(mini_batch_size_);
    auto minis = std::make_shared<std::vector<std::vector<int64_t>>>();
    for (size_t start = 0; start < pairs.size(); start += size) {
      minis->emplace_back(pairs.begin() + static_cast<std::ptrdiff_t>(start),
                          pairs.begin() + static_cast<std::ptrdiff_t>(std::min(pairs.size(), start + size)));
    }
    auto states = std::make_shared<std::vector<at::Tensor>>();
    std::vector<at::Tensor> logits;
    for (const auto& mini : *minis) {
      states->push_back(cpu_rng_state());
      at::Tensor out;
      {
        at::NoGradGuard no_grad;
        out = forward(collate_pairs(batch.candidates, mini, batch.pad_token_id).batch).squeeze(1);
      }
      logits.push_back(at::GradMode::is_enabled() ? out.detach().requires_grad_() : out);
    }
    if (!at::GradMode::is_enabled()) return {calculate_loss(logits, batch.rows), {}};
    auto loss = calculate_loss(logits, batch.rows);
    loss.backward();
    auto cache = std::make_shared<std::vector<at::Tensor>>();
    for (const auto& l : logits) cache->push_back(l.grad());
    const auto value = loss.detach();
    const auto candidates = batch.candidates;
    const auto pad = batch.pad_token_id;
    return {value, [=](double scale) {
              const auto resume = cpu_rng_state();
              for (size_t i = 0; i < minis->size(); ++i) {
                set_cpu_rng_state((*states)[i]);
                const auto tokens = collate_pairs(candidates, (*minis)[i], pad);  // alive through backward
                const auto out = forward(tokens.batch).squeeze(1);
                auto surrogate = at::dot(out.flatten(), (*cache)[i].flatten());
                if (scale != 1.0) surrogate = surrogate * scale;
                surrogate.backward();
              }
              set_cpu_rng_state(resume);
            }};
  }

 private:
  double mini_batch_size_;
};

}  // namespace

std::unique_ptr<Loss> make_mnrl(const LossOptions& options, int64_t num_labels) {
  if (num_labels != 1) throw ArgumentError("MultipleNegativesRankingLoss needs a model with one label, this one has " + std::to_string(num_labels));
  return std::make_unique<Uncached>(options);
}

std::unique_ptr<Loss> make_cached_mnrl(const LossOptions& options, int64_t num_labels) {
  if (num_labels != 1) {
    throw ArgumentError("CachedMultipleNegativesRankingLoss needs a model with one label, this one has " + std::to_string(num_labels));
  }
  return std::make_unique<Cached>(options);
}

}  // namespace tce
