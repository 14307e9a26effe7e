// Data-parallel training over libtorch's own torch.distributed: a c10d ProcessGroupGloo over a
// TCPStore rendezvous, as torch.distributed.init_process_group("gloo", init_method="env://")
// builds it. Every collective is flattened into one tensor, waits at most the group's timeout,
// and fails with ERR_DISTRIBUTED naming what it was doing, so a rank that died or hangs stops
// the others with a message instead of a hang. No c10d header leaks from here (they need
// USE_C10D_GLOO and libgloo-dev): callers see tensors only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

namespace tce {

inline constexpr const char* kDistributed = "ERR_DISTRIBUTED";

struct ProcessGroupOptions {
  std::string master_addr;  // MASTER_ADDR: where rank 0 serves the TCPStore
  int master_port = 0;      // MASTER_PORT
  int rank = 0;             // RANK
  int world_size = 1;       // WORLD_SIZE
  // Rendezvous and every collective: how long a rank waits for the others.
  std::chrono::milliseconds timeout{std::chrono::minutes(30)};
  // GLOO_SOCKET_IFNAME when set (the network interface gloo binds), else the hostname's address.
  std::string interface;
};

class ProcessGroup {
 public:
  // Rendezvous: rank 0 serves the store, every rank connects; returns once all world_size ranks
  // are in (or throws ERR_DISTRIBUTED after the timeout).
  explicit ProcessGroup(const ProcessGroupOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }
  std::chrono::milliseconds timeout() const { return options_.timeout; }

  // Copies root's values into `tensors` on every rank (one flattened broadcast).
  void broadcast(const std::vector<at::Tensor>& tensors, int root, const std::string& what);
  // Sums `flat` (contiguous) over the ranks, in place.
  void all_reduce_sum(at::Tensor& flat, const std::string& what);
  // The largest value over the ranks, in place (flags: "any rank wants to stop").
  void all_reduce_max(at::Tensor& flat, const std::string& what);
  // Every rank's `tensor` (same shape and dtype on all), in rank order.
  std::vector<at::Tensor> all_gather(const at::Tensor& tensor, const std::string& what);
  void barrier(const std::string& what);

  // Closes the connections; later collectives throw. Peers blocked on this rank fail at once.
  void close();
  bool closed() const { return closed_; }

 private:
  struct Impl;
  void run(const std::string& what, const std::function<void()>& body);

  ProcessGroupOptions options_;
  std::unique_ptr<Impl> impl_;
  bool closed_ = false;
};

// Averages the gradients of `parameters` over the ranks as DistributedDataParallel does (each
// divided by the world size, then summed by one all-reduce) and returns the mean of `loss` over
// the ranks, carried in the same collective. A parameter without a gradient takes part with zeros.
double average_gradients(ProcessGroup& group, const std::vector<at::Tensor>& parameters, double loss,
                         const std::string& what);

// The default CPU generator (dropout masks) of every rank, gathered; rank 0 writes rank r's
// (r >= 1) to `dir`/rng_state_<r>.safetensors, as transformers saves rng_state_<r>.pth.
// Collective: every rank calls it at the same point; only rank 0's `dir` is used.
void save_rng_states(ProcessGroup& group, const std::string& dir);
// Rank r >= 1 restores its generator from `dir`/rng_state_<r>.safetensors (rank 0's is in the
// trainer's own rng_state.safetensors). Not collective.
void load_rng_state(const ProcessGroup& group, const std::string& dir);

}  // namespace tce
