#include "comm/comm.h"

#include <string>

namespace ringlm {

Status Comm::broadcast_bytes(std::vector<uint8_t>& data, int root) {
  // The length and the vector live in host memory: a device Comm would hand
  // host pointers to its kernels.
  if (device_memory()) return InvalidArgument("broadcast_bytes needs a host-memory Comm");
  // Larger than any message of the step protocol: a size beyond it is damage.
  constexpr uint64_t kMaxBytes = uint64_t(1) << 32;
  uint64_t n = data.size();
  RINGLM_RETURN_IF_ERROR(broadcast(&n, sizeof(n), root));
  if (n > kMaxBytes) {
    abort();  // the payload will not be received: the group cannot go on
    return CorruptData("a broadcast of " + std::to_string(n) + " bytes from rank " +
                       std::to_string(root));
  }
  if (rank() != root) data.resize(n);
  if (n == 0) return Status::Ok();
  return broadcast(data.data(), n, root);
}

}  // namespace ringlm
