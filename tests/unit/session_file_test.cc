// The session file: write_session_file streams the same bytes that
// encode_session_file builds, decode_session_file reads the shards in place,
// and a write that fails leaves the file it would have replaced as it was.
#include "runtime/session_file.h"

#include <catch2/catch.hpp>
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

}  // namespace

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
  // Nor into a directory that does not exist.
  CHECK(write_session_file(dir + "/none/s.ringlm", sample(shards)).code() == StatusCode::kIoError);
}
