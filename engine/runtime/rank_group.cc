#include "runtime/rank_group.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <thread>

#include "comm/gloo/gloo_comm.h"
#include "comm/link_bandwidth.h"
#include "comm/local/local_comm.h"
#include "comm/self_comm.h"
#include "kv/paged_kv_store.h"
#include "model/gguf.h"
#include "runtime/backend_factory.h"
#if RINGLM_HAVE_CUDA && RINGLM_HAVE_NCCL
#include "backend/cuda/cuda_backend.h"
#include "comm/nccl/nccl_comm.h"
#endif

namespace ringlm {
namespace {

constexpr size_t kCalibrationBytes = size_t(4) << 20;
// GPU links (NVLink: hundreds of GB/s) need larger messages than 4 MiB for
// the launch and poll latency not to dominate the measurement.
constexpr size_t kDeviceCalibrationBytes = size_t(32) << 20;

// What every rank of a group must share, compared once they connect: a rank
// of another build (another step protocol) or with another model file would
// otherwise compute garbage, or fail only at a step's deadline.
// Bump kRankProtocol whenever StepPlan or the collectives of a step change.
constexpr uint32_t kRankProtocol = 11;
struct RankHello {
  uint32_t protocol = kRankProtocol;
  uint32_t report_bytes = sizeof(StepReport);
  uint64_t model = 0;  // LlamaModel::fingerprint()
};

Status check_group(Comm& comm, const LlamaModel& model) {
  RankHello mine;
  mine.model = model.fingerprint();
  std::vector<RankHello> all(size_t(comm.size()));
  RINGLM_RETURN_IF_ERROR(
      comm.all_gather(&mine, all.data(), sizeof(RankHello)).WithContext("group handshake"));
  for (int r = 0; r < comm.size(); ++r) {
    const RankHello& h = all[size_t(r)];
    if (h.protocol != all[0].protocol || h.report_bytes != all[0].report_bytes)
      return FailedPrecondition("rank " + std::to_string(r) +
                                " runs another ringlm build than rank 0 (step protocol " +
                                std::to_string(h.protocol) + " / " +
                                std::to_string(all[0].protocol) + ")");
    if (h.model != all[0].model)
      return FailedPrecondition("rank " + std::to_string(r) +
                                " loaded another model than rank 0 (fingerprint " +
                                std::to_string(h.model) + ", rank 0: " +
                                std::to_string(all[0].model) + "): every rank needs the same file");
  }
  return Status::Ok();
}

// What names one GPU across hosts: the host (name and boot id) and the
// device's PCI bus id; `usable` is 0 on a rank that cannot run NCCL.
struct GpuIdentity {
  uint8_t usable = 0;
  char host[95] = {};
  char bus[32] = {};
};

GpuIdentity gpu_identity(const EngineOptions& opts, int device) {
  GpuIdentity id;
#if RINGLM_HAVE_CUDA && RINGLM_HAVE_NCCL
  if (opts.backend != "cuda") return id;
  if (cudaDeviceGetPCIBusId(id.bus, int(sizeof(id.bus)), device) != cudaSuccess) {
    (void)cudaGetLastError();
    return id;
  }
  id.usable = 1;
  (void)gethostname(id.host, sizeof(id.host) - 40);
  if (std::FILE* f = std::fopen("/proc/sys/kernel/random/boot_id", "r")) {
    const size_t used = std::strlen(id.host);
    id.host[used] = '/';
    (void)!std::fgets(id.host + used + 1, int(sizeof(id.host) - used - 2), f);
    std::fclose(f);
  }
#else
  (void)opts;
  (void)device;
#endif
  return id;
}

// Whether the group's ring goes over NCCL: the leader's choice, like the KV
// type (a worker started without it follows). With NCCL every rank must be
// able to run it, each on its own GPU: NCCL refuses two ranks of one
// communicator on one device, and a rank whose GPU is not shared would go on
// into the initialisation and wait out its deadline. So the ranks compare
// their GPUs first and all refuse alike.
Result<bool> agree_on_nccl(Comm& comm, const EngineOptions& opts, int device) {
  uint8_t nccl = opts.nccl ? 1 : 0;
  RINGLM_RETURN_IF_ERROR(comm.broadcast(&nccl, sizeof(nccl), 0).WithContext("nccl choice"));
  if (!nccl) return false;
  const GpuIdentity mine = gpu_identity(opts, device);
  std::vector<GpuIdentity> all(size_t(comm.size()));
  RINGLM_RETURN_IF_ERROR(
      comm.all_gather(&mine, all.data(), sizeof(GpuIdentity)).WithContext("nccl devices"));
  for (size_t r = 0; r < all.size(); ++r) {
    if (!all[r].usable)
      return InvalidArgument("rank " + std::to_string(r) +
                             " cannot use NCCL: every rank needs the cuda backend in a build "
                             "with NCCL (or turn NCCL off: the ring then goes over Gloo)");
  }
  for (size_t a = 0; a < all.size(); ++a) {
    for (size_t b = a + 1; b < all.size(); ++b) {
      if (std::memcmp(&all[a], &all[b], sizeof(GpuIdentity)) != 0) continue;
      return InvalidArgument("ranks " + std::to_string(a) + " and " + std::to_string(b) +
                             " share the GPU " + std::string(all[a].bus, strnlen(all[a].bus, sizeof(all[a].bus))) +
                             ", and NCCL needs one GPU per rank: give each rank its own device, "
                             "or turn NCCL off (the ring then goes over Gloo through host memory)");
    }
  }
  return true;
}

int threads_for(const EngineOptions& o, int local_ranks) {
  if (o.threads_per_rank > 0) return o.threads_per_rank;
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  return std::max(1, cores / std::max(1, local_ranks));
}

}  // namespace

Result<RankLocal> make_rank(const EngineOptions& opts, const LlamaModel& model, int rank,
                            int local_index, std::unique_ptr<Backend> backend,
                            const StoreSpec& store, std::unique_ptr<Comm> comm) {
  RankLocal r;
  r.backend = std::move(backend);
  if (opts.world_size == 1) {
    r.comm = std::make_unique<SelfComm>(opts.comm_timeout);
  } else if (comm) {
    r.comm = std::move(comm);
    RINGLM_RETURN_IF_ERROR(check_group(*r.comm, model));
  } else {
    GlooOptions g;
    g.rank = rank;
    g.size = opts.world_size;
    g.timeout = opts.comm_timeout;
    g.connect_timeout = opts.comm_timeout;
    g.hostname = opts.hostname;
    g.store = store;
    RINGLM_ASSIGN_OR_RETURN(r.comm, GlooComm::Connect(g));
    RINGLM_RETURN_IF_ERROR(check_group(*r.comm, model));
  }
  // The KV element type is the group's: ring messages carry K/V as stored.
  uint8_t kv_type = uint8_t(resolve_kv_type(opts.kv_cache_type, r.backend->name()));
  RINGLM_RETURN_IF_ERROR(r.comm->broadcast(&kv_type, sizeof(kv_type), 0).WithContext("kv type"));
  if (kv_type > uint8_t(kernels::KvType::kBF16))
    return Internal("the leader sent an unknown KV element type " + std::to_string(kv_type));
  // The weights' element type must be the group's too (each rank loaded its
  // weights before it connected): a rank that differs fails every rank.
  const uint8_t weight_type = uint8_t(resolve_weight_type(opts.weight_type, r.backend->name()));
  std::vector<uint8_t> weights(size_t(r.comm->size()));
  RINGLM_RETURN_IF_ERROR(
      r.comm->all_gather(&weight_type, weights.data(), 1).WithContext("weight types"));
  auto type_name = [](uint8_t t) { return std::string(weight_type_name(WeightType(t))); };
  for (size_t i = 1; i < weights.size(); ++i) {
    if (weights[i] != weights[0])
      return FailedPrecondition("rank " + std::to_string(i) + " holds " + type_name(weights[i]) +
                                " weights and rank 0 " + type_name(weights[0]) +
                                ": every rank needs the same weight type (--weight-type, "
                                "EngineConfig.weight_type; CUDA ranks hold bf16)");
  }
  // So is the leader timeout: followers must wait at least as long as the
  // leader's heartbeats take.
  int64_t leader_timeout_ms = opts.leader_timeout.count();
  RINGLM_RETURN_IF_ERROR(r.comm->broadcast(&leader_timeout_ms, sizeof(leader_timeout_ms), 0)
                             .WithContext("leader timeout"));
  if (leader_timeout_ms < kMinLeaderTimeout.count())
    return Internal("the leader sent a leader timeout of " + std::to_string(leader_timeout_ms) +
                    " ms");
  const ModelConfig& c = model.config();
  PagedKvOptions kvo;
  kvo.shape = KvShape{c.n_layers, c.n_kv_heads, c.head_dim, kernels::KvType(kv_type)};
  kvo.page_tokens = opts.kv_page_tokens;
  kvo.budget_bytes = opts.kv_budget_bytes;
  r.kv = make_paged_kv_store(*r.backend, kvo);
  // Every rank's KV capacity, so the leader can refuse a request no
  // eviction could make room for before it evicts anything.
  const int64_t capacity = r.kv->capacity_tokens();
  std::vector<int64_t> capacities(size_t(opts.world_size));
  RINGLM_RETURN_IF_ERROR(r.comm->all_gather(&capacity, capacities.data(), sizeof(capacity))
                             .WithContext("kv capacity"));
  for (int64_t t : capacities)  // saturating: a huge budget on a tiny model
    r.kv_capacity = t > INT64_MAX - r.kv_capacity ? INT64_MAX : r.kv_capacity + t;
  // A rank whose budget holds no page could take no token: every rank
  // refuses the group alike (after the exchange, so none waits for another).
  for (size_t k = 0; k < capacities.size(); ++k) {
    if (capacities[k] > 0) continue;
    return InvalidArgument(
        "rank " + std::to_string(k) + "'s KV budget holds no KV page (" +
        std::to_string(opts.kv_page_tokens) + " tokens: " +
        std::to_string(r.kv->bytes_per_token()) + " bytes with this model" +
        (int(k) == rank ? ", against a budget of " + std::to_string(opts.kv_budget_bytes) + " bytes"
                        : std::string()) +
        "): raise the budget or lower the page size");
  }
  bool nccl = false;  // one rank has no ring
  if (opts.world_size > 1) {
    RINGLM_ASSIGN_OR_RETURN(nccl, agree_on_nccl(*r.comm, opts, rank_device(opts, local_index)));
  }
  if (nccl) {
#if RINGLM_HAVE_CUDA && RINGLM_HAVE_NCCL
    // The NCCL unique id travels over the Gloo group (same store). A peer
    // that fails tells the Gloo group, not NCCL: the NcclComm watches it.
    const Comm* control = r.comm.get();
    RINGLM_ASSIGN_OR_RETURN(r.data_comm,
                            NcclComm::Create(*r.comm, rank_device(opts, local_index),
                                             opts.comm_timeout,
                                             [control] { return control->failed(); }));
    static_cast<NcclComm&>(*r.data_comm)
        .set_compute_stream(static_cast<cudaStream_t>(cuda_backend_stream(*r.backend)));
#else
    return Internal("agreed on NCCL in a build without it");
#endif
  }
  RankConfig rc;
  rc.step_timeout = opts.comm_timeout;
  rc.kv_piece_bytes = opts.kv_piece_bytes;
  rc.leader_timeout = std::chrono::milliseconds(leader_timeout_ms);
  r.exec = std::make_unique<RankExecutor>(*r.backend, model, *r.kv, *r.comm,
                                          r.data_comm ? *r.data_comm : *r.comm, rc);
  return r;
}

Result<CpCalibration> calibrate(RankLocal& r, const EngineOptions& opts) {
  CpCalibration c;
  if (opts.world_size == 1) return c;  // no ring: nothing to choose
  if (r.comm->rank() == 0) {
    if (opts.attn_flops > 0) {
      c.attn_flops = opts.attn_flops;
    } else {
      RINGLM_ASSIGN_OR_RETURN(c.attn_flops, measure_attention_flops(*r.backend));
    }
  }
  RINGLM_RETURN_IF_ERROR(r.comm->broadcast(&c.attn_flops, sizeof(double), 0));
  if (r.data_comm) {
    // The ring runs on the data Comm (NCCL): measure that link, between
    // device buffers, not the control plane's TCP.
    RINGLM_ASSIGN_OR_RETURN(Buffer send, r.backend->alloc(kDeviceCalibrationBytes));
    RINGLM_ASSIGN_OR_RETURN(Buffer recv, r.backend->alloc(kDeviceCalibrationBytes));
    RINGLM_RETURN_IF_ERROR(r.backend->zero(send.data(), kDeviceCalibrationBytes));
    RINGLM_RETURN_IF_ERROR(r.backend->synchronize());
    RINGLM_ASSIGN_OR_RETURN(c.link_bytes_per_s,
                            measure_ring_bandwidth(*r.data_comm, *r.comm, send.data(),
                                                   recv.data(), kDeviceCalibrationBytes, 5));
  } else {
    RINGLM_ASSIGN_OR_RETURN(c.link_bytes_per_s,
                            measure_ring_bandwidth(*r.comm, kCalibrationBytes, 3));
  }
  if (opts.link_bytes_per_s > 0) c.link_bytes_per_s = opts.link_bytes_per_s;
  return c;
}

Result<std::unique_ptr<RankGroup>> RankGroup::Start(const EngineOptions& opts,
                                                    const LlamaModel& model,
                                                    std::unique_ptr<Backend> leader_backend,
                                                    const ModelLoader& loader) {
  std::unique_ptr<RankGroup> g(new RankGroup());
  g->world_ = opts.world_size;
  StoreSpec spec;
  if (opts.world_size > 1) {
    if (opts.store.empty()) {
      g->in_process_ = true;
      spec = StoreSpec::InProcess(std::make_shared<InProcessStore>());
    } else {
      RINGLM_ASSIGN_OR_RETURN(spec, StoreSpec::Parse(opts.store));
    }
  }
  const int local = g->in_process_ ? opts.world_size : 1;
  const int threads = threads_for(opts, local);
  // Ranks of this process talk through shared memory, unless asked for Gloo.
  std::vector<std::unique_ptr<Comm>> local_comms;
  if (g->in_process_ && !opts.in_process_gloo) {
    RINGLM_ASSIGN_OR_RETURN(local_comms, LocalComm::Group(opts.world_size, opts.comm_timeout));
  }

  // Connect and calibrate every local rank concurrently (rendezvous needs all).
  std::vector<Result<RankLocal>> ranks;
  std::vector<Result<CpCalibration>> calibs;
  for (int i = 0; i < local; ++i) {
    ranks.emplace_back(Internal("rank not started"));
    calibs.emplace_back(CpCalibration{});
  }
  // Backends and model copies first (serially: loading is memory-bound).
  std::vector<std::unique_ptr<Backend>> backends(local);
  std::vector<const LlamaModel*> models(local, &model);
  backends[0] = std::move(leader_backend);
  const int leader_device = rank_device(opts, 0);
  for (int i = 1; i < local; ++i) {
    RINGLM_ASSIGN_OR_RETURN(backends[i], make_backend(opts, i, threads));
    const int dev = rank_device(opts, i);
    if (dev == leader_device) continue;
    auto& copy = g->device_models_[dev];
    if (!copy) {
      RINGLM_ASSIGN_OR_RETURN(copy, loader(*backends[i]));
    }
    models[i] = copy.get();
  }
  std::vector<std::thread> starters;
  for (int i = 0; i < local; ++i) {
    const int rank = g->in_process_ ? i : opts.rank;
    starters.emplace_back([&, i, rank]() {
      try {  // an exception must not leave a thread (std::terminate)
        ranks[i] = make_rank(opts, *models[i], rank, i, std::move(backends[i]), spec,
                             local_comms.empty() ? nullptr : std::move(local_comms[size_t(i)]));
        if (ranks[i].ok()) {
          calibs[i] = calibrate(ranks[i].value(), opts);
          if (!calibs[i].ok()) {  // its peers fail now, not at their deadline
            ranks[i]->comm->abort();
            if (ranks[i]->data_comm) ranks[i]->data_comm->abort();
          }
        }
      } catch (...) {
        ranks[i] = current_exception_status();
      }
    });
  }
  for (auto& t : starters) t.join();
  for (int i = 0; i < local; ++i) {
    if (!ranks[i].ok()) return ranks[i].status().WithContext("starting rank " + std::to_string(i));
    if (!calibs[i].ok())
      return calibs[i].status().WithContext("calibrating rank " + std::to_string(i));
  }
  g->calib_ = calibs[0].value();
  g->leader_ = std::move(ranks[0].value());
  for (int i = 1; i < local; ++i) g->follower_ranks_.push_back(std::move(ranks[i].value()));
  for (auto& f : g->follower_ranks_) {
    // Threads of this process cannot outlive a vanished leader: they wait
    // without a leader timeout, so that stopping the whole process (a
    // debugger, Ctrl-Z) for longer does not break the group.
    f.exec->config().leader_timeout = kNoLeaderTimeout;
    g->followers_.emplace_back([&f]() {
      try {
        (void)f.exec->serve();
      } catch (...) {
        // Out of memory inside a step, say: this rank cannot go on. Its
        // peers fail at once instead of at the step deadline, and the
        // process lives on (an exception leaving a thread terminates it).
        f.comm->abort();
        if (f.data_comm) f.data_comm->abort();
      }
    });
  }
  if (g->world_ > 1 && !g->in_process_) {
    g->heartbeat_ = std::make_unique<LeaderHeartbeat>(g->leader(), opts.leader_timeout / 4);
  }
  return g;
}

void RankGroup::abort() {
  for (RankLocal* r : {&leader_}) {
    if (r->comm) r->comm->abort();
    if (r->data_comm) r->data_comm->abort();
  }
  for (auto& f : follower_ranks_) {
    f.comm->abort();
    if (f.data_comm) f.data_comm->abort();
  }
}

RankGroup::~RankGroup() {
  heartbeat_.reset();  // before the Shutdown plan
  if (world_ > 1 && leader_.exec) {
    // Followers (threads here, or worker processes) leave serve() on
    // Shutdown; a broken group is aborted instead so no thread stays blocked.
    StepOutcome o = leader_.exec->lead(make_step_plan(fb::StepKind::Shutdown, 0));
    if (!o.status.ok()) abort();
  }
  for (auto& t : followers_) t.join();
  // The NCCL communicators of this process end together: a finalize may
  // wait for its peers' (newer NCCL versions do), which one after the other
  // on this thread would each wait out their timeout.
  std::vector<std::thread> enders;
  for (auto& f : follower_ranks_) {
    if (!f.data_comm) continue;
    try {
      enders.emplace_back([&f] { f.data_comm.reset(); });
    } catch (const std::system_error&) {
      f.data_comm->abort();  // no thread: end it here, without waiting for peers
      f.data_comm.reset();
    }
  }
  leader_.data_comm.reset();
  for (auto& t : enders) t.join();
}

Status serve_worker(const EngineOptions& opts) {
  RINGLM_RETURN_IF_ERROR(check_engine_options(opts));
  if (opts.rank <= 0 || opts.rank >= opts.world_size)
    return InvalidArgument("worker rank must be in [1, world_size)");
  if (opts.store.empty()) return InvalidArgument("a worker needs a rendezvous store (--store)");
  RINGLM_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> file, GgufFile::Open(opts.model_path));
  RINGLM_ASSIGN_OR_RETURN(std::unique_ptr<Backend> be, make_backend(opts, 0, threads_for(opts, 1)));
  RINGLM_ASSIGN_OR_RETURN(std::unique_ptr<LlamaModel> model, LlamaModel::Load(*file, *be));
  file.reset();
  RINGLM_ASSIGN_OR_RETURN(StoreSpec spec, StoreSpec::Parse(opts.store));
  RINGLM_ASSIGN_OR_RETURN(RankLocal r, make_rank(opts, *model, opts.rank, 0, std::move(be), spec));
  RINGLM_RETURN_IF_ERROR(calibrate(r, opts).status());
  return r.exec->serve();
}

}  // namespace ringlm
