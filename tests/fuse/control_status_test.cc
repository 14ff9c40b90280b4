// The control socket's status line (docs/control.md): what the daemon sends is what the client
// reads back, fields older daemons do not send take their defaults, and a malformed line is an
// error, never a status of zeros.
#include <gtest/gtest.h>

#include "fs/fuse/control_socket.h"

namespace shardfs::fuse {
namespace {

TEST(ControlStatusTest, RoundTripsEveryField) {
  MountStatus st;
  core::DriveStatus& d = st.drive;
  d.pending_blocks = 1;
  d.pending_bytes = 2;
  d.uploaded_bytes = 3;
  d.pending_deletes = 4;
  d.last_upload_error = "node2 down";
  d.cache_used_bytes = 5;
  d.cache_budget_bytes = 600;
  d.cache_capacity_bytes = 60;
  d.cache_dirty_bytes = 7;
  d.cache_hits = 8;
  d.cache_misses = 9;
  d.readahead_blocks = 10;
  d.read_waits = 11;
  d.sealed_blocks = 12;
  d.seal_commits = 13;
  d.buffer_bytes = 14;
  d.buffer_budget_bytes = 15;
  d.read_only = true;
  d.store = "4+2 over 6 nodes";
  d.nodes.push_back({"node1", "http://127.0.0.1:1", false, 1.5, 0.25, 16, 17, "refused"});
  st.uring_entries = 18;
  st.uring_requests = 19;
  auto back = StatusFromJson(StatusToJson(st));
  ASSERT_TRUE(back.ok()) << back.error().message;
  const core::DriveStatus& b = back->drive;
  EXPECT_EQ(b.pending_blocks, 1u);
  EXPECT_EQ(b.pending_bytes, 2u);
  EXPECT_EQ(b.uploaded_bytes, 3u);
  EXPECT_EQ(b.pending_deletes, 4u);
  EXPECT_EQ(b.last_upload_error, "node2 down");
  EXPECT_EQ(b.cache_used_bytes, 5u);
  EXPECT_EQ(b.cache_budget_bytes, 600u);
  EXPECT_EQ(b.cache_capacity_bytes, 60u);
  EXPECT_EQ(b.cache_dirty_bytes, 7u);
  EXPECT_EQ(b.cache_hits, 8u);
  EXPECT_EQ(b.cache_misses, 9u);
  EXPECT_EQ(b.readahead_blocks, 10u);
  EXPECT_EQ(b.read_waits, 11u);
  EXPECT_EQ(b.sealed_blocks, 12u);
  EXPECT_EQ(b.seal_commits, 13u);
  EXPECT_EQ(b.buffer_bytes, 14u);
  EXPECT_EQ(b.buffer_budget_bytes, 15u);
  EXPECT_TRUE(b.read_only);
  EXPECT_EQ(b.store, "4+2 over 6 nodes");
  ASSERT_EQ(b.nodes.size(), 1u);
  EXPECT_EQ(b.nodes[0].name, "node1");
  EXPECT_EQ(b.nodes[0].endpoint, "http://127.0.0.1:1");
  EXPECT_FALSE(b.nodes[0].healthy);
  EXPECT_DOUBLE_EQ(b.nodes[0].latency_ms, 1.5);
  EXPECT_DOUBLE_EQ(b.nodes[0].error_rate, 0.25);
  EXPECT_EQ(b.nodes[0].shards_stored, 16u);
  EXPECT_EQ(b.nodes[0].bad_shards, 17u);
  EXPECT_EQ(b.nodes[0].last_error, "refused");
  EXPECT_EQ(back->uring_entries, 18u);
  EXPECT_EQ(back->uring_requests, 19u);
}

TEST(ControlStatusTest, FieldsOlderDaemonsLackTakeTheirDefaults) {
  auto st = StatusFromJson(
      R"({"pending_blocks":1,"pending_bytes":2,"uploaded_bytes":3,"last_upload_error":"",)"
      R"("cache_used_bytes":4,"cache_budget_bytes":500,"cache_dirty_bytes":0,"cache_hits":0,)"
      R"("cache_misses":0,"store":"dir:/x","nodes":[]})");
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(st->drive.cache_capacity_bytes, 500u) << "no capacity sent: the budget";
  EXPECT_FALSE(st->drive.read_only);
  EXPECT_EQ(st->uring_entries, 0u);
}

TEST(ControlStatusTest, AMalformedLineIsAnError) {
  for (const char* line :
       {"", "not json", "[]", R"({"pending_blocks":"many"})", R"({"pending_blocks":1})"}) {
    auto st = StatusFromJson(line);
    EXPECT_FALSE(st.ok()) << line;
    if (!st.ok()) {
      EXPECT_EQ(st.code(), util::Errc::kCorrupt) << line;
    }
  }
}

}  // namespace
}  // namespace shardfs::fuse
