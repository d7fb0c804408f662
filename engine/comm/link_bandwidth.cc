#include "comm/link_bandwidth.h"

#include <chrono>
#include <cstdint>
#include <new>
#include <string>
#include <vector>

namespace ringlm {

namespace {

Status ring_step(Comm& comm, const uint8_t* send, uint8_t* recv, size_t bytes) {
  RINGLM_ASSIGN_OR_RETURN(std::unique_ptr<CommRequest> req,
                          comm.ring_exchange(send, recv, bytes, /*tag=*/0));
  return req->wait();
}

}  // namespace

Result<double> measure_ring_bandwidth(Comm& comm, size_t bytes, int iters) {
  RINGLM_CHECK_OR_RETURN(bytes > 0, InvalidArgument, "measure_ring_bandwidth: bytes must be > 0");
  RINGLM_CHECK_OR_RETURN(iters >= 1, InvalidArgument, "measure_ring_bandwidth: iters must be >= 1");
  RINGLM_CHECK_OR_RETURN(!comm.device_memory(), Unsupported,
                         "measure_ring_bandwidth needs a host-memory Comm");
  std::vector<uint8_t> send, recv;
  try {
    send.assign(bytes, static_cast<uint8_t>(comm.rank()));
    recv.assign(bytes, 0);
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("measure_ring_bandwidth: cannot allocate 2 x " +
                             std::to_string(bytes) + " bytes");
  }
  return measure_ring_bandwidth(comm, comm, send.data(), recv.data(), bytes, iters);
}

Result<double> measure_ring_bandwidth(Comm& link, Comm& control, const void* send, void* recv,
                                      size_t bytes, int iters) {
  RINGLM_CHECK_OR_RETURN(bytes > 0 && send && recv, InvalidArgument,
                         "measure_ring_bandwidth: bytes must be > 0, with both buffers");
  RINGLM_CHECK_OR_RETURN(iters >= 1, InvalidArgument, "measure_ring_bandwidth: iters must be >= 1");
  RINGLM_CHECK_OR_RETURN(!control.device_memory() && control.size() == link.size() &&
                             control.rank() == link.rank(),
                         InvalidArgument,
                         "measure_ring_bandwidth: the control Comm must be a host-memory Comm "
                         "over the link's ranks");
  const auto* s = static_cast<const uint8_t*>(send);
  auto* r = static_cast<uint8_t*>(recv);
  RINGLM_RETURN_IF_ERROR(ring_step(link, s, r, bytes));  // warm-up (and connect)
  RINGLM_RETURN_IF_ERROR(link.barrier());
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) {
    RINGLM_RETURN_IF_ERROR(ring_step(link, s, r, bytes));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double bandwidth = static_cast<double>(bytes) * iters / (seconds > 0 ? seconds : 1e-9);
  RINGLM_RETURN_IF_ERROR(control.broadcast(&bandwidth, sizeof(bandwidth), /*root=*/0));
  return bandwidth;
}

}  // namespace ringlm
