#include "fs/crypto/keys.h"

#include <string>
#include <utility>

#include "fs/crypto/hkdf.h"

namespace shardfs::crypto {
namespace {

constexpr size_t kKeyBytes = 32;

}  // namespace

util::Result<util::SecretBytes> DeriveKey(const util::SecretBytes& seed, std::string_view label) {
  // An empty seed means a caller skipped MnemonicToSeed; its keys would look fine and protect
  // nothing, so refuse rather than derive them.
  if (seed.empty()) return util::MakeError(util::Errc::kInvalid, "key derivation seed is empty");
  if (label.empty()) return util::MakeError(util::Errc::kInvalid, "key derivation label is empty");
  return HkdfSha256(seed.span(), {}, util::AsBytes(label), kKeyBytes);
}

util::Result<DriveKeys> DeriveDriveKeys(const util::SecretBytes& seed) {
  DriveKeys keys;
  SHARDFS_ASSIGN_OR_RETURN(keys.metadata, DeriveKey(seed, kLabelMetadata));
  SHARDFS_ASSIGN_OR_RETURN(keys.object_names, DeriveKey(seed, kLabelObjectNames));
  SHARDFS_ASSIGN_OR_RETURN(keys.entry_names, DeriveKey(seed, kLabelEntryNames));
  SHARDFS_ASSIGN_OR_RETURN(keys.journal, DeriveKey(seed, kLabelJournal));
  // The drive id is public, so it is a plain Bytes; it still comes from its own label so that
  // publishing it reveals nothing about the secret keys.
  SHARDFS_ASSIGN_OR_RETURN(util::SecretBytes id, DeriveKey(seed, kLabelDriveId));
  keys.drive_id.assign(id.data(), id.data() + kDriveIdBytes);
  return keys;
}

}  // namespace shardfs::crypto
