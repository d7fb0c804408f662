// Rendezvous stores for GlooComm: where the ranks of a group publish their
// addresses before they connect.
//
// Three kinds, chosen by StoreSpec:
//   kFile       a directory on a filesystem every rank sees (Gloo's FileStore);
//               created when missing.
//   kRedis      a Redis server, "redis://host:port" (Gloo's RedisStore).
//   kInProcess  an InProcessStore object shared by the rank threads of one
//               process (Gloo's HashStore behind a std::shared_ptr).
// GlooComm puts every key under a prefix (Gloo's PrefixStore), so several
// groups can share one store as long as each uses its own prefix. A store
// keeps keys forever: a second group with the same prefix on the same file or
// Redis store fails to connect; use a fresh prefix (or directory) per group.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace gloo::rendezvous {
class Store;
}  // namespace gloo::rendezvous

namespace ringlm {

// A key-value store in memory for the rank threads of one process.
// Thread-safe; share it through the std::shared_ptr.
class InProcessStore {
 public:
  InProcessStore();
  ~InProcessStore();
  InProcessStore(const InProcessStore&) = delete;
  InProcessStore& operator=(const InProcessStore&) = delete;

  gloo::rendezvous::Store& store() { return *store_; }

 private:
  std::unique_ptr<gloo::rendezvous::Store> store_;
};

struct StoreSpec {
  enum class Kind { kNone, kFile, kRedis, kInProcess };

  Kind kind = Kind::kNone;
  std::string path;                            // kFile: the directory
  std::string host;                            // kRedis
  int port = 6379;                             // kRedis
  std::shared_ptr<InProcessStore> in_process;  // kInProcess

  static StoreSpec File(std::string dir);
  static StoreSpec Redis(std::string host, int port = 6379);
  static StoreSpec InProcess(std::shared_ptr<InProcessStore> store);

  // Parses "file:/path", "/path" or "./path" (a directory), "redis://host:port"
  // ("redis://host" means port 6379; an IPv6 host goes in brackets).
  // kInvalidArgument for anything else, an empty path, or a bad port.
  static Result<StoreSpec> Parse(std::string_view spec);

  // "file:/path", "redis://host:port", "in-process" or "none".
  std::string ToString() const;
};

// A store opened for one group, with the group's key prefix applied.
// Not thread-safe (the Redis connection is not); one per rank.
class OpenedStore {
 public:
  virtual ~OpenedStore() = default;
  virtual gloo::rendezvous::Store& store() = 0;
  // Removes the keys this rank set (its address), once every rank of the
  // group has read them, so that the store serves the next group too. A
  // no-op for the in-process store. Best effort: errors are ignored.
  virtual void erase_own_keys() {}
};

// Opens `spec` and prefixes every key with `key_prefix` (non-empty). A Redis
// server is first reached with a plain TCP connect bounded by
// `connect_timeout` (Gloo's own connect has no deadline).
// kInvalidArgument: kNone, a null in-process store, an empty prefix;
// kIoError: the directory cannot be created or is not a directory;
// kUnavailable: the Redis server refuses or cannot be resolved;
// kDeadlineExceeded: it did not answer within connect_timeout. Every later
// Redis command also fails after connect_timeout without an answer.
Result<std::unique_ptr<OpenedStore>> open_store(
    const StoreSpec& spec, const std::string& key_prefix,
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(30));

}  // namespace ringlm
