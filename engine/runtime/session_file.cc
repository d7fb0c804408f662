#include "runtime/session_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>

#include "core/checksum.h"

namespace ringlm {
namespace {

constexpr char kMagic[8] = {'R', 'I', 'N', 'G', 'L', 'M', 'S', 'S'};

// Versions 1 and 2 end with byte-wise FNV-1a (under 1 GB/s); version 3
// with XXH64 (Checksum64), at memory speed.
uint64_t fnv1a(const uint8_t* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

uint64_t checksum(uint32_t version, const uint8_t* p, size_t n) {
  return version >= 3 ? Checksum64::of(p, n) : fnv1a(p, n);
}

// Hands every byte of the encoding to `sink` in order, hashing it on the
// way; the checksum goes last. After a failed sink call nothing more is
// written and finish() returns false.
class Writer {
 public:
  using Sink = std::function<bool(const uint8_t*, size_t)>;
  explicit Writer(Sink sink) : sink_(std::move(sink)) {}
  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    // In chunks: each is hashed and written while it is still in cache.
    constexpr size_t kChunk = size_t(1) << 20;
    for (size_t off = 0; ok_ && off < n; off += kChunk) {
      const size_t len = std::min(kChunk, n - off);
      hash_.update(b + off, len);
      ok_ = sink_(b + off, len);
    }
  }
  template <typename T>
  void pod(T v) {
    bytes(&v, sizeof(v));
  }
  void str(const std::string& s) {
    pod<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  // Writes the checksum of everything before it; false when any write failed.
  bool finish() {
    const uint64_t sum = hash_.digest();
    if (ok_) ok_ = sink_(reinterpret_cast<const uint8_t*>(&sum), sizeof(sum));
    return ok_;
  }

 private:
  Sink sink_;
  Checksum64 hash_;
  bool ok_ = true;
};

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  bool bytes(void* dst, size_t n) {
    if (n > n_ - off_) return false;
    if (n) std::memcpy(dst, p_ + off_, n);  // dst may be null for n = 0 (an empty list)
    off_ += n;
    return true;
  }
  template <typename T>
  bool pod(T* v) {
    return bytes(v, sizeof(T));
  }
  bool str(std::string* s) {
    uint64_t len = 0;
    if (!pod(&len) || len > n_ - off_) return false;
    s->assign(reinterpret_cast<const char*>(p_ + off_), len);
    off_ += len;
    return true;
  }
  // u64 count, then that many i32.
  bool ints(std::vector<int32_t>* v) {
    uint64_t n = 0;
    if (!pod(&n) || n > left() / sizeof(int32_t)) return false;
    v->resize(n);
    return bytes(v->data(), n * sizeof(int32_t));
  }
  // n bytes in place.
  bool view(size_t n, std::span<const uint8_t>* out) {
    if (n > n_ - off_) return false;
    *out = {p_ + off_, n};
    off_ += n;
    return true;
  }
  size_t left() const { return n_ - off_; }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t off_ = 0;
};

// Makes a rename in path's directory durable. Best effort: the file is in
// place either way, and some filesystems refuse to sync a directory.
void sync_parent_directory(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  const int fd = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

// The one encoder, for a buffer and for a file alike.
bool encode(const SessionFile& f, Writer::Sink sink) {
  Writer w(std::move(sink));
  w.bytes(kMagic, sizeof(kMagic));
  w.pod<uint32_t>(kSessionFileVersion);
  w.str(f.engine_version);
  w.pod<uint64_t>(f.model_fingerprint);
  w.pod<uint32_t>(f.world_size);
  w.pod<uint64_t>(f.decode_steps);
  w.pod<uint32_t>(uint32_t(f.messages.size()));
  for (const ChatMessage& m : f.messages) {
    w.str(m.role);
    w.str(m.content);
  }
  for (const std::vector<int32_t>* t : {&f.tokens, &f.unfed}) {
    w.pod<uint64_t>(t->size());
    w.bytes(t->data(), t->size() * sizeof(int32_t));
  }
  w.pod<uint32_t>(uint32_t(f.shards.size()));
  for (std::span<const uint8_t> s : f.shards) {
    w.pod<uint64_t>(s.size());
    w.bytes(s.data(), s.size());
  }
  return w.finish();
}

}  // namespace

std::vector<uint8_t> encode_session_file(const SessionFile& f) {
  std::vector<uint8_t> out;
  encode(f, [&](const uint8_t* p, size_t n) {
    out.insert(out.end(), p, p + n);
    return true;
  });
  return out;
}

Status write_session_file(const std::string& path, const SessionFile& f) {
  const std::string tmp = path + ".tmp";
  // A session file holds a conversation: a new one is its owner's alone
  // (0600); one that replaces a file keeps that file's permissions.
  mode_t mode = 0600;
  struct stat old;
  if (::stat(path.c_str(), &old) == 0) mode = old.st_mode & 07777;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return IoError("cannot write " + tmp + ": " + std::strerror(errno));
  FILE* out = ::fchmod(fd, mode) == 0 ? ::fdopen(fd, "wb") : nullptr;  // exactly, umask aside
  if (!out) {
    const int err = errno;
    ::close(fd);
    std::remove(tmp.c_str());
    return IoError("cannot write " + tmp + ": " + std::strerror(err));
  }
  bool ok =
      encode(f, [&](const uint8_t* p, size_t n) { return std::fwrite(p, 1, n, out) == n; });
  // On the disk before the rename makes it the session's file: a rename
  // can reach the disk before the data it names.
  const bool synced = ok && std::fflush(out) == 0 && ::fsync(::fileno(out)) == 0;
  if (std::fclose(out) != 0 || !ok || !synced) {
    std::remove(tmp.c_str());
    return IoError((ok ? "cannot flush " : "short write to ") + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    return IoError("cannot rename " + tmp + " to " + path + ": " + ec.message());
  }
  sync_parent_directory(path);
  return Status::Ok();
}

Result<SessionFile> decode_session_file(std::span<const uint8_t> bytes) {
  if (bytes.size() < sizeof(kMagic) + 4 + 8 || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)))
    return CorruptData("not a ringlm session file (bad magic)");
  uint32_t version = 0;
  std::memcpy(&version, bytes.data() + sizeof(kMagic), 4);
  if (version < 1 || version > kSessionFileVersion)
    return Unsupported("session file format version " + std::to_string(version) +
                       " is not supported (this engine reads versions 1 to " +
                       std::to_string(kSessionFileVersion) + ")");
  uint64_t sum = 0;
  std::memcpy(&sum, bytes.data() + bytes.size() - 8, 8);
  if (sum != checksum(version, bytes.data(), bytes.size() - 8))
    return CorruptData("session file checksum mismatch (damaged or truncated)");
  Reader r(bytes.data() + sizeof(kMagic) + 4, bytes.size() - sizeof(kMagic) - 4 - 8);
  SessionFile f;
  uint32_t n_msgs = 0, n_shards = 0;
  bool ok = r.str(&f.engine_version) && r.pod(&f.model_fingerprint) && r.pod(&f.world_size) &&
            r.pod(&f.decode_steps) && r.pod(&n_msgs);
  for (uint32_t i = 0; ok && i < n_msgs; ++i) {
    ChatMessage m;
    ok = r.str(&m.role) && r.str(&m.content);
    f.messages.push_back(std::move(m));
  }
  ok = ok && r.ints(&f.tokens);
  if (version >= 2) ok = ok && r.ints(&f.unfed);
  ok = ok && r.pod(&n_shards) && (n_shards == 0 || n_shards == f.world_size);
  for (uint32_t i = 0; ok && i < n_shards; ++i) {
    uint64_t len = 0;
    std::span<const uint8_t> shard;
    ok = r.pod(&len) && len <= r.left() && r.view(size_t(len), &shard);
    if (ok) f.shards.push_back(shard);
  }
  if (!ok || r.left() != 0) return CorruptData("session file is malformed (bad lengths)");
  if (f.world_size < 1) return CorruptData("session file has world size 0");
  return f;
}

Result<std::vector<uint8_t>> read_whole_file(const std::string& path, size_t max_bytes) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return NotFound("cannot open " + path);
  auto too_large = [&] {
    std::fclose(f);
    return ResourceExhausted(path + " is larger than " + std::to_string(max_bytes) + " bytes");
  };
  // One buffer of the file's size, read into directly: grown a chunk at a
  // time, a large file would be copied on every growth (and peak at twice
  // its size).
  std::vector<uint8_t> out;
  struct stat st {};
  if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    if (uint64_t(st.st_size) > max_bytes) return too_large();
    out.resize(size_t(st.st_size));
    out.resize(std::fread(out.data(), 1, out.size(), f));
  }
  // Whatever follows (a file that grew since, or one whose size is unknown).
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    out.insert(out.end(), buf, buf + n);
    if (out.size() > max_bytes) return too_large();
  }
  const bool err = std::ferror(f);
  std::fclose(f);
  if (err) return IoError("read error on " + path);
  return out;
}

}  // namespace ringlm
