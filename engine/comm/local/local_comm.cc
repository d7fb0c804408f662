#include "comm/local/local_comm.h"

#include <string>
#include <utility>

#include "comm/local/local_hub.h"
#include "comm/self_comm.h"

namespace ringlm {

Result<std::vector<std::unique_ptr<Comm>>> LocalComm::Group(int size,
                                                           std::chrono::milliseconds timeout) {
  RINGLM_CHECK_OR_RETURN(size >= 1, InvalidArgument,
                         "group size " + std::to_string(size) + " is not positive");
  RINGLM_CHECK_OR_RETURN(timeout.count() > 0, InvalidArgument, "the timeout must be positive");
  std::vector<std::unique_ptr<Comm>> comms;
  if (size == 1) {
    comms.push_back(std::make_unique<SelfComm>(timeout));
    return comms;
  }
  auto hub = std::make_shared<LocalHub>(size);
  for (int r = 0; r < size; ++r) comms.push_back(std::unique_ptr<Comm>(new LocalComm(hub, r, size, timeout)));
  return comms;
}

LocalComm::LocalComm(std::shared_ptr<LocalHub> hub, int rank, int size,
                     std::chrono::milliseconds timeout)
    : P2pComm(rank, size, timeout), hub_(std::move(hub)) {}

LocalComm::~LocalComm() { hub_->leave(rank()); }

void LocalComm::abort() { hub_->abort(rank()); }

bool LocalComm::failed() const { return hub_->failed(); }

uint64_t LocalComm::bytes_sent() const { return hub_->bytes_sent(rank()); }

std::unique_ptr<P2pTransfer> LocalComm::new_transfer(Clock::time_point deadline) {
  return std::make_unique<LocalTransfer>(hub_, rank(), deadline);
}

Status LocalComm::check_usable() { return hub_->check_usable(rank()); }

}  // namespace ringlm
