// FsOptions: how the core behaves for one mount (the mount options and tuning it takes). Plain
// values; thread-safe to copy.
#pragma once

#include <cstdint>

namespace shardfs::core {

struct FsOptions {
  // The kernel keeps a writeback page cache (FUSE writeback_cache): it then handles O_APPEND
  // offsets and sends mtime with setattr. Without it, the core writes O_APPEND data at EOF.
  bool writeback_cache = true;
  bool read_only = false;
  // Plaintext kept in memory per drive: dirty buffers being filled plus recently read blocks.
  // 64 MiB (16 blocks of 4 MiB): the kernel's page cache holds what was read or written
  // recently anyway; 128 MiB took the daemon's peak over 300 MiB (1 GiB written and read
  // back: 330 MiB at 128, 250 MiB at 64).
  uint64_t memory_budget_bytes = uint64_t{64} << 20;
  // Seal dirty buffers idle this long and sync the local state (like ext4's commit=5).
  uint32_t commit_interval_seconds = 5;
  // Blocks uploaded at once (each fans out to its shards' nodes in parallel).
  uint32_t upload_threads = 4;
  // The nice value of the upload threads (0: as the rest of the daemon).
  int background_nice = 10;
  // Blocks fetched ahead of a sequential reader at once.
  uint32_t prefetch_threads = 4;
  // Unmount waits for pending uploads, but gives up after this long without any upload
  // succeeding while the store fails (the blocks stay in the cache for the next mount).
  uint32_t unmount_patience_seconds = 120;
};

}  // namespace shardfs::core
