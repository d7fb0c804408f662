// The session file: write_session_file streams the same bytes that
// encode_session_file builds, decode_session_file reads the shards in place,
// a write that fails leaves the file it would have replaced as it was, and
// files of the older format versions (FNV-1a checksums) are still read.
#include "runtime/session_file.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>

#include "test_util.h"

using namespace ringlm;

namespace {

SessionFile sample(const std::vector<std::vector<uint8_t>>& shards) {
  SessionFile f;
  f.engine_version = "0.test";
  f.model_fingerprint = 0x1234567890abcdefull;
  f.world_size = uint32_t(shards.size());
  f.decode_steps = 3;
  f.messages = {{"user", "hello"}, {"assistant", "hi"}};
  f.tokens = {1, 2, 3, 4};
  f.unfed = {5};
  f.shards.assign(shards.begin(), shards.end());
  return f;
}

// The session's encoding in an older format version: version 2 differs
// from 3 only in its checksum (byte-wise FNV-1a); version 1 also has no
// unfed tokens (`f.unfed` must be empty; its count is at `unfed_at`).
std::vector<uint8_t> older_encoding(const SessionFile& f, uint32_t version) {
  std::vector<uint8_t> b = encode_session_file(f);
  std::memcpy(b.data() + 8, &version, 4);
  if (version == 1) {
    size_t unfed_at = 8 + 4 + 8 + f.engine_version.size() + 8 + 4 + 8 + 4;
    for (const ChatMessage& m : f.messages) unfed_at += 16 + m.role.size() + m.content.size();
    unfed_at += 8 + 4 * f.tokens.size();
    uint64_t count = 1;
    std::memcpy(&count, b.data() + unfed_at, 8);
    REQUIRE(count == 0);
    b.erase(b.begin() + std::ptrdiff_t(unfed_at), b.begin() + std::ptrdiff_t(unfed_at + 8));
  }
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i + 8 < b.size(); ++i) h = (h ^ b[i]) * 1099511628211ull;
  std::memcpy(b.data() + b.size() - 8, &h, 8);
  return b;
}

}  // namespace

TEST_CASE("session files of format versions 1 and 2 are still read", "[session_file]") {
  const std::vector<std::vector<uint8_t>> shards{std::vector<uint8_t>(300, 7),
                                                 std::vector<uint8_t>(41, 9)};
  SessionFile f = sample(shards);
  f.unfed.clear();
  const std::vector<uint8_t> current = encode_session_file(f);
  for (uint32_t version : {1u, 2u}) {
    INFO("version " << version);
    const std::vector<uint8_t> bytes = older_encoding(f, version);
    CHECK(bytes.size() == current.size() - (version == 1 ? 8 : 0));
    auto back = decode_session_file(bytes);
    INFO(back.status().ToString());
    REQUIRE(back.ok());
    CHECK(back->engine_version == f.engine_version);
    CHECK(back->messages.size() == 2);
    CHECK(back->tokens == f.tokens);
    CHECK(back->unfed.empty());
    REQUIRE(back->shards.size() == 2);
    CHECK(std::vector<uint8_t>(back->shards[1].begin(), back->shards[1].end()) == shards[1]);
    // Each version is checked with its own checksum: an old file relabelled
    // as the current version, or the other way round, is damaged.
    std::vector<uint8_t> relabelled = bytes;
    std::memcpy(relabelled.data() + 8, &kSessionFileVersion, 4);
    CHECK(decode_session_file(relabelled).status().code() == StatusCode::kCorruptData);
    relabelled = current;
    std::memcpy(relabelled.data() + 8, &version, 4);
    CHECK(decode_session_file(relabelled).status().code() == StatusCode::kCorruptData);
  }
  // The current version, whole and with any one byte changed.
  REQUIRE(decode_session_file(current).ok());
  for (size_t at : {size_t(20), current.size() / 2, current.size() - 1}) {
    std::vector<uint8_t> damaged = current;
    damaged[at] ^= 0x10;
    auto r = decode_session_file(damaged);
    CHECK(r.status().code() == StatusCode::kCorruptData);
    CHECK_THAT(r.status().message(), Catch::Contains("checksum"));
  }
}

TEST_CASE("a streamed session file holds the bytes of the encoded one", "[session_file]") {
  // One shard spans several of the writer's 1 MiB chunks.
  std::vector<std::vector<uint8_t>> shards{std::vector<uint8_t>((size_t(5) << 19) + 3),
                                           std::vector<uint8_t>(17), std::vector<uint8_t>()};
  for (size_t i = 0; i < shards[0].size(); ++i) shards[0][i] = uint8_t(i * 7 + (i >> 11));
  for (size_t i = 0; i < shards[1].size(); ++i) shards[1][i] = uint8_t(200 + i);
  const SessionFile f = sample(shards);
  const std::string path = test::temp_dir("session_file_stream") + "/s.ringlm";
  REQUIRE(write_session_file(path, f).ok());
  CHECK(!std::filesystem::exists(path + ".tmp"));
  const std::vector<uint8_t> bytes = read_whole_file(path, size_t(1) << 30).value();
  CHECK(bytes == encode_session_file(f));

  auto back = decode_session_file(bytes);
  INFO(back.status().ToString());
  REQUIRE(back.ok());
  CHECK(back->messages.size() == 2);
  CHECK(back->tokens == f.tokens);
  CHECK(back->unfed == f.unfed);
  REQUIRE(back->shards.size() == 3);
  for (size_t r = 0; r < 3; ++r) {
    CHECK(std::vector<uint8_t>(back->shards[r].begin(), back->shards[r].end()) == shards[r]);
    // In place: a view of the file's bytes, not a copy.
    if (!shards[r].empty()) {
      CHECK(back->shards[r].data() >= bytes.data());
      CHECK(back->shards[r].data() + back->shards[r].size() <= bytes.data() + bytes.size());
    }
  }
  CHECK(read_whole_file(path, bytes.size() - 1).status().code() == StatusCode::kResourceExhausted);
}

TEST_CASE("a session file write that fails leaves the old file", "[session_file]") {
  const std::vector<std::vector<uint8_t>> shards{std::vector<uint8_t>(100, 1)};
  const std::string dir = test::temp_dir("session_file_fail");
  const std::string path = dir + "/s.ringlm";
  REQUIRE(write_session_file(path, sample(shards)).ok());
  const auto before = read_whole_file(path, size_t(1) << 20).value();
  // The temporary file cannot be created (a directory stands in its way).
  std::filesystem::create_directory(path + ".tmp");
  const std::vector<std::vector<uint8_t>> other{std::vector<uint8_t>(50, 2)};
  Status st = write_session_file(path, sample(other));
  CHECK(st.code() == StatusCode::kIoError);
  CHECK_THAT(st.message(), Catch::Contains(".tmp"));
  CHECK(read_whole_file(path, size_t(1) << 20).value() == before);
  std::filesystem::remove(path + ".tmp");
  // A new file is its owner's alone; a replaced one keeps its permissions.
  const std::string fresh = dir + "/fresh.ringlm";
  REQUIRE(write_session_file(fresh, sample(shards)).ok());
  namespace fs = std::filesystem;
  CHECK((fs::status(fresh).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));
  fs::permissions(fresh, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  REQUIRE(write_session_file(fresh, sample(other)).ok());
  CHECK((fs::status(fresh).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
  // A symbolic link in the temporary file's place is not followed.
  fs::create_symlink(dir + "/elsewhere", fresh + ".tmp");
  CHECK(write_session_file(fresh, sample(shards)).code() == StatusCode::kIoError);
  CHECK(!fs::exists(dir + "/elsewhere"));
  fs::remove(fresh + ".tmp");
  // Nor into a directory that does not exist.
  CHECK(write_session_file(dir + "/none/s.ringlm", sample(shards)).code() == StatusCode::kIoError);
}
