// FileSource (issue 21): oversized lines are streamed past, not buffered; a followed file is
// tracked across rotation and truncation; a restart resumes only on the same file content.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "connectors/file_source.h"
#include "state/memory_store.h"

namespace sw {
namespace {

namespace fs = std::filesystem;

class FileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sw_file_source_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "live.jsonl").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void write(const std::string& path, const std::string& text, bool append = false) {
    std::ofstream f(path, append ? std::ios::app | std::ios::binary : std::ios::binary);
    f << text;
  }
  std::unique_ptr<FileSource> make(bool follow, size_t max_record_bytes = 1 << 20) {
    FileSourceOptions o;
    o.path = path_;
    o.follow = follow;
    o.follow_poll_ms = 5;
    o.chunk_bytes = 64 << 10;
    o.max_record_bytes = max_record_bytes;
    auto s = std::make_unique<FileSource>(o);
    EXPECT_TRUE(s->open().is_ok());
    return s;
  }
  // Polls until `n` records arrived (or 5 s passed); returns their payloads.
  static std::vector<std::string> read_n(FileSource& s, size_t n,
                                         std::vector<RawRecord>* records = nullptr) {
    std::vector<std::string> out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::vector<RawRecord> batch;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      batch.clear();
      EXPECT_TRUE(s.poll(batch, n - out.size(), 20).is_ok());
      for (const RawRecord& r : batch) {
        out.emplace_back(r.payload);
        if (records != nullptr) records->push_back(r);
      }
      if (batch.empty() && s.at_end()) break;
    }
    return out;
  }
  // Checkpoint of the position after `last`, as the task would commit it.
  static void checkpoint(FileSource& s, const RawRecord& last, MemoryStateStore& store,
                         std::vector<SourcePosition>& positions) {
    positions = {{0, last.next_offset, last.line}};
    StateBatch b;
    s.snapshot(positions, b);
    ASSERT_TRUE(store.commit(b).is_ok());
  }
  fs::path dir_;
  std::string path_;
};

using Lines = std::vector<std::string>;

TEST_F(FileSourceTest, LineLongerThanTheLimitIsStreamedPastWithItsTrueLength) {
  std::string big(5u << 20, 'x');
  write(path_, "{\"a\":1}\n" + big + "\n{\"b\":2}\n");
  auto s = make(false, 4096);
  std::vector<RawRecord> recs;
  Lines got = read_n(*s, 3, &recs);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "{\"a\":1}");
  EXPECT_EQ(recs[1].oversize_bytes, static_cast<int64_t>(big.size()));
  EXPECT_EQ(got[1].size(), kOversizePrefixBytes);
  EXPECT_EQ(recs[1].offset, 8);
  EXPECT_EQ(recs[1].line, 2);
  EXPECT_EQ(got[2], "{\"b\":2}");
  EXPECT_EQ(recs[2].line, 3);
  EXPECT_EQ(recs[2].offset, static_cast<int64_t>(8 + big.size() + 1));
}

TEST_F(FileSourceTest, RotationIsFollowedOldFileToItsEndThenNewFileFromItsStart) {
  write(path_, "a1\na2\n");
  auto s = make(true);
  EXPECT_EQ(read_n(*s, 2), (Lines{"a1", "a2"}));
  fs::rename(path_, path_ + ".1");
  write(path_ + ".1", "a3\na4-unterminated", true);  // the writer had not reopened yet
  write(path_, "b1\nb2\n");
  EXPECT_EQ(read_n(*s, 4), (Lines{"a3", "a4-unterminated", "b1", "b2"}));
  EXPECT_EQ(s->rotations(), 1u);
  write(path_, "b3\n", true);
  EXPECT_EQ(read_n(*s, 1), (Lines{"b3"}));
}

TEST_F(FileSourceTest, TruncationRestartsFromTheBeginningAndIsCounted) {
  write(path_, "first line that is long\nsecond line that is long\n");
  auto s = make(true);
  EXPECT_EQ(read_n(*s, 2).size(), 2u);
  ::truncate(path_.c_str(), 0);
  write(path_, "x1\nx2\n");
  EXPECT_EQ(read_n(*s, 2), (Lines{"x1", "x2"}));
  EXPECT_EQ(s->truncations(), 1u);
  // Truncated and rewritten past the old size before the source looked: the changed first
  // bytes give it away.
  std::ofstream(path_, std::ios::trunc) << "y1 a longer line than before, much longer\ny2 too\n";
  EXPECT_EQ(read_n(*s, 2), (Lines{"y1 a longer line than before, much longer", "y2 too"}));
  EXPECT_EQ(s->truncations(), 2u);
}

TEST_F(FileSourceTest, RestartResumesOnTheSameContentEvenAtAnotherInode) {
  write(path_, "l1\nl2\nl3\n");
  MemoryStateStore store;
  std::vector<SourcePosition> pos;
  {
    auto s = make(false);
    std::vector<RawRecord> recs;
    ASSERT_EQ(read_n(*s, 2, &recs).size(), 2u);
    checkpoint(*s, recs.back(), store, pos);
  }
  // Restored from a backup: a copy, so a new inode, same bytes.
  fs::copy_file(path_, path_ + ".copy");
  fs::rename(path_ + ".copy", path_);
  auto s = make(false);
  ASSERT_TRUE(s->restore(store).is_ok());
  ASSERT_TRUE(s->seek(pos).is_ok());
  std::vector<RawRecord> recs;
  EXPECT_EQ(read_n(*s, 5, &recs), (Lines{"l3"}));
  EXPECT_EQ(recs[0].line, 3);
  EXPECT_EQ(s->replaced(), 0u);
}

TEST_F(FileSourceTest, RestartOnADifferentFileAtThePathReadsItFromItsBeginning) {
  write(path_, "old1\nold2\nold3\n");
  MemoryStateStore store;
  std::vector<SourcePosition> pos;
  {
    auto s = make(false);
    std::vector<RawRecord> recs;
    ASSERT_EQ(read_n(*s, 3, &recs).size(), 3u);
    checkpoint(*s, recs.back(), store, pos);
  }
  fs::remove(path_);
  write(path_, "new1 is longer\nnew2\nnew3\nnew4\n");
  auto s = make(false);
  ASSERT_TRUE(s->restore(store).is_ok());
  ASSERT_TRUE(s->seek(pos).is_ok());
  std::vector<RawRecord> recs;
  EXPECT_EQ(read_n(*s, 10, &recs), (Lines{"new1 is longer", "new2", "new3", "new4"}));
  EXPECT_EQ(recs[0].line, 1);
  EXPECT_GE(recs[0].offset, pos[0].next_offset);  // positions keep growing
  EXPECT_EQ(s->replaced(), 1u);
}

TEST_F(FileSourceTest, RestartOnAFileShorterThanThePositionReadsItFromItsBeginning) {
  write(path_, "same prefix\nline 2\nline 3\n");
  MemoryStateStore store;
  std::vector<SourcePosition> pos;
  {
    auto s = make(false);
    std::vector<RawRecord> recs;
    ASSERT_EQ(read_n(*s, 3, &recs).size(), 3u);
    checkpoint(*s, recs.back(), store, pos);
  }
  write(path_, "same prefix\n");  // same first bytes, but shorter than the position
  auto s = make(false);
  ASSERT_TRUE(s->restore(store).is_ok());
  ASSERT_TRUE(s->seek(pos).is_ok());
  EXPECT_EQ(read_n(*s, 10), (Lines{"same prefix"}));
  EXPECT_EQ(s->replaced(), 1u);
}

TEST_F(FileSourceTest, StdinIgnoresAStoredPosition) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  int saved = ::dup(0);
  ASSERT_EQ(::dup2(fds[0], 0), 0);
  ::close(fds[0]);
  std::string data = "s1\ns2\ns3\n";
  ASSERT_EQ(::write(fds[1], data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ::close(fds[1]);
  FileSourceOptions o;
  o.path = "-";
  FileSource s(o);
  ASSERT_TRUE(s.open().is_ok());
  ASSERT_TRUE(s.seek({{0, 6, 2}}).is_ok());  // a previous run's position
  Lines got = read_n(s, 10);
  ::dup2(saved, 0);
  ::close(saved);
  EXPECT_EQ(got, (Lines{"s1", "s2", "s3"}));
  EXPECT_EQ(s.replaced(), 1u);
  StateBatch b;
  s.snapshot({{0, 9, 3}}, b);
  EXPECT_EQ(b.size(), 0u);  // stdin has no identity
}

}  // namespace
}  // namespace sw
