#include "comm/gloo/gloo_comm.h"

#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/store.h>
#include <gloo/transport/tcp/device.h>
#include <signal.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "comm/gloo/gloo_transfer.h"
#include "comm/self_comm.h"

namespace ringlm {

namespace {

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
    : P2pComm(group->rank(), group->size(), timeout), group_(std::move(group)) {}

GlooComm::~GlooComm() = default;

std::unique_ptr<P2pTransfer> GlooComm::new_transfer(Clock::time_point deadline) {
  return std::make_unique<GlooTransfer>(group_, deadline);
}

Status GlooComm::check_usable() { return group_->check_usable(); }

void GlooComm::abort() { group_->abort(); }

bool GlooComm::failed() const { return !group_->failure().ok(); }

uint64_t GlooComm::bytes_sent() const { return group_->bytes_sent(); }

}  // namespace ringlm
