// FakeFilesystem: a small in-memory core::Filesystem for testing the FUSE adapter through a real
// mount, independent of the real core. It keeps the contract of fs/core/filesystem.h (checked
// with the core's by tests/core/filesystem_contract_test.cc): lookup counts (so tests can check
// the kernel's and the core's agree), inodes deleted once unlinked, unused and closed, stable
// readdir offsets. It records the flags of the last open, counts getxattr calls and set-id
// clears, and reads of a file named "corrupt" fail with kCorrupt. Thread-safe (one mutex).
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "fs/core/filesystem.h"

namespace shardfs::fuse::testing {

class FakeFilesystem : public core::Filesystem {
 public:
  FakeFilesystem();

  // Lookup references held on inodes other than the root.
  uint64_t OutstandingLookups() const;
  int last_open_flags() const { return last_open_flags_.load(); }
  int shutdown_calls() const { return shutdown_calls_.load(); }
  int getxattr_calls() const { return getxattr_calls_.load(); }
  int kill_setid_calls() const { return kill_setid_calls_.load(); }

  util::Result<core::Attr> Lookup(uint64_t parent, std::string_view name) override;
  void Forget(uint64_t ino, uint64_t nlookup) override;
  util::Result<core::Attr> GetAttr(uint64_t ino) override;
  util::Result<core::Attr> SetAttributes(uint64_t ino, const core::SetAttr& change,
                                         const core::Caller& caller) override;
  util::Status Access(uint64_t ino, int mask, const core::Caller& caller) override;
  util::Result<core::Attr> Mknod(uint64_t parent, std::string_view name, uint32_t mode,
                                 uint64_t rdev, const core::Caller& caller) override;
  util::Result<core::Attr> Mkdir(uint64_t parent, std::string_view name, uint32_t mode,
                                 const core::Caller& caller) override;
  util::Result<core::Attr> Symlink(uint64_t parent, std::string_view name, std::string_view target,
                                   const core::Caller& caller) override;
  util::Result<std::string> Readlink(uint64_t ino) override;
  util::Status Unlink(uint64_t parent, std::string_view name) override;
  util::Status Rmdir(uint64_t parent, std::string_view name) override;
  util::Status Rename(uint64_t parent, std::string_view name, uint64_t new_parent,
                      std::string_view new_name, uint32_t flags) override;
  util::Result<core::Attr> Link(uint64_t ino, uint64_t new_parent,
                                std::string_view new_name) override;
  util::Result<uint64_t> Open(uint64_t ino, int flags) override;
  util::Result<Created> Create(uint64_t parent, std::string_view name, uint32_t mode, int flags,
                               const core::Caller& caller) override;
  util::Result<size_t> Read(uint64_t ino, uint64_t fh, uint64_t offset,
                            util::MutableByteSpan out) override;
  util::Result<size_t> Write(uint64_t ino, uint64_t fh, uint64_t offset,
                             util::ByteSpan data) override;
  util::Status Release(uint64_t ino, uint64_t fh) override;
  util::Status Fsync(uint64_t ino, uint64_t fh, bool datasync) override;
  util::Status Fallocate(uint64_t ino, uint64_t fh, int mode, uint64_t offset,
                         uint64_t length) override;
  util::Result<size_t> CopyFileRange(uint64_t ino_in, uint64_t fh_in, uint64_t off_in,
                                     uint64_t ino_out, uint64_t fh_out, uint64_t off_out,
                                     size_t length) override;
  util::Result<uint64_t> OpenDir(uint64_t ino) override;
  util::Status ReadDir(uint64_t ino, uint64_t fh, uint64_t offset, bool plus,
                       const std::function<bool(const core::DirEntry&)>& emit) override;
  util::Status ReleaseDir(uint64_t ino, uint64_t fh) override;
  util::Status FsyncDir(uint64_t ino, uint64_t fh) override;
  util::Result<core::FsStats> StatFs() override;
  util::Status SetXattr(uint64_t ino, std::string_view name, util::ByteSpan value,
                        int flags) override;
  util::Result<util::Bytes> GetXattr(uint64_t ino, std::string_view name) override;
  util::Result<std::vector<std::string>> ListXattr(uint64_t ino) override;
  util::Status RemoveXattr(uint64_t ino, std::string_view name) override;
  util::Status Shutdown() override;
  util::Status SealAll() override { return util::Ok(); }
  util::Status SetReadOnly(bool) override { return util::Ok(); }
  core::DriveStatus GetStatus() override { return {}; }

 private:
  struct Node {
    core::Attr attr;
    uint64_t parent = 0;  // directories: the directory holding this one
    std::string name;     // within parent
    std::map<std::string, uint64_t, std::less<>> children;
    // Directories: readdir position of each name (from 3; 1 and 2 are "." and ".."): a name keeps
    // its position while others come and go, so a listing in parts returns it once.
    std::map<uint64_t, std::string> slots;
    std::map<std::string, uint64_t, std::less<>> slot_of;
    uint64_t next_slot = 3;
    std::string data;  // file contents or symlink target
    std::map<std::string, util::Bytes, std::less<>> xattrs;
    uint32_t opens = 0;
  };

  // All with mu_ held.
  util::Result<Node*> Find(uint64_t ino);
  util::Result<Node*> FindDir(uint64_t ino);
  util::Result<core::Attr> AddNode(uint64_t parent, std::string_view name, uint32_t mode,
                                   const core::Caller& caller);
  void AddName(Node& dir, std::string_view name, uint64_t ino);
  void RemoveName(Node& dir, std::string_view name);
  // A name's inode lost a link (it was unlinked, removed or replaced by a rename).
  void DropLink(uint64_t ino);
  // Deletes ino if it has no links, no lookups and no open handles.
  void MaybeDelete(uint64_t ino);
  bool IsAncestor(uint64_t maybe_ancestor, uint64_t dir);

  mutable std::mutex mu_;
  std::map<uint64_t, Node> nodes_;
  std::map<uint64_t, uint64_t> lookups_;
  std::map<uint64_t, uint64_t> handles_;  // fh -> ino
  uint64_t next_ino_ = 2;
  uint64_t next_fh_ = 1;
  std::atomic<int> last_open_flags_{-1};
  std::atomic<int> shutdown_calls_{0};
  std::atomic<int> getxattr_calls_{0};
  std::atomic<int> kill_setid_calls_{0};  // SetAttributes asked to clear set-id bits
};

}  // namespace shardfs::fuse::testing
