#include "comm/p2p_comm.h"

#include <cstring>
#include <string>
#include <utility>

namespace ringlm {
namespace {

// Ring exchanges and collectives live in disjoint slot ranges.
constexpr uint64_t kSlotSpaceBits = 48;
constexpr uint64_t kRingSlotBase = uint64_t{1} << kSlotSpaceBits;
constexpr uint64_t kCollectiveSlotBase = uint64_t{2} << kSlotSpaceBits;
constexpr uint64_t kSlotMask = (uint64_t{1} << kSlotSpaceBits) - 1;

class P2pRequest final : public CommRequest {
 public:
  explicit P2pRequest(std::unique_ptr<P2pTransfer> transfer) : transfer_(std::move(transfer)) {}
  Status wait() override { return transfer_->wait(); }

 private:
  std::unique_ptr<P2pTransfer> transfer_;  // its destructor waits when wait() was never called
};

Status check_buffer(const void* p, size_t bytes, const char* name) {
  if (p == nullptr && bytes > 0) {
    return InvalidArgument(std::string("null ") + name + " buffer with a non-zero size");
  }
  return Status::Ok();
}

}  // namespace

P2pComm::P2pComm(int rank, int size, std::chrono::milliseconds timeout)
    : rank_(rank), size_(size), timeout_ms_(timeout.count()) {}

P2pComm::Clock::time_point P2pComm::deadline() const {
  return Clock::now() + std::chrono::milliseconds(timeout_ms_.load());
}

uint64_t P2pComm::next_collective_slot() {
  return kCollectiveSlotBase | (collective_seq_++ & kSlotMask);
}

Result<std::unique_ptr<CommRequest>> P2pComm::ring_exchange(const void* send, void* recv,
                                                            size_t bytes, uint32_t tag) {
  RINGLM_CHECK_OR_RETURN(tag < kMaxTag, InvalidArgument,
                         "ring_exchange tag " + std::to_string(tag) + " is not below 2^16");
  RINGLM_RETURN_IF_ERROR(check_buffer(send, bytes, "send"));
  RINGLM_RETURN_IF_ERROR(check_buffer(recv, bytes, "recv"));
  RINGLM_RETURN_IF_ERROR(check_usable());
  std::unique_ptr<P2pTransfer> transfer = new_transfer(deadline());
  if (bytes > 0) {
    transfer->add_send(next(), send, bytes);
    transfer->add_recv(prev(), recv, bytes);
  }
  RINGLM_RETURN_IF_ERROR(transfer->start(kRingSlotBase | tag));
  return std::unique_ptr<CommRequest>(new P2pRequest(std::move(transfer)));
}

Status P2pComm::all_to_allv(const void* send, const std::vector<size_t>& send_bytes, void* recv,
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
  RINGLM_RETURN_IF_ERROR(check_usable());

  const auto* src = static_cast<const uint8_t*>(send);
  auto* dst = static_cast<uint8_t*>(recv);
  std::unique_ptr<P2pTransfer> transfer = new_transfer(deadline());
  size_t send_off = 0, recv_off = 0, self_send_off = 0, self_recv_off = 0;
  for (size_t r = 0; r < n; ++r) {
    if (r == me) {
      self_send_off = send_off;
      self_recv_off = recv_off;
    } else {
      if (recv_bytes[r] > 0) transfer->add_recv(static_cast<int>(r), dst + recv_off, recv_bytes[r]);
      if (send_bytes[r] > 0) transfer->add_send(static_cast<int>(r), src + send_off, send_bytes[r]);
    }
    send_off += send_bytes[r];
    recv_off += recv_bytes[r];
  }
  RINGLM_RETURN_IF_ERROR(transfer->start(next_collective_slot()));
  if (send_bytes[me] > 0) std::memmove(dst + self_recv_off, src + self_send_off, send_bytes[me]);
  return transfer->wait();
}

Status P2pComm::all_to_all(const void* send, void* recv, size_t bytes_per_rank) {
  std::vector<size_t> sizes(static_cast<size_t>(size_), bytes_per_rank);
  return all_to_allv(send, sizes, recv, sizes);
}

Status P2pComm::all_gather(const void* send, void* recv, size_t bytes_per_rank) {
  RINGLM_RETURN_IF_ERROR(check_buffer(send, bytes_per_rank, "send"));
  RINGLM_RETURN_IF_ERROR(check_buffer(recv, bytes_per_rank, "recv"));
  RINGLM_RETURN_IF_ERROR(check_usable());
  if (bytes_per_rank == 0) return Status::Ok();
  auto* dst = static_cast<uint8_t*>(recv);
  // In place (send == own block of recv) is allowed: copy first, then send
  // from the own block, which no receive writes.
  uint8_t* own = dst + static_cast<size_t>(rank_) * bytes_per_rank;
  std::memmove(own, send, bytes_per_rank);
  std::unique_ptr<P2pTransfer> transfer = new_transfer(deadline());
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    transfer->add_recv(r, dst + static_cast<size_t>(r) * bytes_per_rank, bytes_per_rank);
    transfer->add_send(r, own, bytes_per_rank);
  }
  RINGLM_RETURN_IF_ERROR(transfer->start(next_collective_slot()));
  return transfer->wait();
}

Status P2pComm::broadcast(void* buf, size_t bytes, int root) {
  RINGLM_CHECK_OR_RETURN(
      root >= 0 && root < size_, InvalidArgument,
      "broadcast root " + std::to_string(root) + " outside a group of " + std::to_string(size_));
  RINGLM_RETURN_IF_ERROR(check_buffer(buf, bytes, "broadcast"));
  RINGLM_RETURN_IF_ERROR(check_usable());
  if (bytes == 0) return Status::Ok();
  std::unique_ptr<P2pTransfer> transfer = new_transfer(deadline());
  if (rank_ == root) {
    for (int r = 0; r < size_; ++r) {
      if (r != root) transfer->add_send(r, buf, bytes);
    }
  } else {
    transfer->add_recv(root, buf, bytes);
  }
  RINGLM_RETURN_IF_ERROR(transfer->start(next_collective_slot()));
  return transfer->wait();
}

Status P2pComm::barrier() {
  RINGLM_RETURN_IF_ERROR(check_usable());
  static const uint8_t kToken = 1;
  std::vector<uint8_t> tokens(static_cast<size_t>(size_), 0);
  std::unique_ptr<P2pTransfer> transfer = new_transfer(deadline());
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    transfer->add_recv(r, &tokens[static_cast<size_t>(r)], 1);
    transfer->add_send(r, &kToken, 1);
  }
  RINGLM_RETURN_IF_ERROR(transfer->start(next_collective_slot()));
  return transfer->wait();
}

}  // namespace ringlm
