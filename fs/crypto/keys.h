// The drive's keys, all derived from the BIP39 seed by HKDF-SHA256 with one label per purpose,
// so the 24 words are the only secret to keep. Labels are part of the format: changing one
// changes every key and drive id (see docs/keys.md). Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "fs/util/bytes.h"
#include "fs/util/result.h"

namespace shardfs::crypto {

inline constexpr std::string_view kLabelMetadata = "shardfs/v1/metadata";
inline constexpr std::string_view kLabelObjectNames = "shardfs/v1/object-names";
inline constexpr std::string_view kLabelDriveId = "shardfs/v1/drive-id";
inline constexpr std::string_view kLabelEntryNames = "shardfs/v1/entry-names";
inline constexpr std::string_view kLabelJournal = "shardfs/v1/journal";

inline constexpr size_t kDriveIdBytes = 16;

struct DriveKeys {
  util::SecretBytes metadata;      // wraps file keys and seals inode records (32 bytes)
  util::SecretBytes object_names;  // HMAC key for shard object names (32 bytes)
  util::SecretBytes entry_names;   // HMAC key for directory entry lookup (32 bytes)
  util::SecretBytes journal;       // seals the metadata journal uploaded to nodes (32 bytes)
  util::Bytes drive_id;            // public: 16 bytes, the same for every restore of the drive
};

// A single purpose key: HKDF-SHA256(ikm = seed, salt = empty, info = label), 32 bytes.
util::Result<util::SecretBytes> DeriveKey(const util::SecretBytes& seed, std::string_view label);
util::Result<DriveKeys> DeriveDriveKeys(const util::SecretBytes& seed);

}  // namespace shardfs::crypto
