#include "runtime/session_file.h"

#include <cstdio>
#include <cstring>
#include <filesystem>

namespace ringlm {
namespace {

constexpr char kMagic[8] = {'R', 'I', 'N', 'G', 'L', 'M', 'S', 'S'};

uint64_t fnv1a(const uint8_t* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

class Writer {
 public:
  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  }
  template <typename T>
  void pod(T v) {
    bytes(&v, sizeof(v));
  }
  void str(const std::string& s) {
    pod<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  std::vector<uint8_t> out;
};

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  bool bytes(void* dst, size_t n) {
    if (n > n_ - off_) return false;
    std::memcpy(dst, p_ + off_, n);
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
  size_t left() const { return n_ - off_; }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t off_ = 0;
};

}  // namespace

std::vector<uint8_t> encode_session_file(const SessionFile& f) {
  Writer w;
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
  for (const auto& s : f.shards) {
    w.pod<uint64_t>(s.size());
    w.bytes(s.data(), s.size());
  }
  w.pod<uint64_t>(fnv1a(w.out.data(), w.out.size()));
  return std::move(w.out);
}

Result<SessionFile> decode_session_file(const std::vector<uint8_t>& bytes) {
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
  if (sum != fnv1a(bytes.data(), bytes.size() - 8))
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
    ok = r.pod(&len) && len <= r.left();
    if (ok) {
      f.shards.emplace_back(len);
      ok = r.bytes(f.shards.back().data(), len);
    }
  }
  if (!ok || r.left() != 0) return CorruptData("session file is malformed (bad lengths)");
  if (f.world_size < 1) return CorruptData("session file has world size 0");
  return f;
}

Status write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return IoError("cannot write " + tmp);
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (std::fclose(f) != 0 || !ok) {
    std::remove(tmp.c_str());
    return IoError("short write to " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return IoError("cannot rename " + tmp + " to " + path + ": " + ec.message());
  return Status::Ok();
}

Result<std::vector<uint8_t>> read_whole_file(const std::string& path, size_t max_bytes) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return NotFound("cannot open " + path);
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    out.insert(out.end(), buf, buf + n);
    if (out.size() > max_bytes) {
      std::fclose(f);
      return ResourceExhausted(path + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  const bool err = std::ferror(f);
  std::fclose(f);
  if (err) return IoError("read error on " + path);
  return out;
}

}  // namespace ringlm
