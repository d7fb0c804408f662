// RankGroup: the ranks this process runs, connected into one CP group.
//
// In-process mode (no store): world_size ranks, rank 0 the leader on the
// caller's thread, ranks 1..N-1 on follower threads serving StepPlans; all
// connect over loopback Gloo through an in-process store. Multi-process mode
// (a store spec): only this process's rank; the others are `ringlm worker`
// processes. N = 1 uses SelfComm and no thread.
//
// Start() also calibrates the CP policy collectively: attention FLOP/s on the
// leader's backend and the ring's link bandwidth.
//
// In multi-process mode a LeaderHeartbeat keeps the idle leader audible, so
// worker processes can leave a group whose leader vanished; follower threads
// of an in-process group wait for their leader without a timeout.
//
// Threads: leader() is used by one thread at a time (the engine serialises
// requests) besides the heartbeat's. Destruction shuts the followers down and
// joins them.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "backend/backend.h"
#include "comm/comm.h"
#include "comm/gloo/gloo_store.h"
#include "kv/kv_store.h"
#include "model/llama_model.h"
#include "runtime/engine_options.h"
#include "runtime/leader_heartbeat.h"
#include "runtime/rank_executor.h"

namespace ringlm {

struct RankLocal {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<KvStore> kv;
  std::unique_ptr<Comm> comm;       // control plane (and ring, without data_comm)
  std::unique_ptr<Comm> data_comm;  // NcclComm between GPU ranks, when enabled
  std::unique_ptr<RankExecutor> exec;
  int64_t kv_capacity = 0;  // every rank's KvStore::capacity_tokens() together (saturating)
};

// Loads the model's weights onto a backend (for ranks on another device).
using ModelLoader = std::function<Result<std::unique_ptr<LlamaModel>>(Backend&)>;

class RankGroup {
 public:
  // `model` was loaded on `leader_backend`; CPU ranks and GPU ranks on the
  // leader's device share it; ranks on other devices get their own copy
  // through `loader`.
  static Result<std::unique_ptr<RankGroup>> Start(const EngineOptions& opts,
                                                  const LlamaModel& model,
                                                  std::unique_ptr<Backend> leader_backend,
                                                  const ModelLoader& loader);
  ~RankGroup();

  RankExecutor& leader() { return *leader_.exec; }
  int world_size() const { return world_; }
  // Tokens all ranks' KV budgets hold together (ranks may set their own).
  int64_t kv_capacity() const { return leader_.kv_capacity; }
  const CpCalibration& calibration() const { return calib_; }
  // Makes every rank's pending communication fail (used when tearing down a
  // broken group).
  void abort();

 private:
  RankGroup() = default;

  int world_ = 1;
  bool in_process_ = false;
  RankLocal leader_;
  std::map<int, std::unique_ptr<LlamaModel>> device_models_;  // other devices' copies
  std::vector<RankLocal> follower_ranks_;                     // each driven by its thread below
  std::vector<std::thread> followers_;
  std::unique_ptr<LeaderHeartbeat> heartbeat_;  // multi-process leader: keeps workers in the group
  CpCalibration calib_;
};

// Builds one rank's backend/KV/comm/executor (the comm connected): `comm`
// is the rank's endpoint of an in-process group (LocalComm), or null to
// connect through `store` (GlooComm).
Result<RankLocal> make_rank(const EngineOptions& opts, const LlamaModel& model, int rank,
                            int local_index, std::unique_ptr<Backend> backend,
                            const StoreSpec& store, std::unique_ptr<Comm> comm = nullptr);

// Collective calibration; returns the leader's numbers on every rank.
Result<CpCalibration> calibrate(RankLocal& r, const EngineOptions& opts);

// Runs rank `opts.rank` (> 0) of a multi-process group until the leader
// shuts it down (Ok) or is lost (kUnavailable / kDeadlineExceeded).
Status serve_worker(const EngineOptions& opts);

}  // namespace ringlm
