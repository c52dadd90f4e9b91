// KeyRing: the shared secrets capabilities are signed with (auth/capability.h), read
// from a key file and reloadable for rotation by key id.
//
// Key file format (text, one key per line; blank lines and lines starting with '#'
// are ignored):
//     <key id> <secret in hex> [signing]
// key id: 1-64 characters of [A-Za-z0-9._-], unique in the file. secret: 32-256 random
// bytes as hex (e.g. `openssl rand -hex 32`). At most one line carries `signing`:
// that key signs new capabilities; without a marker the LAST key signs. Every key in
// the file verifies. The file must be a regular file with no group or other
// permission bits (mode 0600 or 0400; FAILED_PRECONDITION otherwise, before anything
// is parsed), and is at most 1 MiB.
//
// Rotation, with one file per process holding the keys of the controller that signs
// and the copyds that verify: (1) add the new key to every file without moving the
// signer (mark the old key `signing`), reload everywhere; (2) move `signing` to the new
// key on the signer, reload; (3) once capabilities signed with the old key have
// expired, remove it everywhere, reload.
//
// Secrets never appear in a status message or a log line (parse errors name the file
// and line only), and their bytes are wiped (OPENSSL_cleanse) when a KeySet is freed.
//
// Thread safety: KeySet is immutable. KeyRing methods may be called concurrently;
// Current() returns a snapshot that stays valid while it is held, across reloads.
#ifndef FERRY_AUTH_KEY_RING_H_
#define FERRY_AUTH_KEY_RING_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace ferry::auth {

enum class FileSecrecy {
  kAnyReader,  // Any mode.
  kOwnerOnly,  // No group or other permission bits (FAILED_PRECONDITION otherwise).
};

// Reads a small configuration file (policy or keys) whole: follows symlinks, refuses
// anything but a regular file (FAILED_PRECONDITION, without blocking on a FIFO) and
// files over `max_bytes` (INVALID_ARGUMENT); errno failures map as in
// storage/errno_status.h (NOT_FOUND, PERMISSION_DENIED, UNAVAILABLE...).
absl::StatusOr<std::string> ReadConfigFile(const std::string& path, size_t max_bytes,
                                           FileSecrecy secrecy);

// One shared secret. Not copyable, so its bytes live in one place that is wiped.
class Key {
 public:
  Key(std::string id, std::string secret);
  ~Key();
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;

  const std::string& id() const { return id_; }
  absl::string_view secret() const { return secret_; }

 private:
  const std::string id_;
  std::string secret_;
};

class KeySet {
 public:
  // Parses the key file format above. INVALID_ARGUMENT "<source>:<line>: ..." naming
  // what is wrong but never the secret.
  static absl::StatusOr<std::shared_ptr<const KeySet>> Parse(absl::string_view text,
                                                             absl::string_view source_name);

  KeySet(const KeySet&) = delete;
  KeySet& operator=(const KeySet&) = delete;

  // Null if no key has this id.
  const Key* Find(absl::string_view key_id) const;
  const Key& signing_key() const { return *signing_key_; }
  size_t size() const { return keys_.size(); }

 private:
  KeySet() = default;

  absl::flat_hash_map<std::string, std::unique_ptr<const Key>> keys_;
  const Key* signing_key_ = nullptr;
};

class KeyRing {
 public:
  // Reads and parses `path` (ReadConfigFile with kOwnerOnly, then KeySet::Parse).
  static absl::StatusOr<std::unique_ptr<KeyRing>> Open(std::string path);
  // A ring over fixed keys (tests, fuzzers); Reload() on it is FAILED_PRECONDITION.
  static std::unique_ptr<KeyRing> FromKeySet(std::shared_ptr<const KeySet> keys);

  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;

  // The keys in force. Never null.
  std::shared_ptr<const KeySet> Current() const ABSL_LOCKS_EXCLUDED(mu_);

  // Reads the file again. On error the old keys stay in force, the error is logged at
  // ERROR and returned.
  absl::Status Reload() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  KeyRing(std::string path, std::shared_ptr<const KeySet> keys);

  const std::string path_;  // Empty for FromKeySet.
  mutable absl::Mutex mu_;
  std::shared_ptr<const KeySet> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ferry::auth

#endif  // FERRY_AUTH_KEY_RING_H_
