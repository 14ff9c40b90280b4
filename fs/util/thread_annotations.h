// Clang's thread-safety analysis (-Wthread-safety): attributes that say which mutex guards a
// member (GUARDED_BY), which a function needs held (REQUIRES) or must not hold (EXCLUDES).
// scripts/check-thread-safety.sh compiles the sources with clang and fails on any breach; with
// other compilers the attributes expand to nothing. Use them with util::Mutex (fs/util/mutex.h).
#pragma once

#if defined(__clang__)
#define SHARDFS_THREAD_ATTRIBUTE(x) __attribute__((x))
#else
#define SHARDFS_THREAD_ATTRIBUTE(x)
#endif

#define CAPABILITY(x) SHARDFS_THREAD_ATTRIBUTE(capability(x))
#define SCOPED_CAPABILITY SHARDFS_THREAD_ATTRIBUTE(scoped_lockable)
#define GUARDED_BY(x) SHARDFS_THREAD_ATTRIBUTE(guarded_by(x))
#define PT_GUARDED_BY(x) SHARDFS_THREAD_ATTRIBUTE(pt_guarded_by(x))
#define ACQUIRED_AFTER(...) SHARDFS_THREAD_ATTRIBUTE(acquired_after(__VA_ARGS__))
#define REQUIRES(...) SHARDFS_THREAD_ATTRIBUTE(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) SHARDFS_THREAD_ATTRIBUTE(acquire_capability(__VA_ARGS__))
#define RELEASE(...) SHARDFS_THREAD_ATTRIBUTE(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) SHARDFS_THREAD_ATTRIBUTE(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) SHARDFS_THREAD_ATTRIBUTE(locks_excluded(__VA_ARGS__))
#define RETURN_CAPABILITY(x) SHARDFS_THREAD_ATTRIBUTE(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS SHARDFS_THREAD_ATTRIBUTE(no_thread_safety_analysis)
