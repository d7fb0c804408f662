// Backend: the one interface the engine computes through.
//
// Activations are f32 on every backend; weights live in the backend's storage
// type (CPU: f32, or bf16 by choice; CUDA: bf16) behind Weight; the KV cache holds K and V as
// kernels::KvType elements (f32 or bf16, the engine's choice; attention takes
// either). Pointers passed
// to ops are in the backend's memory space (host memory for CpuBackend, device
// memory for CudaBackend). Ops are enqueued in order; synchronize() waits for
// them. A backend object is used by one rank thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "attention_params.h"
#include "core/dtype.h"
#include "core/status.h"
#include "rope_params.h"

namespace ringlm {

// A block of backend memory; frees itself on destruction.
class Buffer {
 public:
  Buffer() = default;
  Buffer(void* data, size_t bytes, void (*free_fn)(void*))
      : data_(data), bytes_(bytes), free_(free_fn) {}
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      data_ = o.data_;
      bytes_ = o.bytes_;
      free_ = o.free_;
      o.data_ = nullptr;
      o.bytes_ = 0;
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { reset(); }

  void reset() {
    if (data_ && free_) free_(data_);
    data_ = nullptr;
    bytes_ = 0;
  }
  void* data() const { return data_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  void (*free_)(void*) = nullptr;
};

// A matrix W [rows, cols] (rows = output features) in the backend's storage.
class Weight {
 public:
  virtual ~Weight() = default;
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }

 protected:
  Weight(int64_t rows, int64_t cols) : rows_(rows), cols_(cols) {}
  int64_t rows_, cols_;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view name() const = 0;
  // True when the backend's memory is ordinary host memory.
  virtual bool host_memory() const = 0;

  // --- memory ---
  virtual Result<Buffer> alloc(size_t bytes) = 0;
  virtual Status copy_from_host(void* dst, const void* src, size_t bytes) = 0;
  virtual Status copy_to_host(void* dst, const void* src, size_t bytes) = 0;
  // Within backend memory; the two ranges must not overlap.
  virtual Status copy(void* dst, const void* src, size_t bytes) = 0;
  virtual Status fill(float* dst, float value, int64_t n) = 0;
  virtual Status zero(void* dst, size_t bytes) = 0;
  virtual Status synchronize() = 0;

  // dst [n] of type t = src [n] (f32; bf16 rounds to nearest even), both in
  // backend memory: how K and V enter the KV cache.
  virtual Status store_kv(const float* src, void* dst, kernels::KvType t, int64_t n) = 0;

  // --- timing without a host synchronisation ---
  // mark() records a timestamp after the ops enqueued so far and returns its
  // id (0, 1, ... since the last release_marks()); once those ops completed
  // (after synchronize()), elapsed_ms(a, b) is the time from mark a to mark b.
  // Default, for backends whose ops complete when they return: the host
  // clock at mark(). Device backends record events on their stream.
  virtual Result<int> mark() {
    host_marks_.push_back(std::chrono::steady_clock::now());
    return int(host_marks_.size()) - 1;
  }
  virtual Result<double> elapsed_ms(int a, int b) {
    if (a < 0 || b < 0 || a >= int(host_marks_.size()) || b >= int(host_marks_.size()))
      return InvalidArgument(std::string(name()) + " backend: unknown mark");
    return std::chrono::duration<double, std::milli>(host_marks_[size_t(b)] -
                                                     host_marks_[size_t(a)])
        .count();
  }
  virtual void release_marks() { host_marks_.clear(); }

  // --- weights (host f32, row-major) ---
  virtual Result<std::unique_ptr<Weight>> make_weight(const float* host, int64_t rows,
                                                      int64_t cols) = 0;

  // --- ops ---
  // y[m, w.rows] = x[m, w.cols] * W^T (+ bias[w.rows] when bias != nullptr)
  virtual Status matmul(const float* x, const Weight& w, const float* bias, float* y,
                        int64_t m) = 0;
  // y[m, w.rows] += x[m, w.cols] * W^T: the residual add fused into the GEMM.
  // Default: matmul into a temporary, then add.
  virtual Status matmul_add(const float* x, const Weight& w, float* y, int64_t m) {
    if (m <= 0 || w.rows() == 0) return Status::Ok();
    RINGLM_ASSIGN_OR_RETURN(Buffer t, alloc(sizeof(float) * size_t(m * w.rows())));
    RINGLM_RETURN_IF_ERROR(matmul(x, w, nullptr, t.as<float>(), m));
    return add(y, t.as<float>(), m * w.rows());
  }
  // y[m, w.rows] += swiglu(gate, up)[m, w.cols] * W^T, the feed-forward's down
  // projection with its input activation and the residual add fused. `gate`
  // is scratch: its contents are unspecified afterwards. Default: swiglu into
  // gate, then matmul_add.
  virtual Status swiglu_matmul_add(float* gate, const float* up, const Weight& w, float* y,
                                   int64_t m) {
    RINGLM_RETURN_IF_ERROR(swiglu(gate, up, gate, m * w.cols()));
    return matmul_add(gate, w, y, m);
  }
  // out[i, :] = row ids[i] of table [vocab, dim]. `ids` is a host pointer.
  virtual Status embedding(const Weight& table, const int32_t* ids, float* out, int64_t n) = 0;
  virtual Status rmsnorm(const float* x, const float* w, float* y, int64_t rows, int64_t dim,
                         float eps) = 0;
  // x [rows, heads, head_dim] rotated in place; pos [rows] in backend memory.
  virtual Status rope(float* x, const int32_t* pos, int64_t rows, int heads,
                      const kernels::RopeConfig& cfg) = 0;
  virtual Status swiglu(const float* gate, const float* up, float* out, int64_t n) = 0;
  // y += x
  virtual Status add(float* y, const float* x, int64_t n) = 0;
  virtual Status attention_partial(const kernels::AttentionParams& p) = 0;
  virtual Status merge_partials(const kernels::MergeParams& p) = 0;

  // Attention over several key blocks in one call, equal to attention_partial
  // over their concatenation (p.k, p.v, p.k_pos and p.tk are ignored; the
  // blocks' pointers are backend memory, the array `blocks` [n] host memory).
  // Optional: backends without it answer false / kUnsupported, and callers
  // loop over the blocks with attention_partial and merge_partials instead.
  virtual bool has_attention_blocks() const { return false; }
  virtual Status attention_partial_blocks(const kernels::AttentionParams& p,
                                          const kernels::KeyBlock* blocks, size_t n) {
    return Unsupported(std::string(name()) + " backend: attention over several key blocks");
  }

  // Copies the blocks' rows one after another into k, v ([sum n] rows of
  // row_bytes bytes) and pos ([sum n]), all backend memory (`blocks` [n] is
  // host memory). Default: three copy() calls per block; backends may do it
  // in one launch.
  virtual Status gather_blocks(const kernels::KeyBlock* blocks, size_t n, int64_t row_bytes,
                               void* k, void* v, int32_t* pos) {
    RINGLM_RETURN_IF_ERROR(check_key_blocks(blocks, n));
    int64_t t = 0;
    for (size_t i = 0; i < n; ++i) {
      const kernels::KeyBlock& b = blocks[i];
      const size_t bytes = size_t(b.n * row_bytes);
      RINGLM_RETURN_IF_ERROR(copy(static_cast<char*>(k) + t * row_bytes, b.k, bytes));
      RINGLM_RETURN_IF_ERROR(copy(static_cast<char*>(v) + t * row_bytes, b.v, bytes));
      RINGLM_RETURN_IF_ERROR(copy(pos + t, b.pos, sizeof(int32_t) * b.n));
      t += b.n;
    }
    return Status::Ok();
  }

 protected:
  // The argument checks of attention_partial_blocks, shared by the backends
  // that implement it: the query shape (tq >= 0, hq a multiple of hkv,
  // d > 0), a block array when n > 0, and blocks with n >= 0 and pointers.
  Status check_attention_blocks(const kernels::AttentionParams& p, const kernels::KeyBlock* blocks,
                                size_t n) const {
    const std::string who(name());
    if (p.tq < 0 || p.hq <= 0 || p.hkv <= 0 || p.hq % p.hkv != 0 || p.d <= 0)
      return InvalidArgument(who +
                             " backend: attention shape (tq >= 0; hq a multiple of hkv; d > 0)");
    return check_key_blocks(blocks, n);
  }
  // A block array when n > 0, and blocks with n >= 0 and pointers (attention
  // over blocks, gather_blocks).
  Status check_key_blocks(const kernels::KeyBlock* blocks, size_t n) const {
    if (n > 0 && !blocks)
      return InvalidArgument(std::string(name()) + " backend: null key block array");
    for (size_t i = 0; i < n; ++i)
      if (blocks[i].n < 0 || (blocks[i].n > 0 && (!blocks[i].k || !blocks[i].v || !blocks[i].pos)))
        return InvalidArgument(std::string(name()) +
                               " backend: key block with n < 0 or null pointers");
    return Status::Ok();
  }

 private:
  std::vector<std::chrono::steady_clock::time_point> host_marks_;
};

}  // namespace ringlm
