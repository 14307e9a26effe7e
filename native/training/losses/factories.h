// The factory of each loss, defined in its family's file and listed in registry.cc.
#pragma once

#include <cstdint>
#include <memory>

#include "training/losses/loss.h"

namespace tce {

std::unique_ptr<Loss> make_binary_cross_entropy(const LossOptions& options, int64_t num_labels);  // pointwise.cc
std::unique_ptr<Loss> make_cross_entropy(const LossOptions& options, int64_t num_labels);         // pointwise.cc
std::unique_ptr<Loss> make_mse(const LossOptions& options, int64_t num_labels);                   // pointwise.cc
std::unique_ptr<Loss> make_margin_mse(const LossOptions& options, int64_t num_labels);            // pointwise.cc
std::unique_ptr<Loss> make_lambda_loss(const LossOptions& options, int64_t num_labels);           // lambda_loss.cc
std::unique_ptr<Loss> make_adr_mse(const LossOptions& options, int64_t num_labels);               // adr_mse.cc
std::unique_ptr<Loss> make_list_net(const LossOptions& options, int64_t num_labels);              // list_net.cc
std::unique_ptr<Loss> make_plist_mle(const LossOptions& options, int64_t num_labels);             // plist_mle.cc
std::unique_ptr<Loss> make_mnrl(const LossOptions& options, int64_t num_labels);                  // mnrl.cc
std::unique_ptr<Loss> make_cached_mnrl(const LossOptions& options, int64_t num_labels);           // mnrl.cc

}  // namespace tce
