// A Backend that forwards every required op to another backend, for tests
// that observe or change a few ops (override them) or that exercise the
// Backend base class's defaults of the optional ops (matmul_add,
// swiglu_matmul_add, attention over key blocks, gather_blocks), which it
// does not forward.
#pragma once

#include <memory>
#include <string_view>
#include <utility>

#include "backend/backend.h"

namespace ringlm::test {

class ForwardingBackend : public Backend {
 public:
  ForwardingBackend(std::unique_ptr<Backend> inner, bool host_memory)
      : inner_(std::move(inner)), host_memory_(host_memory) {}

  std::string_view name() const override { return "forwarding"; }
  bool host_memory() const override { return host_memory_; }
  Result<Buffer> alloc(size_t bytes) override { return inner_->alloc(bytes); }
  Status copy_from_host(void* d, const void* s, size_t n) override {
    return inner_->copy_from_host(d, s, n);
  }
  Status copy_to_host(void* d, const void* s, size_t n) override {
    return inner_->copy_to_host(d, s, n);
  }
  Status copy(void* d, const void* s, size_t n) override { return inner_->copy(d, s, n); }
  Status fill(float* d, float v, int64_t n) override { return inner_->fill(d, v, n); }
  Status zero(void* d, size_t bytes) override { return inner_->zero(d, bytes); }
  Result<int> mark() override { return inner_->mark(); }
  Result<double> elapsed_ms(int a, int b) override { return inner_->elapsed_ms(a, b); }
  void release_marks() override { inner_->release_marks(); }
  Status store_kv(const float* s, void* d, kernels::KvType t, int64_t n) override {
    return inner_->store_kv(s, d, t, n);
  }
  Status synchronize() override { return inner_->synchronize(); }
  Result<std::unique_ptr<Weight>> make_weight(const float* h, int64_t r, int64_t c) override {
    return inner_->make_weight(h, r, c);
  }
  Status matmul(const float* x, const Weight& w, const float* b, float* y, int64_t m) override {
    return inner_->matmul(x, w, b, y, m);
  }
  Status embedding(const Weight& t, const int32_t* ids, float* out, int64_t n) override {
    return inner_->embedding(t, ids, out, n);
  }
  Status rmsnorm(const float* x, const float* w, float* y, int64_t rows, int64_t dim,
                 float eps) override {
    return inner_->rmsnorm(x, w, y, rows, dim, eps);
  }
  Status rope(float* x, const int32_t* pos, int64_t rows, int heads,
              const kernels::RopeConfig& cfg) override {
    return inner_->rope(x, pos, rows, heads, cfg);
  }
  Status swiglu(const float* g, const float* u, float* out, int64_t n) override {
    return inner_->swiglu(g, u, out, n);
  }
  Status add(float* y, const float* x, int64_t n) override { return inner_->add(y, x, n); }
  Status attention_partial(const kernels::AttentionParams& p) override {
    return inner_->attention_partial(p);
  }
  Status merge_partials(const kernels::MergeParams& p) override {
    return inner_->merge_partials(p);
  }

 protected:
  Backend& inner() { return *inner_; }

 private:
  std::unique_ptr<Backend> inner_;
  bool host_memory_;
};

}  // namespace ringlm::test
