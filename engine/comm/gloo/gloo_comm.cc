#include "comm/gloo/gloo_comm.h"

#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/store.h>
#include <gloo/transport/tcp/device.h>
#include <signal.h>

#include <cstring>
#include <mutex>
#include <string>
#include <utility>

#include "comm/gloo/gloo_transfer.h"
#include "comm/self_comm.h"

namespace ringlm {

namespace {

// Gloo slots: ring exchanges and collectives live in disjoint ranges.
constexpr uint64_t kSlotSpaceBits = 48;
constexpr uint64_t kRingSlotBase = uint64_t{1} << kSlotSpaceBits;
constexpr uint64_t kCollectiveSlotBase = uint64_t{2} << kSlotSpaceBits;
constexpr uint64_t kSlotMask = (uint64_t{1} << kSlotSpaceBits) - 1;
constexpr uint32_t kMaxTag = 1u << 16;

void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current;
    std::memset(&current, 0, sizeof(current));
    if (sigaction(SIGPIPE, nullptr, &current) != 0) return;
    if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) return;
    struct sigaction ignore;
    std::memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, nullptr);
  });
}

class GlooRequest final : public CommRequest {
 public:
  explicit GlooRequest(std::unique_ptr<GlooTransfer> transfer) : transfer_(std::move(transfer)) {}
  Status wait() override { return transfer_->wait(); }

 private:
  std::unique_ptr<GlooTransfer> transfer_;  // its destructor waits when wait() was never called
};

Status check_buffer(const void* p, size_t bytes, const char* name) {
  if (p == nullptr && bytes > 0) {
    return InvalidArgument(std::string("null ") + name + " buffer with a non-zero size");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Comm>> GlooComm::Connect(const GlooOptions& o) {
  RINGLM_CHECK_OR_RETURN(o.size >= 1, InvalidArgument,
                         "group size " + std::to_string(o.size) + " is not positive");
  RINGLM_CHECK_OR_RETURN(
      o.rank >= 0 && o.rank < o.size, InvalidArgument,
      "rank " + std::to_string(o.rank) + " outside a group of " + std::to_string(o.size));
  RINGLM_CHECK_OR_RETURN(o.timeout.count() > 0 && o.connect_timeout.count() > 0, InvalidArgument,
                         "timeouts must be positive");
  if (o.size == 1) return std::unique_ptr<Comm>(new SelfComm(o.timeout));

  ignore_sigpipe_once();
  RINGLM_ASSIGN_OR_RETURN(std::unique_ptr<OpenedStore> store,
                          open_store(o.store, o.key_prefix, o.connect_timeout));

  const std::string who = "rank " + std::to_string(o.rank) + " of " + std::to_string(o.size);
  std::shared_ptr<gloo::transport::Device> device;
  try {
    gloo::transport::tcp::attr attr;
    if (!o.iface.empty()) {
      attr.iface = o.iface;
    } else {
      attr.hostname = o.hostname;
    }
    device = gloo::transport::tcp::CreateDevice(attr);
  } catch (...) {
    Status s = status_from_current_exception(
        who + ": cannot use " +
        (o.iface.empty() ? "host '" + o.hostname : "interface '" + o.iface) + "'");
    return InvalidArgument(s.message());
  }

  std::shared_ptr<GlooGroup> group;
  try {
    auto context = std::make_shared<gloo::rendezvous::Context>(o.rank, o.size);
    context->setTimeout(o.connect_timeout);
    context->connectFullMesh(store->store(), device);
    context->setTimeout(o.timeout);
    group = std::make_shared<GlooGroup>(std::move(context));
  } catch (...) {
    Status s = status_from_current_exception(who + " connecting through " + o.store.ToString() +
                                             " (prefix '" + o.key_prefix + "')");
    // A key of this rank already there: a group that did not finish (killed
    // before it could take its keys out) or another group on the same store.
    const std::string& m = s.message();
    if (m.find("already exists") != std::string::npos || m.find("already set") != std::string::npos)
      return Unavailable(m + "; the store holds this rank's key from a group that did not finish " +
                         "(or another group uses it now): clear " + o.store.ToString() +
                         " or use another store");
    // Store conflicts and other Gloo assertions during rendezvous: the group
    // could not form.
    if (s.code() == StatusCode::kInternal) return Unavailable(m);
    return s;
  }
  std::unique_ptr<Comm> comm(new GlooComm(std::move(group), o.timeout));
  // Once every rank has connected (so has read the others' addresses), each
  // takes its own keys out of the store: the same store and prefix then
  // serve the next group, such as the next run of the same command.
  RINGLM_RETURN_IF_ERROR(comm->barrier().WithContext(who + " after connecting"));
  store->erase_own_keys();
  return comm;
}

GlooComm::GlooComm(std::shared_ptr<GlooGroup> group, std::chrono::milliseconds timeout)
    : group_(std::move(group)),
      rank_(group_->rank()),
      size_(group_->size()),
      timeout_ms_(timeout.count()) {}

GlooComm::~GlooComm() = default;

std::chrono::steady_clock::time_point GlooComm::deadline() const {
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_.load());
}

uint64_t GlooComm::next_collective_slot() {
  return kCollectiveSlotBase | (collective_seq_++ & kSlotMask);
}

void GlooComm::abort() { group_->abort(); }

bool GlooComm::failed() const { return !group_->failure().ok(); }

uint64_t GlooComm::bytes_sent() const { return group_->bytes_sent(); }

Result<std::unique_ptr<CommRequest>> GlooComm::ring_exchange(const void* send, void* recv,
                                                             size_t bytes, uint32_t tag) {
  RINGLM_CHECK_OR_RETURN(tag < kMaxTag, InvalidArgument,
                         "ring_exchange tag " + std::to_string(tag) + " is not below 2^16");
  RINGLM_RETURN_IF_ERROR(check_buffer(send, bytes, "send"));
  RINGLM_RETURN_IF_ERROR(check_buffer(recv, bytes, "recv"));
  RINGLM_RETURN_IF_ERROR(group_->check_usable());
  auto transfer = std::make_unique<GlooTransfer>(group_, deadline());
  if (bytes > 0) {
    transfer->add_send(next(), send, bytes);
    transfer->add_recv(prev(), recv, bytes);
  }
  RINGLM_RETURN_IF_ERROR(transfer->start(kRingSlotBase | tag));
  return std::unique_ptr<CommRequest>(new GlooRequest(std::move(transfer)));
}

Status GlooComm::all_to_allv(const void* send, const std::vector<size_t>& send_bytes, void* recv,
                             const std::vector<size_t>& recv_bytes) {
  const size_t n = static_cast<size_t>(size_);
  RINGLM_CHECK_OR_RETURN(
      send_bytes.size() == n && recv_bytes.size() == n, InvalidArgument,
      "all_to_allv: send_bytes and recv_bytes need one entry per rank (" + std::to_string(n) + ")");
  const size_t me = static_cast<size_t>(rank_);
  RINGLM_CHECK_OR_RETURN(send_bytes[me] == recv_bytes[me], InvalidArgument,
                         "all_to_allv: rank sends itself " + std::to_string(send_bytes[me]) +
                             " bytes but expects " + std::to_string(recv_bytes[me]));
  size_t send_total = 0, recv_total = 0;
  for (size_t r = 0; r < n; ++r) {
    send_total += send_bytes[r];
    recv_total += recv_bytes[r];
  }
  RINGLM_RETURN_IF_ERROR(check_buffer(send, send_total, "send"));
  RINGLM_RETURN_IF_ERROR(check_buffer(recv, recv_total, "recv"));
  RINGLM_RETURN_IF_ERROR(group_->check_usable());

  const auto* src = static_cast<const uint8_t*>(send);
  auto* dst = static_cast<uint8_t*>(recv);
  GlooTransfer transfer(group_, deadline());
  size_t send_off = 0, recv_off = 0, self_send_off = 0, self_recv_off = 0;
  for (size_t r = 0; r < n; ++r) {
    if (r == me) {
      self_send_off = send_off;
      self_recv_off = recv_off;
    } else {
      if (recv_bytes[r] > 0) transfer.add_recv(static_cast<int>(r), dst + recv_off, recv_bytes[r]);
      if (send_bytes[r] > 0) transfer.add_send(static_cast<int>(r), src + send_off, send_bytes[r]);
    }
    send_off += send_bytes[r];
    recv_off += recv_bytes[r];
  }
  RINGLM_RETURN_IF_ERROR(transfer.start(next_collective_slot()));
  if (send_bytes[me] > 0) std::memmove(dst + self_recv_off, src + self_send_off, send_bytes[me]);
  return transfer.wait();
}

Status GlooComm::all_to_all(const void* send, void* recv, size_t bytes_per_rank) {
  std::vector<size_t> sizes(static_cast<size_t>(size_), bytes_per_rank);
  return all_to_allv(send, sizes, recv, sizes);
}

Status GlooComm::all_gather(const void* send, void* recv, size_t bytes_per_rank) {
  RINGLM_RETURN_IF_ERROR(check_buffer(send, bytes_per_rank, "send"));
  RINGLM_RETURN_IF_ERROR(check_buffer(recv, bytes_per_rank, "recv"));
  RINGLM_RETURN_IF_ERROR(group_->check_usable());
  if (bytes_per_rank == 0) return Status::Ok();
  auto* dst = static_cast<uint8_t*>(recv);
  // In place (send == own block of recv) is allowed: copy first, then send
  // from the own block, which no receive writes.
  uint8_t* own = dst + static_cast<size_t>(rank_) * bytes_per_rank;
  std::memmove(own, send, bytes_per_rank);
  GlooTransfer transfer(group_, deadline());
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    transfer.add_recv(r, dst + static_cast<size_t>(r) * bytes_per_rank, bytes_per_rank);
    transfer.add_send(r, own, bytes_per_rank);
  }
  RINGLM_RETURN_IF_ERROR(transfer.start(next_collective_slot()));
  return transfer.wait();
}

Status GlooComm::broadcast(void* buf, size_t bytes, int root) {
  RINGLM_CHECK_OR_RETURN(
      root >= 0 && root < size_, InvalidArgument,
      "broadcast root " + std::to_string(root) + " outside a group of " + std::to_string(size_));
  RINGLM_RETURN_IF_ERROR(check_buffer(buf, bytes, "broadcast"));
  RINGLM_RETURN_IF_ERROR(group_->check_usable());
  if (bytes == 0) return Status::Ok();
  GlooTransfer transfer(group_, deadline());
  if (rank_ == root) {
    for (int r = 0; r < size_; ++r) {
      if (r != root) transfer.add_send(r, buf, bytes);
    }
  } else {
    transfer.add_recv(root, buf, bytes);
  }
  RINGLM_RETURN_IF_ERROR(transfer.start(next_collective_slot()));
  return transfer.wait();
}

Status GlooComm::barrier() {
  RINGLM_RETURN_IF_ERROR(group_->check_usable());
  static const uint8_t kToken = 1;
  std::vector<uint8_t> tokens(static_cast<size_t>(size_), 0);
  GlooTransfer transfer(group_, deadline());
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    transfer.add_recv(r, &tokens[static_cast<size_t>(r)], 1);
    transfer.add_send(r, &kToken, 1);
  }
  RINGLM_RETURN_IF_ERROR(transfer.start(next_collective_slot()));
  return transfer.wait();
}

}  // namespace ringlm
