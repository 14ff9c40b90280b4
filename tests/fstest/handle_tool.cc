// fstest_handle: file handles across a remount, for shell tests.
//   fstest_handle save PATH HANDLE_FILE    name_to_handle_at(PATH), the handle written to a file
//   fstest_handle cat MOUNT HANDLE_FILE    open_by_handle_at under MOUNT, the content to stdout
// Exits 1 with the errno name on stderr when a call fails (ESTALE for a handle gone stale).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

int Fail(const char* what) {
  const char* name = strerrorname_np(errno);
  fprintf(stderr, "fstest_handle: %s: %s (%s)\n", what, name ? name : "?", strerror(errno));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 || (std::string(argv[1]) != "save" && std::string(argv[1]) != "cat")) {
    fprintf(stderr, "usage: fstest_handle save PATH HANDLE_FILE | cat MOUNT HANDLE_FILE\n");
    return 2;
  }
  std::vector<char> storage(sizeof(file_handle) + MAX_HANDLE_SZ);
  auto* h = reinterpret_cast<file_handle*>(storage.data());
  if (std::string(argv[1]) == "save") {
    h->handle_bytes = MAX_HANDLE_SZ;
    int mount_id = 0;
    if (name_to_handle_at(AT_FDCWD, argv[2], h, &mount_id, 0) != 0)
      return Fail("name_to_handle_at");
    FILE* out = fopen(argv[3], "wb");
    if (out == nullptr) return Fail("fopen");
    const size_t n = sizeof(file_handle) + h->handle_bytes;
    if (fwrite(storage.data(), 1, n, out) != n || fclose(out) != 0) return Fail("fwrite");
    return 0;
  }
  FILE* in = fopen(argv[3], "rb");
  if (in == nullptr) return Fail("fopen");
  const size_t n = fread(storage.data(), 1, storage.size(), in);
  fclose(in);
  if (n < sizeof(file_handle) || n != sizeof(file_handle) + h->handle_bytes) {
    fprintf(stderr, "fstest_handle: %s holds no handle\n", argv[3]);
    return 1;
  }
  int mount_fd = open(argv[2], O_RDONLY | O_DIRECTORY);
  if (mount_fd < 0) return Fail("open MOUNT");
  int fd = open_by_handle_at(mount_fd, h, O_RDONLY);
  if (fd < 0) return Fail("open_by_handle_at");
  char buf[65536];
  ssize_t got;
  while ((got = read(fd, buf, sizeof buf)) > 0) {
    if (fwrite(buf, 1, static_cast<size_t>(got), stdout) != static_cast<size_t>(got)) {
      return Fail("write");
    }
  }
  if (got < 0) return Fail("read");
  return 0;
}
