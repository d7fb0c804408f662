#include "cp/ring_common.h"

#include <algorithm>
#include <limits>
#include <string>

namespace ringlm::cp_internal {

Status check_shape(const Comm& comm, const Backend& backend, const RingAttentionArgs& a,
                   const char* what) {
  const std::string w(what);
  if (backend.host_memory() && comm.device_memory()) {
    return Unsupported(w + ": a device-memory Comm cannot move a host backend's buffers");
  }
  if (a.tq < 0 || a.tk < 0) return InvalidArgument(w + ": negative tq or tk");
  if (a.hq < 1 || a.hkv < 1 || a.d < 1 || a.hq % a.hkv != 0) {
    return InvalidArgument(
        w + ": need hq, hkv, d >= 1 and hq a multiple of hkv (hq=" + std::to_string(a.hq) +
        ", hkv=" + std::to_string(a.hkv) + ", d=" + std::to_string(a.d) + ")");
  }
  if (a.tq > std::numeric_limits<int32_t>::max() || a.tk > std::numeric_limits<int32_t>::max()) {
    return InvalidArgument(w + ": tq or tk beyond the int32 range");
  }
  const auto by_rank_ok = [&](std::span<const std::vector<int32_t>> v, int64_t len) {
    if (v.empty()) return true;
    if (int(v.size()) != comm.size()) return false;
    for (const auto& x : v)
      if (int64_t(x.size()) != len) return false;
    return true;
  };
  if (!by_rank_ok(a.q_pos_by_rank, a.tq) || !by_rank_ok(a.k_pos_by_rank, a.tk)) {
    return InvalidArgument(w + ": positions by rank need N vectors of tq (queries) or tk (KV)");
  }
  return Status::Ok();
}

Status check_args(const Comm& comm, const Backend& backend, const RingAttentionArgs& a,
                  const float* out, const char* what) {
  RINGLM_RETURN_IF_ERROR(check_shape(comm, backend, a, what));
  const std::string w(what);
  if (a.tq > 0 && (!a.q || !a.q_pos || !out)) {
    return InvalidArgument(w + ": null q, q_pos or out");
  }
  if (a.tk > 0 && (!a.k || !a.v || !a.k_pos)) {
    return InvalidArgument(w + ": null k, v or k_pos");
  }
  return Status::Ok();
}

Status ints_to_host(Backend& backend, const int32_t* src, int64_t n, std::vector<int32_t>* dst) {
  dst->resize(static_cast<size_t>(n));
  if (n == 0) return Status::Ok();
  return backend.copy_to_host(dst->data(), src, static_cast<size_t>(n) * sizeof(int32_t));
}

Result<const int32_t*> own_positions(Backend& backend,
                                     std::span<const std::vector<int32_t>> by_rank, int rank,
                                     const int32_t* dev, int64_t n, std::vector<int32_t>* read) {
  if (!by_rank.empty()) return by_rank[size_t(rank)].data();
  RINGLM_RETURN_IF_ERROR(ints_to_host(backend, dev, n, read));
  return static_cast<const int32_t*>(read->data());
}

std::vector<QueryRun> query_runs(const int32_t* pos, int64_t n) {
  std::vector<QueryRun> runs;
  for (int64_t i = 0; i < n; ++i) {
    if (pos[i] < 0) continue;
    if (!runs.empty() && runs.back().end == i && pos[i] == runs.back().max_pos + 1) {
      runs.back().end = i + 1;
      runs.back().max_pos = pos[i];
    } else {
      runs.push_back(QueryRun{i, i + 1, pos[i]});
    }
  }
  if (runs.size() > kMaxRuns) {
    QueryRun all{runs.front().begin, runs.back().end, -1};
    for (const QueryRun& r : runs) all.max_pos = std::max(all.max_pos, r.max_pos);
    runs.assign(1, all);
  }
  return runs;
}

KeySpan visible_keys(const int32_t* k_pos, int64_t tk, int32_t max_pos) {
  KeySpan s;
  int64_t j = 0;
  while (j < tk && !(k_pos[j] >= 0 && k_pos[j] <= max_pos)) ++j;
  if (j == tk) return s;
  s.begin = j;
  int64_t last = tk - 1;
  while (!(k_pos[last] >= 0 && k_pos[last] <= max_pos)) --last;
  s.end = last + 1;
  return s;
}

std::vector<KeySpan> key_runs(const int32_t* k_pos, KeySpan span, int32_t max_pos) {
  std::vector<KeySpan> runs;
  for (int64_t j = span.begin; j < span.end;) {
    if (k_pos[j] < 0) {
      ++j;
      continue;
    }
    int64_t e = j + 1;
    while (e < span.end && k_pos[e] >= 0 && k_pos[e] == k_pos[e - 1] + 1) ++e;
    if (k_pos[j] <= max_pos) runs.push_back(KeySpan{j, e});  // first key = smallest
    if (runs.size() > kMaxKeyRuns) return {span};
    j = e;
  }
  return runs;
}

kernels::AttentionParams attention_shape(const RingAttentionArgs& a) {
  kernels::AttentionParams p;
  p.hq = a.hq;
  p.hkv = a.hkv;
  p.d = a.d;
  p.scale = a.scale;
  p.causal = true;
  p.kv = a.kv;
  return p;
}

Status fill_empty(Backend& backend, const RingAttentionArgs& a, int64_t rows, float* out,
                  float* lse) {
  if (rows <= 0) return Status::Ok();
  RINGLM_RETURN_IF_ERROR(backend.fill(out, 0.f, rows * a.hq * a.d));
  return backend.fill(lse, -std::numeric_limits<float>::infinity(), rows * a.hq);
}

bool splits_key_runs(const RingAttentionArgs& a, const Backend& backend, int64_t rows) {
  return a.key_runs == KeyRunSplit::kAlways ||
         (a.key_runs == KeyRunSplit::kAuto && !backend.host_memory() &&
          rows >= kKeyRunSplitMinRows);
}

Status reserve_split(Backend& backend, const RingAttentionArgs& a, int64_t tq, RingWorkspace& ws) {
  if (tq < 1 || !splits_key_runs(a, backend, tq)) return Status::Ok();
  return ws.backend_buffer(backend, RingWorkspace::kSplit, sizeof(float) * partial_floats(a, tq))
      .status();
}

Result<bool> block_partial(Backend& backend, const RingAttentionArgs& a, const QBlock& q,
                           const std::vector<QueryRun>& runs, const KvBlock& kv, float* out,
                           float* lse, RingStats* stats, RingWorkspace& ws) {
  const int64_t q_row = static_cast<int64_t>(a.hq) * a.d;    // floats per query row
  const int64_t kv_row = static_cast<int64_t>(a.hkv) * a.d;  // elements per key row
  int64_t covered = 0;  // rows [0, covered) are computed or filled
  bool any = false;
  for (const QueryRun& run : runs) {
    const KeySpan span = visible_keys(kv.host_pos, kv.tk, run.max_pos);
    if (span.empty()) continue;  // fully masked for this run: no kernel call
    RINGLM_RETURN_IF_ERROR(
        fill_empty(backend, a, run.begin - covered, out + covered * q_row, lse + covered * a.hq));
    const int64_t rows = run.end - run.begin;
    std::vector<KeySpan> parts = splits_key_runs(a, backend, rows)
                                     ? key_runs(kv.host_pos, span, run.max_pos)
                                     : std::vector<KeySpan>{span};
    if (parts.empty()) parts.push_back(span);
    float* run_out = out + run.begin * q_row;
    float* run_lse = lse + run.begin * a.hq;
    float* split = nullptr;  // [rows, hq, d] then [rows, hq]: a later key run's partial
    if (parts.size() > 1) {
      RINGLM_ASSIGN_OR_RETURN(uint8_t* buf,
                              ws.backend_buffer(backend, RingWorkspace::kSplit,
                                                sizeof(float) * partial_floats(a, rows)));
      split = reinterpret_cast<float*>(buf);
    }
    for (size_t i = 0; i < parts.size(); ++i) {
      const KeySpan& ks = parts[i];
      kernels::AttentionParams p = attention_shape(a);
      p.q = q.q + run.begin * q_row;  // [run rows, hq, d]
      p.q_pos = q.pos + run.begin;
      p.q_pos_host = q.host_pos + run.begin;
      p.k = kernels::kv_advance(kv.k, ks.begin * kv_row, a.kv);  // [keys, hkv, d]
      p.v = kernels::kv_advance(kv.v, ks.begin * kv_row, a.kv);
      p.k_pos = kv.pos + ks.begin;
      p.k_pos_host = kv.host_pos + ks.begin;
      // The first key run writes the run's rows; later ones go to scratch
      // and are merged in.
      p.out = i == 0 ? run_out : split;
      p.lse = i == 0 ? run_lse : split + rows * q_row;
      p.tq = rows;
      p.tk = ks.end - ks.begin;
      RINGLM_RETURN_IF_ERROR(backend.attention_partial(p));
      if (stats) ++stats->attention_calls;
      if (i > 0) {
        kernels::MergeParams m{run_out, run_lse, p.out, p.lse, rows * a.hq, a.d};
        RINGLM_RETURN_IF_ERROR(backend.merge_partials(m));
      }
    }
    covered = run.end;
    any = true;
  }
  if (any) {
    RINGLM_RETURN_IF_ERROR(
        fill_empty(backend, a, q.tq - covered, out + covered * q_row, lse + covered * a.hq));
  }
  return any;
}

Status merge_blocks(Backend& backend, const RingAttentionArgs& a, const float* blocks, int n,
                    int64_t rows, float* out, float* lse_scratch) {
  const int64_t o_floats = rows * a.hq * a.d;
  const size_t block_floats = partial_floats(a, rows);
  RINGLM_RETURN_IF_ERROR(backend.copy(out, blocks, o_floats * sizeof(float)));
  RINGLM_RETURN_IF_ERROR(backend.copy(lse_scratch, blocks + o_floats, rows * a.hq * sizeof(float)));
  for (int s = 1; s < n; ++s) {
    const float* b = blocks + s * block_floats;
    kernels::MergeParams m;
    m.acc_out = out;
    m.acc_lse = lse_scratch;
    m.out = b;
    m.lse = b + o_floats;
    m.rows = rows * a.hq;
    m.d = a.d;
    RINGLM_RETURN_IF_ERROR(backend.merge_partials(m));
  }
  return Status::Ok();
}

// --- StepTimer ---

StepTimer::StepTimer(Backend& backend, const Comm& comm)
    : backend_(backend), device_(comm.stream_ordered() && !backend.host_memory()) {
  if (device_) backend_.release_marks();
}

Status StepTimer::begin() {
  if (!device_) {
    t0_ = Clock::now();
    return Status::Ok();
  }
  RINGLM_ASSIGN_OR_RETURN(int m, backend_.mark());
  marks_.push_back(m);
  return Status::Ok();
}

Result<const Clock::time_point*> StepTimer::end(RingStats* stats) {
  if (device_) {
    RINGLM_ASSIGN_OR_RETURN(int m, backend_.mark());
    marks_.push_back(m);
    return static_cast<const Clock::time_point*>(nullptr);
  }
  RINGLM_RETURN_IF_ERROR(backend_.synchronize());
  t1_ = Clock::now();
  if (stats) stats->compute_ms += ms_between(t0_, t1_);
  return &t1_;
}

Status StepTimer::finish(RingStats* stats) {
  if (!device_ || marks_.empty()) return Status::Ok();
  RINGLM_RETURN_IF_ERROR(backend_.synchronize());
  for (size_t i = 0; i + 1 < marks_.size(); i += 2) {
    RINGLM_ASSIGN_OR_RETURN(double compute, backend_.elapsed_ms(marks_[i], marks_[i + 1]));
    if (stats) stats->compute_ms += compute;
    if (i + 2 < marks_.size()) {
      RINGLM_ASSIGN_OR_RETURN(double gap, backend_.elapsed_ms(marks_[i + 1], marks_[i + 2]));
      if (stats) stats->comm_exposed_ms += std::max(0.0, gap);
    }
  }
  marks_.clear();
  return Status::Ok();
}

// --- CommBuffer ---

Status CommBuffer::init(const Comm& comm, Backend& backend, size_t bytes, RingWorkspace& ws,
                        RingWorkspace::Slot slot) {
  backend_ = &backend;
  staged_ = staged(comm, backend);
  bytes_ = bytes;
  RINGLM_ASSIGN_OR_RETURN(dev_, ws.backend_buffer(backend, slot, bytes));
  if (staged_) {
    RINGLM_ASSIGN_OR_RETURN(host_, ws.host_buffer(slot, bytes));
  }
  return Status::Ok();
}

Status CommBuffer::sync_to_comm(size_t offset, size_t n) {
  if (!staged_ || n == 0) return Status::Ok();
  return backend_->copy_to_host(host_ + offset, dev_ + offset, n);
}

Status CommBuffer::sync_to_backend(size_t offset, size_t n) {
  if (!staged_ || n == 0) return Status::Ok();
  return backend_->copy_from_host(dev_ + offset, host_ + offset, n);
}

// --- BlockRing ---

BlockRing::~BlockRing() {
  if (pending_) (void)pending_->wait();
  (void)drain(nullptr);
}

Result<BlockRingMemory> take_block_ring(const Comm& comm, Backend& backend, size_t bytes,
                                        RingWorkspace& ws) {
  using W = RingWorkspace;
  BlockRingMemory m;
  if (staged(comm, backend)) {
    RINGLM_ASSIGN_OR_RETURN(m.travel[0], ws.host_buffer(W::kBlock0, bytes));
    RINGLM_ASSIGN_OR_RETURN(m.travel[1], ws.host_buffer(W::kBlock1, bytes));
    RINGLM_ASSIGN_OR_RETURN(m.mirror, ws.backend_buffer(backend, W::kMirror, bytes));
  } else {
    RINGLM_ASSIGN_OR_RETURN(m.travel[0], ws.backend_buffer(backend, W::kBlock0, bytes));
    RINGLM_ASSIGN_OR_RETURN(m.travel[1], ws.backend_buffer(backend, W::kBlock1, bytes));
  }
  return m;
}

Status BlockRing::init(const std::vector<Piece>& pieces, RingWorkspace& ws) {
  staged_ = staged(comm_, backend_);
  device_wait_ = comm_.stream_ordered() && !backend_.host_memory();
  device_positions_ = !backend_.host_memory() && !staged_;
  bytes_ = 0;
  for (const Piece& p : pieces) bytes_ += p.bytes;
  RINGLM_ASSIGN_OR_RETURN(mem_, take_block_ring(comm_, backend_, bytes_, ws));
  cur_ = 0;
  size_t off = 0;
  for (const Piece& p : pieces) {
    if (p.bytes == 0) continue;
    if (staged_) {
      RINGLM_RETURN_IF_ERROR(backend_.copy(mem_.mirror + off, p.src, p.bytes));
      RINGLM_RETURN_IF_ERROR(backend_.copy_to_host(mem_.travel[0] + off, p.src, p.bytes));
    } else {
      RINGLM_RETURN_IF_ERROR(backend_.copy(mem_.travel[0] + off, p.src, p.bytes));
    }
    off += p.bytes;
  }
  // A device Comm that is not stream-ordered reads the first block as soon
  // as start() hands it over: the copies above must be done by then.
  if (!staged_ && !device_wait_ && !backend_.host_memory()) return backend_.synchronize();
  return Status::Ok();
}

uint8_t* BlockRing::comm_buf(int i) { return mem_.travel[i]; }

const uint8_t* BlockRing::block() const { return staged_ ? mem_.mirror : mem_.travel[cur_]; }

Result<const int32_t*> BlockRing::positions(std::span<const std::vector<int32_t>> by_rank,
                                            int owner, size_t offset, int64_t n) {
  if (!by_rank.empty()) return by_rank[size_t(owner)].data();
  if (staged_) return reinterpret_cast<const int32_t*>(mem_.travel[cur_] + offset);
  // The current block's transfer, waited on the device only: the host waits
  // too (with its deadline) before a copy that would block on it without one.
  if (device_wait_ && !on_device_.empty()) {
    Status st = on_device_.back()->wait();
    if (!st.ok()) return st.WithContext("ring exchange");
  }
  const auto* pos = reinterpret_cast<const int32_t*>(mem_.travel[cur_] + offset);
  if (!device_positions_) return pos;
  RINGLM_RETURN_IF_ERROR(ints_to_host(backend_, pos, n, &host_scratch_));
  return static_cast<const int32_t*>(host_scratch_.data());
}

Status BlockRing::start(int step) {
  started_ = Clock::now();
  const uint32_t tag = tag_base_ + static_cast<uint32_t>(step % 4096);
  auto req = comm_.ring_exchange(comm_buf(cur_), comm_buf(1 - cur_), bytes_, tag);
  if (!req.ok()) return req.status().WithContext("ring exchange");
  pending_ = std::move(req).value();
  return Status::Ok();
}

Status BlockRing::finish(RingStats* stats, const Clock::time_point* compute_done) {
  if (device_wait_ && pending_) {
    Status st = pending_->wait_on_device();
    on_device_.push_back(std::move(pending_));
    if (!st.ok()) return st.WithContext("ring exchange");
    cur_ ^= 1;
    if (stats) stats->bytes_sent += bytes_;
    return Status::Ok();
  }
  Status st = pending_ ? pending_->wait() : Status::Ok();
  const auto arrived = Clock::now();
  pending_.reset();
  if (!st.ok()) return st.WithContext("ring exchange");
  cur_ ^= 1;
  if (staged_) {
    RINGLM_RETURN_IF_ERROR(backend_.copy_from_host(mem_.mirror, mem_.travel[cur_], bytes_));
  }
  if (stats) {
    if (compute_done)
      stats->comm_exposed_ms += std::max(0.0, ms_between(*compute_done, Clock::now()));
    stats->comm_total_ms += ms_between(started_, arrived);
    stats->bytes_sent += bytes_;
  }
  return Status::Ok();
}

Status BlockRing::drain(RingStats* stats) {
  Status first;
  for (auto& req : on_device_) {
    Status st = req->wait();
    if (!st.ok()) {
      if (first.ok()) first = st.WithContext("ring exchange");
      continue;
    }
    const double ms = req->device_ms();
    if (stats && ms >= 0) stats->comm_total_ms += ms;
  }
  on_device_.clear();
  return first;
}

}  // namespace ringlm::cp_internal
