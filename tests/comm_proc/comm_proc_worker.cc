// One rank of a process-level comm test. Launched N times by comm_proc_test
// (or comm_proc_redis_test) with the same --store, --prefix and --size.
//
//   comm_proc_worker --rank R --size N --store SPEC [--prefix P]
//                    [--timeout-ms T] [--mode data|block|loop]
//                    [--ready-dir DIR] [--idle] [--bandwidth BYTES]
//
// Modes:
//   data   ring_exchange (sizes 0, 1, 1 MiB + 3, two tags at once),
//          all_to_all, all_to_allv and all_gather; every byte checked.
//          --bandwidth BYTES also prints the measured ring bandwidth.
//   block  after a barrier, write DIR/ready.R, then block in one
//          ring_exchange (a rank given --idle sleeps instead and never joins).
//   loop   after a barrier, write DIR/ready.R, then run ring exchanges of
//          4 MiB and all_to_alls until one fails.
// Exit codes: 0 success; 1 usage; 2 wrong data; 100 + StatusCode on an error.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "comm/comm.h"
#include "comm/gloo/gloo_comm.h"
#include "comm/link_bandwidth.h"

namespace ringlm {
namespace {

struct Args {
  int rank = -1;
  int size = 0;
  std::string store;
  std::string prefix = "proc";
  int timeout_ms = 20000;
  std::string mode = "data";
  std::string ready_dir;
  bool idle = false;
  size_t bandwidth_bytes = 0;
};

int fail(int rank, const Status& s) {
  std::fprintf(stderr, "rank %d: %s\n", rank, s.ToString().c_str());
  return 100 + static_cast<int>(s.code());
}

uint8_t pattern(int src, int dst, size_t i, int salt) {
  return static_cast<uint8_t>(src * 131 + dst * 31 + i * 7 + salt * 17 + (i >> 8));
}

bool check_block(const uint8_t* got, size_t bytes, int src, int dst, int salt, int me,
                 const char* what) {
  for (size_t i = 0; i < bytes; ++i) {
    if (got[i] != pattern(src, dst, i, salt)) {
      std::fprintf(stderr, "rank %d: %s: byte %zu from rank %d is wrong\n", me, what, i, src);
      return false;
    }
  }
  return true;
}

void write_ready(const Args& a) {
  if (a.ready_dir.empty()) return;
  std::string tmp = a.ready_dir + "/.ready." + std::to_string(a.rank);
  { std::ofstream(tmp) << getpid() << "\n"; }
  std::rename(tmp.c_str(), (a.ready_dir + "/ready." + std::to_string(a.rank)).c_str());
}

int run_data(Comm& c, const Args& a) {
  const int r = c.rank(), n = c.size();
  // Ring exchange: two tags in flight at once, several sizes.
  for (size_t bytes : {size_t{0}, size_t{1}, (size_t{1} << 20) + 3}) {
    std::vector<uint8_t> s0(bytes), s1(bytes), r0(bytes, 0), r1(bytes, 0);
    for (size_t i = 0; i < bytes; ++i) {
      s0[i] = pattern(r, c.next(), i, 1);
      s1[i] = pattern(r, c.next(), i, 2);
    }
    auto q0 = c.ring_exchange(s0.data(), r0.data(), bytes, 0);
    if (!q0.ok()) return fail(r, q0.status());
    auto q1 = c.ring_exchange(s1.data(), r1.data(), bytes, 1);
    if (!q1.ok()) return fail(r, q1.status());
    if (Status s = (*q1)->wait(); !s.ok()) return fail(r, s);
    if (Status s = (*q0)->wait(); !s.ok()) return fail(r, s);
    if (!check_block(r0.data(), bytes, c.prev(), r, 1, r, "ring tag 0") ||
        !check_block(r1.data(), bytes, c.prev(), r, 2, r, "ring tag 1")) {
      return 2;
    }
  }
  // all_to_all
  const size_t bpr = 65537;
  std::vector<uint8_t> send(bpr * n), recv(bpr * n, 0);
  for (int d = 0; d < n; ++d) {
    for (size_t i = 0; i < bpr; ++i) send[d * bpr + i] = pattern(r, d, i, 3);
  }
  if (Status s = c.all_to_all(send.data(), recv.data(), bpr); !s.ok()) return fail(r, s);
  for (int s = 0; s < n; ++s) {
    if (!check_block(recv.data() + s * bpr, bpr, s, r, 3, r, "all_to_all")) return 2;
  }
  // all_to_allv, zeros included
  auto size_of = [](int src, int dst) -> size_t {
    return ((src + 2 * dst) % 3 == 0) ? 0 : size_t(1000 * (src + 1) + dst);
  };
  std::vector<size_t> sb(n), rb(n);
  size_t st = 0, rt = 0;
  for (int p = 0; p < n; ++p) {
    sb[p] = size_of(r, p);
    rb[p] = size_of(p, r);
    st += sb[p];
    rt += rb[p];
  }
  std::vector<uint8_t> vs(st), vr(rt, 0);
  size_t off = 0;
  for (int d = 0; d < n; ++d) {
    for (size_t i = 0; i < sb[d]; ++i) vs[off + i] = pattern(r, d, i, 4);
    off += sb[d];
  }
  if (Status s = c.all_to_allv(vs.data(), sb, vr.data(), rb); !s.ok()) return fail(r, s);
  off = 0;
  for (int s = 0; s < n; ++s) {
    if (!check_block(vr.data() + off, rb[s], s, r, 4, r, "all_to_allv")) return 2;
    off += rb[s];
  }
  // all_gather
  std::vector<uint8_t> mine(999), all(999 * n, 0);
  for (size_t i = 0; i < mine.size(); ++i) mine[i] = pattern(r, 0, i, 5);
  if (Status s = c.all_gather(mine.data(), all.data(), mine.size()); !s.ok()) return fail(r, s);
  for (int s = 0; s < n; ++s) {
    if (!check_block(all.data() + s * 999, 999, s, 0, 5, r, "all_gather")) return 2;
  }
  if (a.bandwidth_bytes > 0) {
    auto bw = measure_ring_bandwidth(c, a.bandwidth_bytes, 20);
    if (!bw.ok()) return fail(r, bw.status());
    if (r == 0) {
      std::printf("ring bandwidth, %d processes, %zu-byte steps: %.2f GB/s per rank\n", n,
                  a.bandwidth_bytes, *bw / 1e9);
    }
  }
  if (Status s = c.barrier(); !s.ok()) return fail(r, s);
  std::printf("rank %d of %d: ok, %llu bytes sent\n", r, n,
              static_cast<unsigned long long>(c.bytes_sent()));
  return 0;
}

int run_block(Comm& c, const Args& a) {
  if (Status s = c.barrier(); !s.ok()) return fail(c.rank(), s);
  write_ready(a);
  if (a.idle) {
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  std::vector<uint8_t> send(1 << 20, 7), recv(1 << 20, 0);
  auto req = c.ring_exchange(send.data(), recv.data(), send.size(), 0);
  if (!req.ok()) return fail(c.rank(), req.status());
  Status s = (*req)->wait();
  if (!s.ok()) return fail(c.rank(), s);
  std::fprintf(stderr, "rank %d: ring exchange completed although a peer never joined\n", c.rank());
  return 0;
}

int run_loop(Comm& c, const Args& a) {
  if (Status s = c.barrier(); !s.ok()) return fail(c.rank(), s);
  write_ready(a);
  const size_t bytes = 4 << 20;
  std::vector<uint8_t> send(bytes, uint8_t(c.rank())), recv(bytes);
  std::vector<uint8_t> a2a_send(size_t(c.size()) * 65536), a2a_recv(a2a_send.size());
  for (;;) {
    auto req = c.ring_exchange(send.data(), recv.data(), bytes, 0);
    if (!req.ok()) return fail(c.rank(), req.status());
    if (Status s = (*req)->wait(); !s.ok()) return fail(c.rank(), s);
    if (Status s = c.all_to_all(a2a_send.data(), a2a_recv.data(), 65536); !s.ok()) {
      return fail(c.rank(), s);
    }
  }
}

bool parse(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (k == "--idle") {
      a->idle = true;
      continue;
    }
    if ((v = val()) == nullptr) return false;
    if (k == "--rank")
      a->rank = std::atoi(v);
    else if (k == "--size")
      a->size = std::atoi(v);
    else if (k == "--store")
      a->store = v;
    else if (k == "--prefix")
      a->prefix = v;
    else if (k == "--timeout-ms")
      a->timeout_ms = std::atoi(v);
    else if (k == "--mode")
      a->mode = v;
    else if (k == "--ready-dir")
      a->ready_dir = v;
    else if (k == "--bandwidth")
      a->bandwidth_bytes = std::strtoull(v, nullptr, 10);
    else
      return false;
  }
  return a->rank >= 0 && a->size > 0 && !a->store.empty();
}

int run(int argc, char** argv) {
  Args a;
  if (!parse(argc, argv, &a)) {
    std::fprintf(stderr,
                 "usage: comm_proc_worker --rank R --size N --store SPEC [--prefix P] "
                 "[--timeout-ms T] [--mode data|block|loop] [--ready-dir DIR] [--idle] "
                 "[--bandwidth BYTES]\n");
    return 1;
  }
  auto spec = StoreSpec::Parse(a.store);
  if (!spec.ok()) return fail(a.rank, spec.status());
  GlooOptions o;
  o.rank = a.rank;
  o.size = a.size;
  o.store = *spec;
  o.key_prefix = a.prefix;
  o.timeout = std::chrono::milliseconds(a.timeout_ms);
  o.connect_timeout = std::chrono::milliseconds(a.timeout_ms);
  auto comm = GlooComm::Connect(o);
  if (!comm.ok()) return fail(a.rank, comm.status());
  if (a.mode == "data") return run_data(**comm, a);
  if (a.mode == "block") return run_block(**comm, a);
  if (a.mode == "loop") return run_loop(**comm, a);
  std::fprintf(stderr, "unknown mode %s\n", a.mode.c_str());
  return 1;
}

}  // namespace
}  // namespace ringlm

int main(int argc, char** argv) { return ringlm::run(argc, argv); }
