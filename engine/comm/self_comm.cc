#include "comm/self_comm.h"

#include <cstring>
#include <string>

namespace ringlm {

namespace {

class DoneRequest final : public CommRequest {
 public:
  Status wait() override { return Status::Ok(); }
};

Status copy_block(const void* send, void* recv, size_t bytes) {
  if (bytes == 0) return Status::Ok();
  RINGLM_CHECK_OR_RETURN(send != nullptr && recv != nullptr, InvalidArgument,
                         "null buffer with a non-zero size");
  if (send != recv) std::memmove(recv, send, bytes);
  return Status::Ok();
}

}  // namespace

Status SelfComm::check_alive() const {
  if (aborted_) return Cancelled("comm was aborted");
  return Status::Ok();
}

Result<std::unique_ptr<CommRequest>> SelfComm::ring_exchange(const void* send, void* recv,
                                                             size_t bytes, uint32_t tag) {
  RINGLM_CHECK_OR_RETURN(tag < (1u << 16), InvalidArgument,
                         "ring_exchange tag " + std::to_string(tag) + " is not below 2^16");
  RINGLM_RETURN_IF_ERROR(check_alive());
  RINGLM_RETURN_IF_ERROR(copy_block(send, recv, bytes));
  return std::unique_ptr<CommRequest>(new DoneRequest());
}

Status SelfComm::all_to_all(const void* send, void* recv, size_t bytes_per_rank) {
  RINGLM_RETURN_IF_ERROR(check_alive());
  return copy_block(send, recv, bytes_per_rank);
}

Status SelfComm::all_to_allv(const void* send, const std::vector<size_t>& send_bytes, void* recv,
                             const std::vector<size_t>& recv_bytes) {
  RINGLM_CHECK_OR_RETURN(send_bytes.size() == 1 && recv_bytes.size() == 1, InvalidArgument,
                         "all_to_allv: send_bytes and recv_bytes need one entry per rank (1)");
  RINGLM_CHECK_OR_RETURN(send_bytes[0] == recv_bytes[0], InvalidArgument,
                         "all_to_allv: a rank sends itself " + std::to_string(send_bytes[0]) +
                             " bytes but expects " + std::to_string(recv_bytes[0]));
  RINGLM_RETURN_IF_ERROR(check_alive());
  return copy_block(send, recv, send_bytes[0]);
}

Status SelfComm::all_gather(const void* send, void* recv, size_t bytes_per_rank) {
  RINGLM_RETURN_IF_ERROR(check_alive());
  return copy_block(send, recv, bytes_per_rank);
}

Status SelfComm::broadcast(void* buf, size_t bytes, int root) {
  RINGLM_CHECK_OR_RETURN(root == 0, InvalidArgument,
                         "broadcast root " + std::to_string(root) + " outside a group of 1");
  RINGLM_CHECK_OR_RETURN(buf != nullptr || bytes == 0, InvalidArgument,
                         "null buffer with a non-zero size");
  return check_alive();
}

Status SelfComm::barrier() { return check_alive(); }

}  // namespace ringlm
