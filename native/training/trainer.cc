#include "training/trainer.h"

#include <cmath>
#include <limits>
#include <mutex>
#include <unordered_map>

#include <ATen/CPUGeneratorImpl.h>

#include "distributed/process_group.h"
#include "formats/safetensors.h"
#include "formats/weights_file.h"
#include "models/model_handle.h"
#include "runtime/cancellation.h"
#include "runtime/errors.h"

namespace tce {
namespace {

// The key torch::optim keys parameter state by.
std::string state_key(const torch::Tensor& parameter) {
  return c10::guts::to_string(parameter.unsafeGetTensorImpl());
}

const char* kOptimizerFile = "optimizer.safetensors";
const char* kRngFile = "rng_state.safetensors";

}  // namespace

void TrainerOptions::validate() const {
  if (!(learning_rate > 0.0) || !std::isfinite(learning_rate)) throw ArgumentError("learningRate must be > 0");
  if (!(weight_decay >= 0.0)) throw ArgumentError("weightDecay must be >= 0");
  if (!(adam_beta1 >= 0.0 && adam_beta1 < 1.0)) throw ArgumentError("adamBeta1 must be in [0, 1)");
  if (!(adam_beta2 >= 0.0 && adam_beta2 < 1.0)) throw ArgumentError("adamBeta2 must be in [0, 1)");
  if (!(adam_epsilon > 0.0)) throw ArgumentError("adamEpsilon must be > 0");
  if (!(max_grad_norm >= 0.0)) throw ArgumentError("maxGradNorm must be >= 0");
  if (losses.empty()) throw ArgumentError("a trainer needs at least one loss");
  schedule.validate();
}

Trainer::Trainer(std::shared_ptr<ModelHandle> handle, TrainerOptions options)
    : handle_(std::move(handle)), options_(std::move(options)) {
  options_.validate();
  for (const auto& loss : options_.losses) losses_.push_back(make_loss(loss, handle_->shape.num_labels));
  std::vector<torch::Tensor> decay, no_decay;
  const auto skip_decay = handle_->live().no_decay_parameters();
  for (const auto& item : handle_->live().named_parameters(true)) {
    parameters_.emplace_back(item.key(), item.value());
    (skip_decay.count(item.key()) ? no_decay : decay).push_back(item.value());
  }
  auto defaults = torch::optim::AdamWOptions(options_.learning_rate)
                      .betas({options_.adam_beta1, options_.adam_beta2})
                      .eps(options_.adam_epsilon)
                      .weight_decay(options_.weight_decay);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(defaults));
  auto no_decay_options = std::make_unique<torch::optim::AdamWOptions>(defaults);
  no_decay_options->weight_decay(0.0);
  groups.emplace_back(no_decay, std::move(no_decay_options));
  optimizer_ = std::make_unique<torch::optim::AdamW>(groups, defaults);
  // transformers.Trainer calls set_seed(args.seed) before training: dropout masks follow it.
  torch::manual_seed(options_.seed);
}

SequenceClassifier& Trainer::model() {
  if (!optimizer_) throw Error(kDisposed, "the trainer's model was disposed: its native memory is released");
  return handle_->live();
}

void Trainer::release() {
  optimizer_.reset();
  parameters_.clear();
}

LossValue Trainer::loss_of(const LossBatch& batch) {
  auto& model = this->model();
  const Forward forward = [&model](const TokenBatch& tokens) { return model.forward(tokens.to_tensors(model.shape())); };
  if (batch.loss_index < 0 || batch.loss_index >= static_cast<int64_t>(losses_.size())) {
    throw ArgumentError("batch.lossIndex " + std::to_string(batch.loss_index) + " names no loss of this trainer (it has " +
                        std::to_string(losses_.size()) + ")");
  }
  return losses_[static_cast<size_t>(batch.loss_index)]->compute(batch, forward);
}

void Trainer::set_learning_rate(double lr) {
  for (auto& group : optimizer_->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

StepResult Trainer::step(const std::vector<LossBatch>& micro_batches) {
  if (micro_batches.empty()) throw ArgumentError("a training step needs at least one batch");
  std::unique_lock<std::shared_mutex> lock(handle_->mutex);
  auto& model = this->model();
  model.train();
  // Back to eval mode (and no gradients kept alive) whatever happens, so predict stays right.
  struct Restore {
    SequenceClassifier& model;
    ~Restore() {
      for (auto& parameter : model.parameters()) parameter.mutable_grad() = torch::Tensor();
      model.eval();
    }
  } restore{model};

  StepResult result;
  const double scale = 1.0 / static_cast<double>(micro_batches.size());
  for (const auto& batch : micro_batches) {
    throw_if_cancelled();
    auto loss = loss_of(batch);
    const double factor = micro_batches.size() > 1 ? scale : 1.0;
    if (loss.backward) {
      loss.backward(factor);
      result.loss += (micro_batches.size() > 1 ? loss.value * scale : loss.value).item<double>();
    } else {
      auto scaled = micro_batches.size() > 1 ? loss.value * scale : loss.value;
      scaled.backward();
      result.loss += scaled.item<double>();
    }
  }
  if (group_) {
    // DistributedDataParallel's all-reduce, before clipping: every rank clips and steps the same
    // averaged gradient. transformers logs the loss averaged over the ranks too.
    result.loss = average_gradients(*group_, model.parameters(), result.loss,
                                    "the gradient all-reduce of step " + std::to_string(steps_taken_ + 1));
  }
  if (options_.max_grad_norm > 0) {
    result.grad_norm = torch::nn::utils::clip_grad_norm_(model.parameters(), options_.max_grad_norm);
  } else {
    result.grad_norm = std::numeric_limits<double>::quiet_NaN();
  }
  set_learning_rate(options_.learning_rate * options_.schedule.factor(steps_taken_));
  optimizer_->step();
  ++steps_taken_;
  result.learning_rate = options_.learning_rate * options_.schedule.factor(steps_taken_);
  return result;
}

void Trainer::draw_loader_seed() {
  // torch.empty((), dtype=torch.int64).random_() in _BaseDataLoaderIter.__init__
  torch::empty({}, torch::kLong).random_();
}

double Trainer::eval_loss(const LossBatch& batch) {
  c10::InferenceMode inference;
  std::shared_lock<std::shared_mutex> lock(handle_->mutex);
  return loss_of(batch).value.item<double>();
}

void Trainer::save_state(const std::string& dir) {
  std::shared_lock<std::shared_mutex> lock(handle_->mutex);
  model();  // throws once disposed
  NamedTensors moments;
  auto& state = optimizer_->state();
  for (const auto& [name, parameter] : parameters_) {
    const auto found = state.find(state_key(parameter));
    if (found == state.end()) continue;
    const auto& adam = static_cast<const torch::optim::AdamWParamState&>(*found->second);
    moments.emplace_back(name + ".exp_avg", adam.exp_avg().clone());
    moments.emplace_back(name + ".exp_avg_sq", adam.exp_avg_sq().clone());
    moments.emplace_back(name + ".step", torch::full({}, adam.step(), torch::kLong));
  }
  write_safetensors(dir + "/" + kOptimizerFile, moments, {{"format", "torch-crossencoder-adamw"}});
  auto generator = at::detail::getDefaultCPUGenerator();
  at::Tensor rng;
  {
    std::lock_guard<std::mutex> generator_lock(generator.mutex());
    rng = generator.get_state();
  }
  write_safetensors(dir + "/" + kRngFile, {{"cpu", rng}}, {});
}

void Trainer::load_state(const std::string& dir) {
  const auto moments = read_weights(dir + "/" + kOptimizerFile);
  const auto rng = read_weights(dir + "/" + kRngFile);
  std::unique_lock<std::shared_mutex> lock(handle_->mutex);
  model();  // throws once disposed
  std::unordered_map<std::string, torch::Tensor> by_name(moments.begin(), moments.end());
  auto& state = optimizer_->state();
  for (const auto& [name, parameter] : parameters_) {
    const auto avg = by_name.find(name + ".exp_avg");
    const auto avg_sq = by_name.find(name + ".exp_avg_sq");
    const auto step = by_name.find(name + ".step");
    if (avg == by_name.end() || avg_sq == by_name.end() || step == by_name.end()) {
      throw FormatError(dir + "/" + kOptimizerFile + ": no optimiser state for '" + name + "'");
    }
    if (avg->second.sizes() != parameter.sizes() || avg_sq->second.sizes() != parameter.sizes()) {
      throw FormatError(dir + "/" + kOptimizerFile + ": optimiser state of '" + name + "' has the wrong shape");
    }
    auto adam = std::make_unique<torch::optim::AdamWParamState>();
    adam->step(step->second.item<int64_t>());
    adam->exp_avg(avg->second.clone());
    adam->exp_avg_sq(avg_sq->second.clone());
    state[state_key(parameter)] = std::move(adam);
  }
  if (rng.size() != 1 || rng[0].first != "cpu" || rng[0].second.scalar_type() != torch::kByte) {
    throw FormatError(dir + "/" + kRngFile + ": expected one U8 tensor named 'cpu'");
  }
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> generator_lock(generator.mutex());
  generator.set_state(rng[0].second);
  // Every parameter took every step: any one's count is the number of optimiser steps taken.
  steps_taken_ = parameters_.empty() ? 0 : by_name.at(parameters_.front().first + ".step").item<int64_t>();
}

std::vector<int64_t> seeded_randperm(int64_t n, uint64_t seed) { return seeded_randperms({n}, seed); }

std::vector<int64_t> seeded_randperms(const std::vector<int64_t>& sizes, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<int64_t> out;
  for (const auto n : sizes) {
    const auto perm = torch::randperm(n, generator, torch::kLong);
    out.insert(out.end(), perm.data_ptr<int64_t>(), perm.data_ptr<int64_t>() + n);
  }
  return out;
}

}  // namespace tce
