// cuDNN fused attention (see cudnn_attention.h). The frontend is used in its
// dynamic-loading mode: every cuDNN symbol is looked up in the handle that
// cudnn_load() opened, so nothing here links libcudnn.
#define NV_CUDNN_FRONTEND_USE_DYNAMIC_LOADING 1

#include "backend/cuda/cudnn/cudnn_attention.h"

#include <dlfcn.h>

#include <cudnn_frontend.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

// The frontend's dynamic-loading mode reads cuDNN symbols from this handle.
namespace cudnn_frontend {
void* cudnn_dlhandle = nullptr;
}  // namespace cudnn_frontend

namespace ringlm {
namespace {

namespace fe = cudnn_frontend;

std::once_flag g_load_once;
Status g_load_status = Status::Ok();
int64_t g_version = 0;

// In this mode the frontend also opens the CUDA runtime by name, trying
// CUDA 12's first: point it at the runtime this build links. Set when the
// library loads, before any thread of ours exists: setenv beside another
// thread's getenv (NCCL's, the CUDA runtime's, on other rank threads) is a
// data race.
[[maybe_unused]] const bool g_cudart_name_set = [] {
  const std::string cudart = "libcudart.so." + std::to_string(CUDART_VERSION / 1000);
  return setenv("CUDNN_FRONTEND_CUDART_LIB_NAME", cudart.c_str(), /*overwrite=*/0) == 0;
}();

Status load_library() {
  std::vector<std::string> names;
  if (const char* env = std::getenv("RINGLM_CUDNN_LIBRARY"); env && *env) {
    names.emplace_back(env);
  } else {
    names = {"libcudnn.so.9", "libcudnn.so"};
  }
  std::string errors;
  void* h = nullptr;
  for (const std::string& n : names) {
    dlerror();
    h = dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h) break;
    const char* e = dlerror();
    errors += (errors.empty() ? "" : "; ") + std::string(e ? e : n + ": not loadable");
  }
  if (!h) return Unavailable("cuDNN not loaded (" + errors + ")");
  using GetVersion = size_t (*)();
  auto get_version = reinterpret_cast<GetVersion>(dlsym(h, "cudnnGetVersion"));
  if (!get_version) {
    dlclose(h);
    return Unavailable("cuDNN library without cudnnGetVersion");
  }
  const size_t v = get_version();
  if (v < 90000) {
    dlclose(h);
    return Unavailable("cuDNN " + std::to_string(v) + " is older than 9.0");
  }
  fe::cudnn_dlhandle = h;  // kept open for the life of the process
  g_version = int64_t(v);
  return Status::Ok();
}

// Variant-pack ids of the graph's tensors.
enum : int64_t { kUidQ = 1, kUidK, kUidV, kUidO, kUidStats };

struct Key {
  int64_t tq, tk;
  int hq, hkv, d;
  uint32_t scale_bits;
  CudnnMask mask;
  bool operator==(const Key& o) const {
    return tq == o.tq && tk == o.tk && hq == o.hq && hkv == o.hkv && d == o.d &&
           scale_bits == o.scale_bits && mask == o.mask;
  }
};

struct KeyHash {
  size_t operator()(const Key& k) const {
    size_t h = std::hash<int64_t>()(k.tq);
    auto mix = [&h](uint64_t v) { h ^= std::hash<uint64_t>()(v) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2); };
    mix(uint64_t(k.tk));
    mix(uint64_t(k.hq) << 32 | uint32_t(k.hkv));
    mix(uint64_t(k.d) << 32 | k.scale_bits);
    mix(uint64_t(k.mask));
    return h;
  }
};

Key make_key(const CudnnAttentionShape& s) {
  uint32_t bits = 0;
  std::memcpy(&bits, &s.scale, sizeof bits);
  return Key{s.tq, s.tk, s.hq, s.hkv, s.d, bits, s.mask};
}

// A built graph, or the reason cuDNN refused the shape.
struct Plan {
  std::shared_ptr<fe::graph::Graph> graph;
  int64_t workspace = 0;
  Status refused = Status::Ok();
};

const char* mask_name(CudnnMask m) {
  switch (m) {
    case CudnnMask::kNone: return "none";
    case CudnnMask::kCausalTopLeft: return "causal top-left";
    case CudnnMask::kCausalBottomRight: return "causal bottom-right";
  }
  return "?";
}

std::string describe(const CudnnAttentionShape& s) {
  return "tq " + std::to_string(s.tq) + ", tk " + std::to_string(s.tk) + ", heads " +
         std::to_string(s.hq) + "/" + std::to_string(s.hkv) + ", d " + std::to_string(s.d) +
         ", mask " + mask_name(s.mask);
}

Status check_shape(const CudnnAttentionShape& s) {
  if (s.tq <= 0 || s.tk <= 0 || s.hq <= 0 || s.hkv <= 0 || s.hq % s.hkv != 0 || s.d <= 0 ||
      !(s.scale > 0.f) || !std::isfinite(s.scale))
    return InvalidArgument("cudnn attention: malformed shape (" + describe(s) + ")");
  if (s.d % 8 != 0 || s.d > 256)
    return Unsupported("cudnn attention: head dim " + std::to_string(s.d) +
                       " (cuDNN needs a multiple of 8, at most 256)");
  if (s.mask != CudnnMask::kNone && s.tq > s.tk)
    return Unsupported("cudnn attention: causal masks with more query rows than keys");
  return Status::Ok();
}

// Runs one frontend step; a frontend error becomes kUnsupported with its message.
Status fe_step(fe::error_t err, const char* step, const CudnnAttentionShape& s) {
  if (err.is_good()) return Status::Ok();
  return Unsupported(std::string("cudnn attention: ") + step + " failed for " + describe(s) + ": " +
                     err.get_message());
}

// Builds the plan of `s`. With a kernel cache the graph is built as a
// dynamic-shape graph, so shapes that differ only in sizes share compiled
// kernels (cuDNN >= 9.4); without one (or when that build fails) it is a
// plain static graph.
Plan build_plan(cudnnHandle_t handle, const CudnnAttentionShape& s,
                const std::shared_ptr<fe::KernelCache>& cache) {
  Plan plan;
  try {
    auto g = std::make_shared<fe::graph::Graph>();
    if (cache) g->set_dynamic_shape_enabled(true).set_kernel_cache(cache);
    g->set_io_data_type(fe::DataType_t::BFLOAT16)
        .set_intermediate_data_type(fe::DataType_t::FLOAT)
        .set_compute_data_type(fe::DataType_t::FLOAT);
    const int64_t hq = s.hq, hkv = s.hkv, d = s.d;
    // Token-major layouts: row i of head h at (i * heads + h) * d.
    auto q = g->tensor(fe::graph::Tensor_attributes()
                           .set_name("Q")
                           .set_uid(kUidQ)
                           .set_dim({1, hq, s.tq, d})
                           .set_stride({s.tq * hq * d, d, hq * d, 1}));
    auto k = g->tensor(fe::graph::Tensor_attributes()
                           .set_name("K")
                           .set_uid(kUidK)
                           .set_dim({1, hkv, s.tk, d})
                           .set_stride({s.tk * hkv * d, d, hkv * d, 1}));
    auto v = g->tensor(fe::graph::Tensor_attributes()
                           .set_name("V")
                           .set_uid(kUidV)
                           .set_dim({1, hkv, s.tk, d})
                           .set_stride({s.tk * hkv * d, d, hkv * d, 1}));
    auto opts = fe::graph::SDPA_attributes()
                    .set_name("attention")
                    .set_generate_stats(true)
                    .set_attn_scale(s.scale);
    if (s.mask == CudnnMask::kCausalTopLeft) opts.set_causal_mask(true);
    if (s.mask == CudnnMask::kCausalBottomRight) opts.set_causal_mask_bottom_right(true);
    auto [o, stats] = g->sdpa(q, k, v, opts);
    o->set_output(true).set_uid(kUidO).set_dim({1, hq, s.tq, d}).set_stride({s.tq * hq * d, d, hq * d, 1});
    stats->set_output(true)
        .set_uid(kUidStats)
        .set_data_type(fe::DataType_t::FLOAT)
        .set_dim({1, hq, s.tq, 1})
        .set_stride({hq * s.tq, s.tq, 1, 1});

    Status st = fe_step(g->validate(), "validate", s);
    if (st.ok()) st = fe_step(g->build_operation_graph(handle), "build_operation_graph", s);
    if (st.ok()) st = fe_step(g->create_execution_plans({fe::HeurMode_t::A}), "create_execution_plans", s);
    if (st.ok()) st = fe_step(g->check_support(handle), "check_support", s);
    if (st.ok()) st = fe_step(g->build_plans(handle), "build_plans", s);
    int64_t ws = 0;
    if (st.ok()) st = fe_step(g->get_workspace_size(ws), "get_workspace_size", s);
    if (!st.ok()) {
      plan.refused = std::move(st);
      return plan;
    }
    plan.graph = std::move(g);
    plan.workspace = ws;
  } catch (const std::exception& e) {
    plan.refused = Unsupported(std::string("cudnn attention: ") + e.what());
  }
  return plan;
}

constexpr size_t kMaxPlans = 48;

}  // namespace

Status cudnn_load() {
  std::call_once(g_load_once, [] { g_load_status = load_library(); });
  return g_load_status;
}

int64_t cudnn_loaded_version() { return cudnn_load().ok() ? g_version : 0; }

struct CudnnAttention::Impl {
  cudnnHandle_t handle = nullptr;
  std::list<Key> lru;  // most recently used first
  std::unordered_map<Key, std::pair<Plan, std::list<Key>::iterator>, KeyHash> plans;
  std::shared_ptr<fe::KernelCache> kernel_cache;  // null once dynamic shapes failed
  std::string dynamic_failure;                    // why they failed
  int64_t built = 0;
  double build_ms = 0;

  ~Impl() {
    plans.clear();
    if (handle) {
      try {
        (void)fe::detail::destroy_handle(handle);
      } catch (...) {
      }
    }
  }

  const Plan& find_or_build(const CudnnAttentionShape& s) {
    const Key key = make_key(s);
    if (auto it = plans.find(key); it != plans.end()) {
      lru.splice(lru.begin(), lru, it->second.second);
      return it->second.first;
    }
    if (plans.size() >= kMaxPlans) {
      plans.erase(lru.back());
      lru.pop_back();
    }
    ++built;
    const auto t0 = std::chrono::steady_clock::now();
    Plan plan = build_plan(handle, s, kernel_cache);
    if (!plan.refused.ok() && kernel_cache) {
      Plan fixed = build_plan(handle, s, nullptr);
      if (fixed.refused.ok()) {
        // This cuDNN takes the static graph but not the dynamic-shape one:
        // static graphs from now on.
        kernel_cache.reset();
        dynamic_failure = plan.refused.message();
      }
      plan = std::move(fixed);
    }
    build_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    lru.push_front(key);
    auto [it, _] = plans.emplace(key, std::make_pair(std::move(plan), lru.begin()));
    return it->second.first;
  }
};

CudnnAttention::CudnnAttention(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CudnnAttention::~CudnnAttention() = default;

Result<std::unique_ptr<CudnnAttention>> CudnnAttention::Create(cudaStream_t stream) {
  RINGLM_RETURN_IF_ERROR(cudnn_load());
  auto impl = std::make_unique<Impl>();
  if (g_version >= 90400) impl->kernel_cache = std::make_shared<fe::KernelCache>();
  try {
    cudnnStatus_t st = fe::detail::create_handle(&impl->handle);
    if (st != CUDNN_STATUS_SUCCESS) {
      impl->handle = nullptr;
      return Internal(std::string("cudnnCreate: ") + fe::detail::get_error_string(st));
    }
    st = fe::detail::set_stream(impl->handle, stream);
    if (st != CUDNN_STATUS_SUCCESS)
      return Internal(std::string("cudnnSetStream: ") + fe::detail::get_error_string(st));
  } catch (const std::exception& e) {
    return Unavailable(std::string("cuDNN: ") + e.what());
  }
  return std::unique_ptr<CudnnAttention>(new CudnnAttention(std::move(impl)));
}

Result<size_t> CudnnAttention::prepare(const CudnnAttentionShape& s) {
  RINGLM_RETURN_IF_ERROR(check_shape(s));
  const Plan& p = impl_->find_or_build(s);
  if (!p.refused.ok()) return p.refused;
  return size_t(p.workspace);
}

Status CudnnAttention::run(const CudnnAttentionShape& s, const void* q, const void* k,
                           const void* v, void* o, float* stats, void* workspace) {
  RINGLM_RETURN_IF_ERROR(check_shape(s));
  const Plan& p = impl_->find_or_build(s);
  if (!p.refused.ok()) return p.refused;
  if (p.workspace > 0 && !workspace)
    return InvalidArgument("cudnn attention: the plan needs a workspace of " +
                           std::to_string(p.workspace) + " bytes");
  std::unordered_map<int64_t, void*> pack = {
      {kUidQ, const_cast<void*>(q)}, {kUidK, const_cast<void*>(k)}, {kUidV, const_cast<void*>(v)},
      {kUidO, o},                    {kUidStats, stats}};
  try {
    fe::error_t err = p.graph->execute(impl_->handle, pack, workspace);
    if (!err.is_good())
      return Internal("cudnn attention: execute failed for " + describe(s) + ": " + err.get_message());
  } catch (const std::exception& e) {
    return Internal(std::string("cudnn attention: execute: ") + e.what());
  }
  return Status::Ok();
}

int64_t CudnnAttention::plans_built() const { return impl_->built; }
double CudnnAttention::plan_build_ms() const { return impl_->build_ms; }
bool CudnnAttention::dynamic_shapes() const { return impl_->kernel_cache != nullptr; }
const std::string& CudnnAttention::dynamic_shape_failure() const { return impl_->dynamic_failure; }

}  // namespace ringlm
