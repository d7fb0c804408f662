#include "comm/comm.h"

namespace ringlm {

Status Comm::broadcast_bytes(std::vector<uint8_t>& data, int root) {
  uint64_t n = data.size();
  RINGLM_RETURN_IF_ERROR(broadcast(&n, sizeof(n), root));
  if (rank() != root) data.resize(n);
  if (n == 0) return Status::Ok();
  return broadcast(data.data(), n, root);
}

}  // namespace ringlm
