// One optimiser step as transformers' Trainer takes it: forward in train mode, loss scaled by
// gradient accumulation, backward, global-norm clipping, AdamW, then the schedule. The loop
// around it (epochs, sampling, logging, checkpoints) lives in lib/training/trainer.ts.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/sequence_classifier.h"
#include "training/labelled_batch.h"
#include "training/losses/loss.h"
#include "training/lr_schedule.h"

namespace tce {

struct ModelHandle;
class ProcessGroup;

struct TrainerOptions {
  // Every field is set from JS: lib/training/ resolves Hugging Face's defaults, the one place
  // they live.
  // One loss per training dataset (multi-dataset training); a batch names its loss_index.
  std::vector<LossOptions> losses;
  double learning_rate = 0;
  double weight_decay = 0;
  double adam_beta1 = 0;
  double adam_beta2 = 0;
  double adam_epsilon = 0;
  double max_grad_norm = 0;  // 0 disables clipping
  LrSchedule schedule;
  int64_t seed = 0;

  void validate() const;
};

struct StepResult {
  double loss = 0;           // sum over micro-batches of loss / accumulation = their mean
  double grad_norm = 0;      // total L2 norm before clipping (NaN when clipping is off)
  double learning_rate = 0;  // the rate after the schedule stepped, as the Trainer logs it
};

class Trainer {
 public:
  Trainer(std::shared_ptr<ModelHandle> handle, TrainerOptions options);

  StepResult step(const std::vector<LossBatch>& micro_batches);
  // torch's DataLoader draws a base seed from the global generator each time it is iterated
  // (every epoch, every evaluation); the draw shifts every dropout mask after it.
  void draw_loader_seed();
  double eval_loss(const LossBatch& batch);

  // Optimiser moments and step counts by parameter name, and the CPU RNG state (dropout).
  void save_state(const std::string& dir);
  void load_state(const std::string& dir);

  int64_t steps_taken() const { return steps_taken_; }

  // Data-parallel training (native/distributed): each step averages the gradients (and the
  // reported loss) over the group's ranks between backward and clipping. Empty: one process.
  void set_process_group(std::shared_ptr<ProcessGroup> group) { group_ = std::move(group); }

  // Drops the optimiser state and parameter references (the model is being disposed); later
  // calls throw ERR_DISPOSED. Call with the model's lock held exclusively.
  void release();

 private:
  // The model, checked live. Call with the model's lock held.
  SequenceClassifier& model();
  LossValue loss_of(const LossBatch& batch);
  void set_learning_rate(double lr);

  std::shared_ptr<ModelHandle> handle_;
  TrainerOptions options_;
  std::vector<std::pair<std::string, torch::Tensor>> parameters_;
  std::vector<std::unique_ptr<Loss>> losses_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  int64_t steps_taken_ = 0;
  std::shared_ptr<ProcessGroup> group_;
};

// torch.randperm(n, generator=torch.Generator().manual_seed(seed)), as Sentence Transformers'
// sampler draws each epoch's order.
std::vector<int64_t> seeded_randperm(int64_t n, uint64_t seed);
// torch.randperm(n_1, generator), torch.randperm(n_2, generator), ... from one such generator,
// concatenated: the draws of samplers sharing a generator (multi-dataset batch samplers).
std::vector<int64_t> seeded_randperms(const std::vector<int64_t>& sizes, uint64_t seed);

}  // namespace tce
