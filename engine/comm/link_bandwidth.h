// Link bandwidth calibration for the CP policy (docs/context-parallelism.md,
// section 5: BW, the achieved link bandwidth per rank).
#pragma once

#include <cstddef>

#include "comm/comm.h"

namespace ringlm {

// Measures the achieved bandwidth of one ring step: every rank sends `bytes`
// to next() while receiving `bytes` from prev(), `iters` times, one step after
// the other, after one untimed warm-up step and a barrier. Returns bytes/s of
// one rank's send (bytes * iters / elapsed) as measured by rank 0 and
// broadcast, so every rank returns the same value. Collective: every rank of
// the group calls it with the same arguments. With size() == 1 it measures the
// copy that SelfComm does. Host-memory Comms only.
//
// kInvalidArgument: bytes == 0 or iters < 1; kUnsupported: a device-memory
// Comm; kResourceExhausted: the buffers cannot be allocated; any Comm error.
Result<double> measure_ring_bandwidth(Comm& comm, size_t bytes, int iters);

// The same over caller-owned buffers of `bytes` each, in the link's memory
// (device memory for a device Comm such as NcclComm), ready to be read; the
// result is broadcast over `control`, a host-memory Comm over the same ranks
// (it may be `link` itself when that is one). The warm-up step also sets up
// the link's connections (NCCL connects peers on their first transfer), so
// that cost does not land in the first request.
Result<double> measure_ring_bandwidth(Comm& link, Comm& control, const void* send, void* recv,
                                      size_t bytes, int iters);

}  // namespace ringlm
