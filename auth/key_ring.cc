#include "auth/key_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "glog/logging.h"
#include "storage/errno_status.h"

namespace ferry::auth {
namespace {

constexpr size_t kMaxKeyFileBytes = 1 << 20;
constexpr size_t kMaxKeyIdBytes = 64;
constexpr size_t kMinSecretBytes = 32;
constexpr size_t kMaxSecretBytes = 256;
constexpr absl::string_view kSigningMarker = "signing";

bool IsKeyId(absl::string_view id) {
  return !id.empty() && id.size() <= kMaxKeyIdBytes &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
         });
}

bool IsHex(absl::string_view s) {
  return s.size() % 2 == 0 && std::all_of(s.begin(), s.end(), absl::ascii_isxdigit);
}

void Wipe(std::string& s) { OPENSSL_cleanse(s.data(), s.size()); }

absl::Status ReadAll(int fd, const std::string& path, size_t max_bytes, std::string* out) {
  char buffer[64 << 10];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return storage::ErrnoToStatus(errno, "read", path);
    if (n == 0) break;
    if (out->size() + n > max_bytes) {
      OPENSSL_cleanse(buffer, sizeof buffer);
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": larger than ", max_bytes, " bytes"));
    }
    out->append(buffer, n);
  }
  OPENSSL_cleanse(buffer, sizeof buffer);  // It may have held key bytes.
  return absl::OkStatus();
}

// One parsed key file line before it becomes a Key.
struct KeyLine {
  std::string id;
  std::string secret;
  bool signing;
};

absl::Status ParseKeyLine(const std::vector<absl::string_view>& fields,
                          absl::string_view where, KeyLine* key) {
  const auto invalid = [&](absl::string_view problem) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", problem));
  };
  if (fields.size() < 2 || fields.size() > 3) {
    return invalid("expected \"<key id> <hex secret> [signing]\"");
  }
  if (!IsKeyId(fields[0])) return invalid("key id must be 1-64 characters of [A-Za-z0-9._-]");
  if (!IsHex(fields[1])) return invalid("secret must be an even number of hex digits");
  const size_t secret_bytes = fields[1].size() / 2;
  if (secret_bytes < kMinSecretBytes || secret_bytes > kMaxSecretBytes) {
    return invalid(absl::StrCat("secret must be ", kMinSecretBytes, "-", kMaxSecretBytes,
                                " bytes, not ", secret_bytes));
  }
  if (fields.size() == 3 && fields[2] != kSigningMarker) {
    return invalid("the only word allowed after the secret is \"signing\"");
  }
  key->id = std::string(fields[0]);
  key->secret = absl::HexStringToBytes(fields[1]);
  key->signing = fields.size() == 3;
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const KeySet>> LoadKeyFile(const std::string& path) {
  absl::StatusOr<std::string> text =
      ReadConfigFile(path, kMaxKeyFileBytes, FileSecrecy::kOwnerOnly);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::shared_ptr<const KeySet>> keys = KeySet::Parse(*text, path);
  Wipe(*text);
  return keys;
}

}  // namespace

absl::StatusOr<std::string> ReadConfigFile(const std::string& path, size_t max_bytes,
                                           FileSecrecy secrecy) {
  // O_NONBLOCK: a FIFO swapped in for the file must not hang a reload.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return storage::ErrnoToStatus(errno, "open", path);
  absl::Cleanup close_fd = [fd] {
    if (close(fd) != 0) PLOG(WARNING) << "close";
  };
  struct stat st;
  if (fstat(fd, &st) != 0) return storage::ErrnoToStatus(errno, "fstat", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": not a regular file"));
  }
  if (secrecy == FileSecrecy::kOwnerOnly && (st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: mode %04o lets group or others access it; a key file must be private "
        "(chmod 600 %s)",
        path, st.st_mode & 07777, path));
  }
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": larger than ", max_bytes, " bytes"));
  }
  std::string text;
  text.reserve(st.st_size);
  if (absl::Status s = ReadAll(fd, path, max_bytes, &text); !s.ok()) {
    Wipe(text);
    return s;
  }
  return text;
}

Key::Key(std::string id, std::string secret) : id_(std::move(id)), secret_(std::move(secret)) {}

Key::~Key() { Wipe(secret_); }

absl::StatusOr<std::shared_ptr<const KeySet>> KeySet::Parse(absl::string_view text,
                                                            absl::string_view source_name) {
  std::shared_ptr<KeySet> keys(new KeySet());
  absl::flat_hash_map<std::string, int> line_of_id;
  const Key* last = nullptr;
  int signing_line = 0;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const std::string where = absl::StrCat(source_name, ":", line_number);
    KeyLine parsed{"", "", false};
    absl::Cleanup wipe = [&parsed] { Wipe(parsed.secret); };
    if (absl::Status s = ParseKeyLine(absl::StrSplit(line, absl::ByAnyChar(" \t"),
                                                     absl::SkipEmpty()),
                                      where, &parsed);
        !s.ok()) {
      return s;
    }
    if (const auto [it, inserted] = line_of_id.emplace(parsed.id, line_number); !inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": duplicate key id (first on line ", it->second, ")"));
    }
    if (parsed.signing && signing_line != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": a second key marked signing (first on line ", signing_line, ")"));
    }
    auto key = std::make_unique<const Key>(parsed.id, std::move(parsed.secret));
    last = key.get();
    if (parsed.signing) {
      signing_line = line_number;
      keys->signing_key_ = key.get();
    }
    keys->keys_.emplace(parsed.id, std::move(key));
  }
  if (last == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": no keys"));
  }
  if (keys->signing_key_ == nullptr) keys->signing_key_ = last;
  return std::shared_ptr<const KeySet>(std::move(keys));
}

const Key* KeySet::Find(absl::string_view key_id) const {
  const auto it = keys_.find(key_id);
  return it == keys_.end() ? nullptr : it->second.get();
}

absl::StatusOr<std::unique_ptr<KeyRing>> KeyRing::Open(std::string path) {
  absl::StatusOr<std::shared_ptr<const KeySet>> keys = LoadKeyFile(path);
  if (!keys.ok()) return keys.status();
  LOG(INFO) << "key file " << path << " loaded: " << (*keys)->size()
            << " keys, signing key id " << (*keys)->signing_key().id();
  return std::unique_ptr<KeyRing>(new KeyRing(std::move(path), *std::move(keys)));
}

std::unique_ptr<KeyRing> KeyRing::FromKeySet(std::shared_ptr<const KeySet> keys) {
  return std::unique_ptr<KeyRing>(new KeyRing("", std::move(keys)));
}

KeyRing::KeyRing(std::string path, std::shared_ptr<const KeySet> keys)
    : path_(std::move(path)), keys_(std::move(keys)) {}

std::shared_ptr<const KeySet> KeyRing::Current() const {
  absl::ReaderMutexLock lock(&mu_);
  return keys_;
}

absl::Status KeyRing::Reload() {
  if (path_.empty()) {
    return absl::FailedPreconditionError("this key ring was not loaded from a file");
  }
  absl::StatusOr<std::shared_ptr<const KeySet>> keys = LoadKeyFile(path_);
  if (!keys.ok()) {
    LOG(ERROR) << "key file reload failed, keeping the keys in force: "
               << keys.status().message();
    return keys.status();
  }
  LOG(INFO) << "key file " << path_ << " reloaded: " << (*keys)->size()
            << " keys, signing key id " << (*keys)->signing_key().id();
  std::shared_ptr<const KeySet> previous;
  {
    absl::MutexLock lock(&mu_);
    previous = std::exchange(keys_, *std::move(keys));
  }
  return absl::OkStatus();
}

}  // namespace ferry::auth
