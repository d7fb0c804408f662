#include "comm/gloo/gloo_store.h"

#include <fcntl.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/hash_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#define HIREDIS_NESTED_INCLUDE 1
#include <gloo/rendezvous/redis_store.h>

namespace ringlm {

InProcessStore::InProcessStore() : store_(std::make_unique<gloo::rendezvous::HashStore>()) {}
InProcessStore::~InProcessStore() = default;

StoreSpec StoreSpec::File(std::string dir) {
  StoreSpec s;
  s.kind = Kind::kFile;
  s.path = std::move(dir);
  return s;
}

StoreSpec StoreSpec::Redis(std::string host, int port) {
  StoreSpec s;
  s.kind = Kind::kRedis;
  s.host = std::move(host);
  s.port = port;
  return s;
}

StoreSpec StoreSpec::InProcess(std::shared_ptr<InProcessStore> store) {
  StoreSpec s;
  s.kind = Kind::kInProcess;
  s.in_process = std::move(store);
  return s;
}

Result<StoreSpec> StoreSpec::Parse(std::string_view spec) {
  constexpr std::string_view kFilePrefix = "file:";
  constexpr std::string_view kRedisPrefix = "redis://";
  if (spec.substr(0, kFilePrefix.size()) == kFilePrefix) {
    std::string_view path = spec.substr(kFilePrefix.size());
    // Accept the URL form file:///path too.
    if (path.substr(0, 2) == "//") path.remove_prefix(2);
    RINGLM_CHECK_OR_RETURN(!path.empty(), InvalidArgument,
                           "store spec '" + std::string(spec) + "' has an empty path");
    return File(std::string(path));
  }
  if (spec.substr(0, kRedisPrefix.size()) == kRedisPrefix) {
    std::string_view rest = spec.substr(kRedisPrefix.size());
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    std::string_view host = rest;
    std::string_view port_text;
    if (!rest.empty() && rest.front() == '[') {  // [v6addr]:port
      size_t close = rest.find(']');
      RINGLM_CHECK_OR_RETURN(close != std::string_view::npos, InvalidArgument,
                             "store spec '" + std::string(spec) + "': unclosed '['");
      host = rest.substr(1, close - 1);
      std::string_view after = rest.substr(close + 1);
      if (!after.empty()) {
        RINGLM_CHECK_OR_RETURN(after.front() == ':', InvalidArgument,
                               "store spec '" + std::string(spec) + "': expected ':port'");
        port_text = after.substr(1);
      }
    } else if (size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
      host = rest.substr(0, colon);
      port_text = rest.substr(colon + 1);
    }
    RINGLM_CHECK_OR_RETURN(!host.empty(), InvalidArgument,
                           "store spec '" + std::string(spec) + "' has no host");
    int port = 6379;
    if (!port_text.empty() || rest.find(':') != std::string_view::npos) {
      auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
      RINGLM_CHECK_OR_RETURN(ec == std::errc() && end == port_text.data() + port_text.size() &&
                                 port > 0 && port < 65536,
                             InvalidArgument,
                             "store spec '" + std::string(spec) + "' has a bad port");
    }
    return Redis(std::string(host), port);
  }
  if (!spec.empty() &&
      (spec.front() == '/' || spec.substr(0, 2) == "./" || spec.substr(0, 3) == "../")) {
    return File(std::string(spec));
  }
  return InvalidArgument("store spec '" + std::string(spec) +
                         "' is none of file:/dir, /dir, redis://host:port");
}

std::string StoreSpec::ToString() const {
  switch (kind) {
    case Kind::kNone:
      return "none";
    case Kind::kFile:
      return "file:" + path;
    case Kind::kRedis:
      if (host.find(':') != std::string::npos) {
        return "redis://[" + host + "]:" + std::to_string(port);
      }
      return "redis://" + host + ":" + std::to_string(port);
    case Kind::kInProcess:
      return "in-process";
  }
  return "none";
}

namespace {

// Gloo's FileStore, able to remove the files of the keys it set.
class FileStore final : public gloo::rendezvous::FileStore {
 public:
  using gloo::rendezvous::FileStore::FileStore;
  void erase_own_keys() {
    for (const std::string& path : getAllKeyFilePaths()) ::unlink(path.c_str());
  }
};

// Gloo's RedisStore with a deadline on every command (its own connection
// has none: a server that accepts and never answers would block forever),
// able to delete the keys it set.
class RedisStore final : public gloo::rendezvous::RedisStore {
 public:
  RedisStore(const std::string& host, int port, std::chrono::milliseconds timeout)
      : gloo::rendezvous::RedisStore(host, port) {
    timeval tv{};
    tv.tv_sec = timeout.count() / 1000;
    tv.tv_usec = (timeout.count() % 1000) * 1000;
    redisSetTimeout(redis_, tv);
  }
  void set(const std::string& key, const std::vector<char>& data) override {
    gloo::rendezvous::RedisStore::set(key, data);
    keys_.push_back(key);
  }
  void erase_own_keys() {
    for (const std::string& key : keys_) {
      void* reply = redisCommand(redis_, "DEL %b", key.data(), key.size());
      if (reply) freeReplyObject(reply);
    }
    keys_.clear();
  }

 private:
  std::vector<std::string> keys_;
};

class PrefixedStore final : public OpenedStore {
 public:
  PrefixedStore(std::shared_ptr<gloo::rendezvous::Store> base,
                std::shared_ptr<InProcessStore> owner, const std::string& prefix)
      : base_(std::move(base)), owner_(std::move(owner)), prefixed_(prefix, *base_) {}

  gloo::rendezvous::Store& store() override { return prefixed_; }

  void erase_own_keys() override {
    if (auto* f = dynamic_cast<FileStore*>(base_.get())) f->erase_own_keys();
    if (auto* r = dynamic_cast<RedisStore*>(base_.get())) r->erase_own_keys();
  }

 private:
  std::shared_ptr<gloo::rendezvous::Store> base_;  // declared before prefixed_: outlives it
  std::shared_ptr<InProcessStore> owner_;          // keeps an in-process store alive
  gloo::rendezvous::PrefixStore prefixed_;
};

// One TCP connect to host:port within `timeout`, closed again at once.
Status probe_tcp(const std::string& host, int port, std::chrono::milliseconds timeout) {
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints;
  std::memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port_text = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &found); rc != 0) {
    return Unavailable("cannot resolve " + where + ": " + gai_strerror(rc));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Status result = Unavailable("no address for " + where);
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      result = Unavailable("socket for " + where + ": " + std::strerror(errno));
      continue;
    }
    int err = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{fd, POLLOUT, 0};
        int rc = poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
        if (rc == 0) {
          close(fd);
          result = DeadlineExceeded("no answer from " + where + " within " +
                                    std::to_string(timeout.count()) + " ms");
          break;
        }
        socklen_t len = sizeof(err);
        if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
    close(fd);
    if (err == 0) {
      result = Status::Ok();
      break;
    }
    result = Unavailable("cannot connect to " + where + ": " + std::strerror(err));
  }
  freeaddrinfo(found);
  return result;
}

}  // namespace

Result<std::unique_ptr<OpenedStore>> open_store(const StoreSpec& spec,
                                                const std::string& key_prefix,
                                                std::chrono::milliseconds connect_timeout) {
  RINGLM_CHECK_OR_RETURN(!key_prefix.empty(), InvalidArgument, "empty store key prefix");
  std::shared_ptr<gloo::rendezvous::Store> base;
  std::shared_ptr<InProcessStore> owner;
  try {
    switch (spec.kind) {
      case StoreSpec::Kind::kNone:
        return InvalidArgument("no rendezvous store given");
      case StoreSpec::Kind::kFile: {
        namespace fs = std::filesystem;
        RINGLM_CHECK_OR_RETURN(!spec.path.empty(), InvalidArgument,
                               "file store with an empty path");
        std::error_code ec;
        fs::create_directories(spec.path, ec);
        if (!fs::is_directory(spec.path, ec)) {
          return IoError("file store '" + spec.path + "' is not a directory that can be created");
        }
        base = std::make_shared<FileStore>(spec.path);
        break;
      }
      case StoreSpec::Kind::kRedis:
        RINGLM_CHECK_OR_RETURN(!spec.host.empty(), InvalidArgument, "redis store without a host");
        // Also spares Gloo's failed-connect path, which leaks its connection.
        if (Status s = probe_tcp(spec.host, spec.port, connect_timeout); !s.ok()) {
          return s.WithContext("redis store");
        }
        base = std::make_shared<RedisStore>(spec.host, spec.port, connect_timeout);
        break;
      case StoreSpec::Kind::kInProcess:
        RINGLM_CHECK_OR_RETURN(spec.in_process != nullptr, InvalidArgument,
                               "in-process store spec without a store");
        owner = spec.in_process;
        // Aliasing pointer: the InProcessStore owns the HashStore.
        base = std::shared_ptr<gloo::rendezvous::Store>(owner, &owner->store());
        break;
    }
    return std::unique_ptr<OpenedStore>(
        new PrefixedStore(std::move(base), std::move(owner), key_prefix));
  } catch (const std::exception& e) {
    return Unavailable("cannot open store " + spec.ToString() + ": " + e.what());
  } catch (...) {
    return Unavailable("cannot open store " + spec.ToString());
  }
}

}  // namespace ringlm
