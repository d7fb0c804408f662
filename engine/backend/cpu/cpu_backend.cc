#include "backend/cpu/cpu_backend.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "cpu/attention_partial.h"
#include "cpu/convert.h"
#include "cpu/embedding.h"
#include "cpu/matmul_bf16.h"
#include "cpu/matmul_q8.h"
#include "cpu/merge_partials.h"
#include "cpu/rmsnorm.h"
#include "cpu/rope.h"
#include "cpu/swiglu.h"

namespace ringlm {
namespace {

// [rows, cols] row-major, held as f32, bf16, or 8-bit (q and d, the layout
// of kernels/cpu/matmul_q8.h); the other members are empty.
class CpuWeight final : public Weight {
 public:
  CpuWeight(const float* host, int64_t rows, int64_t cols, CpuWeights kind)
      : Weight(rows, cols), kind_(kind) {
    const size_t n = size_t(rows) * size_t(cols);
    switch (kind) {
      case CpuWeights::kF32:
        f32_.assign(host, host + n);
        break;
      case CpuWeights::kBF16:
        bf16_.resize(n);
        kernels::cpu::f32_to_bf16(host, bf16_.data(), int64_t(n));
        break;
      case CpuWeights::kQ8: {
        const int64_t kp = kernels::cpu::q8_padded_cols(cols);
        q8_.resize(size_t(rows) * size_t(kp));
        q8_scales_.resize(size_t(rows) * size_t(kp / kernels::cpu::kQ8Block));
        kernels::cpu::quantize_q8_rows(host, rows, cols, q8_.data(), q8_scales_.data());
        break;
      }
    }
  }
  CpuWeights kind() const { return kind_; }
  const float* f32() const { return f32_.data(); }
  const uint16_t* bf16() const { return bf16_.data(); }
  const int8_t* q8() const { return q8_.data(); }
  const float* q8_scales() const { return q8_scales_.data(); }

 private:
  CpuWeights kind_;
  std::vector<float> f32_;
  std::vector<uint16_t> bf16_;
  std::vector<int8_t> q8_;
  std::vector<float> q8_scales_;
};

void free_aligned(void* p) { std::free(p); }

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuBackendOptions& o) : threads_(o.threads), weights_(o.weights) {
    // BLAS runs single-threaded inside our OpenMP teams (matmul below): a
    // threaded OpenBLAS beside OpenMP's spinning workers oversubscribes the
    // cores and was 10x slower at decode on a 2-core machine.
    openblas_set_num_threads(1);
  }

  std::string_view name() const override { return "cpu"; }
  bool host_memory() const override { return true; }

  Result<Buffer> alloc(size_t bytes) override {
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    void* p = std::aligned_alloc(64, rounded);
    if (!p)
      return ResourceExhausted("cpu backend: cannot allocate " + std::to_string(bytes) + " bytes");
    return Buffer(p, bytes, &free_aligned);
  }
  Status copy_from_host(void* dst, const void* src, size_t n) override { return copy(dst, src, n); }
  Status copy_to_host(void* dst, const void* src, size_t n) override { return copy(dst, src, n); }
  Status copy(void* dst, const void* src, size_t n) override {
    if (n) std::memmove(dst, src, n);
    return Status::Ok();
  }
  Status fill(float* dst, float value, int64_t n) override {
    for (int64_t i = 0; i < n; ++i) dst[i] = value;
    return Status::Ok();
  }
  Status zero(void* dst, size_t bytes) override {
    if (bytes) std::memset(dst, 0, bytes);
    return Status::Ok();
  }
  Status synchronize() override { return Status::Ok(); }

  Status store_kv(const float* src, void* dst, kernels::KvType t, int64_t n) override {
    if (n <= 0) return Status::Ok();
    if (t == kernels::KvType::kF32) return copy(dst, src, sizeof(float) * size_t(n));
    kernels::cpu::f32_to_bf16(src, static_cast<uint16_t*>(dst), n);
    return Status::Ok();
  }

  Result<std::unique_ptr<Weight>> make_weight(const float* host, int64_t rows,
                                              int64_t cols) override {
    if (rows < 0 || cols < 0)
      return InvalidArgument("cpu backend: a weight of " + std::to_string(rows) + " x " +
                             std::to_string(cols));
    std::unique_ptr<Weight> w;
    try {
      w = std::make_unique<CpuWeight>(host, rows, cols, weights_);
    } catch (const std::exception&) {  // bad_alloc, or length_error beyond size_t
      return ResourceExhausted("cpu backend: cannot allocate a " + std::to_string(rows) + " x " +
                               std::to_string(cols) + " weight");
    }
    return w;
  }

  Status matmul(const float* x, const Weight& w, const float* bias, float* y, int64_t m) override {
    RINGLM_RETURN_IF_ERROR(gemm(x, w, y, m, 0.f));
    if (bias) {
      const int64_t n = w.rows();
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) y[i * n + j] += bias[j];
    }
    return Status::Ok();
  }

  Status matmul_add(const float* x, const Weight& w, float* y, int64_t m) override {
    return gemm(x, w, y, m, 1.f);
  }

  // y[m, n] = x[m, k] W^T + beta * y. kResourceExhausted when a thread cannot
  // allocate its widening scratch (y is then partly written).
  Status gemm(const float* x, const Weight& w, float* y, int64_t m, float beta) {
    set_threads();
    const auto& cw = static_cast<const CpuWeight&>(w);
    const int64_t n = w.rows(), k = w.cols();
    std::atomic<bool> no_scratch{false};
    // Each thread owns a slice of the output features [j0, j1): W's rows are
    // split, so every weight byte is read by one thread only.
#pragma omp parallel
    {
      const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t per = ((n + nt - 1) / nt + 15) / 16 * 16;
      const int64_t j0 = std::min(n, t * per), j1 = std::min(n, j0 + per);
      if (j0 < j1 && cw.kind() != CpuWeights::kF32) {
        // Widening scratch, per thread, kept between calls (the OpenMP pool's
        // threads persist); about 1 MiB.
        thread_local std::vector<float> scratch;
        const bool q8 = cw.kind() == CpuWeights::kQ8;
        bool ready = true;
        if (m > kernels::cpu::kMatmulDirectRows) {
          try {  // an exception must not leave an OpenMP region (std::terminate)
            scratch.resize(size_t(kernels::cpu::matmul_widened_scratch_floats(k)));
          } catch (const std::bad_alloc&) {
            ready = false;
            no_scratch = true;
          }
        }
        if (ready && q8)
          kernels::cpu::matmul_q8_rows(x, m, cw.q8(), cw.q8_scales(), k, j0, j1, y, n, beta,
                                       scratch.data());
        else if (ready)
          kernels::cpu::matmul_bf16_rows(x, m, cw.bf16(), k, j0, j1, y, n, beta, scratch.data());
      } else if (j0 < j1) {
        const float* wj = cw.f32() + j0 * k;
        if (m == 1) {
          // y[j0:j1] = W[j0:j1, k] x[k]: a GEMV streams the weight once.
          cblas_sgemv(CblasRowMajor, CblasNoTrans, j1 - j0, k, 1.f, wj, k, x, 1, beta, y + j0, 1);
        } else {
          // y[m, j0:j1] = x[m, k] W[j0:j1, k]^T
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, j1 - j0, k, 1.f, x, k, wj, k,
                      beta, y + j0, n);
        }
      }
    }
    if (no_scratch)
      return ResourceExhausted("cpu backend: cannot allocate the weights' widening scratch");
    return Status::Ok();
  }

  Status embedding(const Weight& table, const int32_t* ids, float* out, int64_t n) override {
    set_threads();
    for (int64_t i = 0; i < n; ++i) {
      if (ids[i] < 0 || ids[i] >= table.rows())
        return InvalidArgument("token id " + std::to_string(ids[i]) + " outside vocabulary of " +
                               std::to_string(table.rows()));
    }
    const auto& t = static_cast<const CpuWeight&>(table);
    const int64_t dim = table.cols();
    switch (t.kind()) {
      case CpuWeights::kF32:
        kernels::cpu::embedding(t.f32(), ids, out, n, dim);
        break;
      case CpuWeights::kBF16:
        for (int64_t i = 0; i < n; ++i)
          kernels::cpu::bf16_to_f32(t.bf16() + ids[i] * dim, out + i * dim, dim);
        break;
      case CpuWeights::kQ8:
        for (int64_t i = 0; i < n; ++i)
          kernels::cpu::widen_q8_row(t.q8(), t.q8_scales(), dim, ids[i], out + i * dim);
        break;
    }
    return Status::Ok();
  }

  Status rmsnorm(const float* x, const float* w, float* y, int64_t rows, int64_t dim,
                 float eps) override {
    set_threads();
    kernels::cpu::rmsnorm(x, w, y, rows, dim, eps);
    return Status::Ok();
  }

  Status rope(float* x, const int32_t* pos, int64_t rows, int heads,
              const kernels::RopeConfig& cfg) override {
    set_threads();
    kernels::cpu::rope(x, pos, rows, heads, cfg, inv_freq(cfg).data());
    return Status::Ok();
  }

  Status swiglu(const float* gate, const float* up, float* out, int64_t n) override {
    set_threads();
    kernels::cpu::swiglu(gate, up, out, n);
    return Status::Ok();
  }

  Status add(float* y, const float* x, int64_t n) override {
    for (int64_t i = 0; i < n; ++i) y[i] += x[i];
    return Status::Ok();
  }

  Status attention_partial(const kernels::AttentionParams& p) override {
    set_threads();
    kernels::cpu::attention_partial(p);
    return Status::Ok();
  }

  bool has_attention_blocks() const override { return true; }

  Status attention_partial_blocks(const kernels::AttentionParams& p, const kernels::KeyBlock* blocks,
                                  size_t n) override {
    RINGLM_RETURN_IF_ERROR(check_attention_blocks(p, blocks, n));
    set_threads();
    kernels::cpu::attention_partial_blocks(p, blocks, n);
    return Status::Ok();
  }

  Status merge_partials(const kernels::MergeParams& p) override {
    set_threads();
    kernels::cpu::merge_partials(p);
    return Status::Ok();
  }

 private:
  void set_threads() {
    if (threads_ > 0) omp_set_num_threads(threads_);
  }

  // Inverse frequencies of the last RoPE configuration, recomputed when it changes.
  const std::vector<float>& inv_freq(const kernels::RopeConfig& c) {
    const auto& k = rope_key_;
    const bool same =
        !rope_inv_freq_.empty() && k.head_dim == c.head_dim && k.rot_dim == c.rot_dim &&
        k.theta == c.theta && k.neox == c.neox && k.scaling == c.scaling && k.factor == c.factor &&
        k.low_freq_factor == c.low_freq_factor && k.high_freq_factor == c.high_freq_factor &&
        k.original_context == c.original_context && k.freq_factors == c.freq_factors;
    if (!same) {
      rope_key_ = c;
      rope_inv_freq_ = kernels::cpu::rope_inv_freq(c);
    }
    return rope_inv_freq_;
  }

  int threads_;
  CpuWeights weights_;
  kernels::RopeConfig rope_key_;
  std::vector<float> rope_inv_freq_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& opts) {
  return std::make_unique<CpuBackend>(opts);
}

}  // namespace ringlm
