#include "distributed/process_group.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <c10/util/Exception.h>

#ifndef USE_C10D_GLOO
#error "native/distributed needs c10d's gloo backend: compile with -DUSE_C10D_GLOO and the gloo headers (Debian: apt-get install libgloo-dev; scripts/install.mjs does it)"
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "formats/safetensors.h"
#include "formats/weights_file.h"
#include "runtime/errors.h"

namespace tce {
namespace {

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string seconds(std::chrono::milliseconds timeout) {
  const double s = static_cast<double>(timeout.count()) / 1000.0;
  std::string text = std::to_string(s);
  text.erase(text.find_last_not_of('0') + 1);
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text + " s";
}

std::string rng_file(const std::string& dir, int rank) {
  return dir + "/rng_state_" + std::to_string(rank) + ".safetensors";
}

}  // namespace

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
};

ProcessGroup::ProcessGroup(const ProcessGroupOptions& options) : options_(options) {
  if (options_.world_size < 1) throw ArgumentError("distributed: WORLD_SIZE must be >= 1");
  if (options_.rank < 0 || options_.rank >= options_.world_size) {
    throw ArgumentError("distributed: RANK must be in [0, WORLD_SIZE), got " + std::to_string(options_.rank) +
                        " with WORLD_SIZE " + std::to_string(options_.world_size));
  }
  if (options_.master_port < 1 || options_.master_port > 65535) throw ArgumentError("distributed: MASTER_PORT must be in [1, 65535]");
  if (options_.master_addr.empty()) throw ArgumentError("distributed: MASTER_ADDR must not be empty");
  if (options_.timeout.count() <= 0) throw ArgumentError("distributed: the timeout must be > 0");
  impl_ = std::make_unique<Impl>();
  const std::string where = options_.master_addr + ":" + std::to_string(options_.master_port);
  run("the rendezvous at " + where + " (MASTER_ADDR:MASTER_PORT; rank 0 serves it, every rank must reach it within " +
          seconds(options_.timeout) + ")",
      [&] {
        c10d::TCPStoreOptions store_options;
        store_options.port = static_cast<std::uint16_t>(options_.master_port);
        store_options.isServer = options_.rank == 0;
        store_options.numWorkers = static_cast<std::size_t>(options_.world_size);
        store_options.waitWorkers = true;
        store_options.timeout = options_.timeout;
        impl_->store = c10::make_intrusive<c10d::TCPStore>(options_.master_addr, store_options);
        auto gloo_options = c10d::ProcessGroupGloo::Options::create(options_.timeout);
        if (!options_.interface.empty()) {
          gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(options_.interface));
        } else if (is_loopback(options_.master_addr)) {
          // Every rank is on this machine (the master is): talk over loopback whatever the hostname resolves to.
          gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
        } else {
          gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
        }
        gloo_options->threads = 2;
        impl_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, options_.rank, options_.world_size, gloo_options);
      });
}

ProcessGroup::~ProcessGroup() {
  try {
    close();
  } catch (...) {
  }
}

void ProcessGroup::close() {
  closed_ = true;
  if (!impl_) return;
  impl_->gloo.reset();
  impl_->store.reset();
  impl_.reset();
}

void ProcessGroup::run(const std::string& what, const std::function<void()>& body) {
  const std::string who = "distributed training, rank " + std::to_string(options_.rank) + " of " + std::to_string(options_.world_size);
  if (!impl_) {
    throw Error(kDistributed, who + ": " + what + ": the process group is closed");
  }
  try {
    body();
  } catch (const c10::Error& e) {
    std::string message = e.what_without_backtrace();
    const bool timed_out = message.find("imed out") != std::string::npos || message.find("imeout") != std::string::npos;
    const bool lost = message.find("losed by peer") != std::string::npos || message.find("onnection reset") != std::string::npos ||
                      message.find("roken pipe") != std::string::npos;
    std::string why;
    if (timed_out) {
      why = " (no answer within the " + seconds(options_.timeout) + " timeout: another rank failed, is stuck, or is not running)";
    } else if (lost) {
      why = " (another rank stopped: its own error says why)";
    }
    throw Error(kDistributed, who + ": " + what + " failed" + why + ": " + message);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(kDistributed, who + ": " + what + " failed: " + e.what());
  }
}

void ProcessGroup::broadcast(const std::vector<at::Tensor>& tensors, int root, const std::string& what) {
  if (tensors.empty()) return;
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> pieces;
  pieces.reserve(tensors.size());
  for (const auto& t : tensors) pieces.push_back(t.detach().reshape(-1));
  std::vector<at::Tensor> flat{at::cat(pieces)};
  run(what, [&] {
    c10d::BroadcastOptions options;
    options.rootRank = root;
    options.timeout = options_.timeout;
    auto work = impl_->gloo->broadcast(flat, options);
    work->wait(options_.timeout);
  });
  int64_t offset = 0;
  for (const auto& t : tensors) {
    const auto n = t.numel();
    t.detach().copy_(flat[0].narrow(0, offset, n).view(t.sizes()));
    offset += n;
  }
}

void ProcessGroup::all_reduce_sum(at::Tensor& flat, const std::string& what) {
  run(what, [&] {
    std::vector<at::Tensor> tensors{flat};
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::SUM;
    options.timeout = options_.timeout;
    impl_->gloo->allreduce(tensors, options)->wait(options_.timeout);
  });
}

void ProcessGroup::all_reduce_max(at::Tensor& flat, const std::string& what) {
  run(what, [&] {
    std::vector<at::Tensor> tensors{flat};
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::MAX;
    options.timeout = options_.timeout;
    impl_->gloo->allreduce(tensors, options)->wait(options_.timeout);
  });
}

std::vector<at::Tensor> ProcessGroup::all_gather(const at::Tensor& tensor, const std::string& what) {
  std::vector<at::Tensor> inputs{tensor.contiguous()};
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int r = 0; r < options_.world_size; ++r) outputs[0].push_back(at::empty_like(inputs[0]));
  run(what, [&] {
    c10d::AllgatherOptions options;
    options.timeout = options_.timeout;
    impl_->gloo->allgather(outputs, inputs, options)->wait(options_.timeout);
  });
  return outputs[0];
}

void ProcessGroup::barrier(const std::string& what) {
  run(what, [&] {
    c10d::BarrierOptions options;
    options.timeout = options_.timeout;
    impl_->gloo->barrier(options)->wait(options_.timeout);
  });
}

double average_gradients(ProcessGroup& group, const std::vector<at::Tensor>& parameters, double loss, const std::string& what) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> pieces;
  pieces.reserve(parameters.size() + 1);
  for (const auto& p : parameters) {
    const auto& grad = p.grad();
    pieces.push_back(grad.defined() ? grad.reshape(-1) : at::zeros({p.numel()}, p.options()));
  }
  const auto dtype = pieces.empty() ? at::kFloat : pieces.front().scalar_type();
  pieces.push_back(at::full({1}, loss, at::TensorOptions().dtype(dtype)));
  // DDP's reducer: every gradient divided by the world size, then summed over the ranks
  // (gloo has no AVG). Dividing by a power of two is exact, so for 2 ranks this is (a + b) / 2.
  auto flat = at::cat(pieces);
  flat.div_(static_cast<double>(group.world_size()));
  group.all_reduce_sum(flat, what);
  int64_t offset = 0;
  for (const auto& p : parameters) {
    const auto n = p.numel();
    auto averaged = flat.narrow(0, offset, n).view(p.sizes());
    if (p.grad().defined()) {
      p.mutable_grad().copy_(averaged);
    } else {
      p.mutable_grad() = averaged.clone();
    }
    offset += n;
  }
  return flat[offset].item<double>();
}

void save_rng_states(ProcessGroup& group, const std::string& dir) {
  auto generator = at::detail::getDefaultCPUGenerator();
  at::Tensor state;
  {
    std::lock_guard<std::mutex> lock(generator.mutex());
    state = generator.get_state();
  }
  const auto states = group.all_gather(state, "gathering every rank's RNG state for a checkpoint");
  if (group.rank() != 0) return;
  for (int r = 1; r < group.world_size(); ++r) write_safetensors(rng_file(dir, r), {{"cpu", states[r]}}, {});
}

void load_rng_state(const ProcessGroup& group, const std::string& dir) {
  if (group.rank() == 0) return;
  const auto file = rng_file(dir, group.rank());
  NamedTensors tensors;
  try {
    tensors = read_weights(file);
  } catch (const Error& e) {
    throw Error(kDistributed, "distributed training, rank " + std::to_string(group.rank()) + ": cannot resume from " + dir +
                                  ": " + e.what() + " (was the checkpoint saved by a run with as many processes as this one?)");
  }
  if (tensors.size() != 1 || tensors[0].first != "cpu" || tensors[0].second.scalar_type() != at::kByte) {
    throw FormatError(file + ": expected one U8 tensor named 'cpu'");
  }
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(tensors[0].second);
}

}  // namespace tce
