#!/usr/bin/env bash
# scripts/check-thread-safety.sh on two small files of its own: one that touches a member
# GUARDED_BY a util::Mutex without holding it (and calls a REQUIRES function unlocked), which it
# must refuse naming both, and the same code written right, which it must pass.
# Usage: thread_safety_test.sh CHECK_THREAD_SAFETY_SCRIPT
set -euo pipefail
check=${1:?path to check-thread-safety.sh}
dir=$(mktemp -d /tmp/shardfs-tsa-XXXXXX)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/bad.cc" <<'CC'
#include "fs/util/mutex.h"
class Counter {
 public:
  void Add() { ++n_; }
  void AddLocked() REQUIRES(mu_) { ++n_; }
  void Twice() { AddLocked(); }
 private:
  shardfs::util::Mutex mu_;
  int n_ GUARDED_BY(mu_) = 0;
};
int main() { Counter c; c.Add(); c.Twice(); }
CC
cat >"$dir/good.cc" <<'CC'
#include <condition_variable>
#include "fs/util/mutex.h"
class Counter {
 public:
  void Add() {
    shardfs::util::MutexLock lock(mu_);
    ++n_;
  }
  void AddLocked() REQUIRES(mu_) { ++n_; }
  void Twice() EXCLUDES(mu_) {
    shardfs::util::MutexLock lock(mu_);
    AddLocked();
    mu_.Unlock();  // slow work without it
    mu_.Lock();
    while (n_ < 0) mu_.Await(cv_);
  }
 private:
  shardfs::util::Mutex mu_;
  std::condition_variable cv_;
  int n_ GUARDED_BY(mu_) = 0;
};
int main() { Counter c; c.Add(); c.Twice(); }
CC
if out=$("$check" /nonexistent "$dir/bad.cc" 2>&1); then
  echo "FAIL: unguarded access passed the check: $out"
  exit 1
fi
for want in "writing variable 'n_' requires holding mutex 'mu_'" \
  "calling function 'AddLocked' requires holding mutex 'mu_'"; do
  [[ $out == *"$want"* ]] || { echo "FAIL: the check did not say \"$want\": $out"; exit 1; }
done
out=$("$check" /nonexistent "$dir/good.cc" 2>&1) || { echo "FAIL: correct locking refused: $out"; exit 1; }
echo "thread-safety check: the breaches were caught, the correct code passed"
