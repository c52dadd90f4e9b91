#include "auth/tls.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "openssl/bio.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "openssl/x509.h"
#include "storage/errno_status.h"

namespace ferry::auth {
namespace {

// PEM files of a CA bundle, a certificate chain or a key are a few KiB; anything far
// larger is not one of them.
constexpr size_t kMaxPemBytes = 1 << 20;

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using UniqueBio = std::unique_ptr<BIO, BioFree>;
using UniqueX509 = std::unique_ptr<X509, X509Free>;
using UniquePkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string Describe(absl::string_view flag, const std::string& path) {
  return absl::StrCat(flag, " '", path, "'");
}

absl::StatusOr<std::string> ReadPemFile(absl::string_view flag, const std::string& path) {
  if (path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " is required (or ", kInsecureFlag, " for plaintext)"));
  }
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return storage::ErrnoToStatus(errno, absl::StrCat("open ", flag), path);
  std::string text;
  char buf[16384];
  absl::Status status;
  while (true) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = storage::ErrnoToStatus(errno, absl::StrCat("read ", flag), path);
      break;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxPemBytes) {
      status = absl::InvalidArgumentError(
          absl::StrCat(Describe(flag, path), ": larger than ", kMaxPemBytes, " bytes"));
      break;
    }
  }
  if (close(fd) != 0 && status.ok()) {
    status = storage::ErrnoToStatus(errno, absl::StrCat("close ", flag), path);
  }
  if (!status.ok()) return status;
  return text;
}

UniqueBio MemoryBio(const std::string& text) {
  return UniqueBio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

absl::StatusOr<UniqueX509> ParseFirstCertificate(absl::string_view flag,
                                                 const std::string& path) {
  absl::StatusOr<std::string> text = ReadPemFile(flag, path);
  if (!text.ok()) return text.status();
  UniqueBio bio = MemoryBio(*text);
  UniqueX509 cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(Describe(flag, path), ": no PEM certificate in it"));
  }
  return cert;
}

absl::StatusOr<UniquePkey> ParseKey(const std::string& path) {
  absl::StatusOr<std::string> text = ReadPemFile(kKeyFlag, path);
  if (!text.ok()) return text.status();
  UniqueBio bio = MemoryBio(*text);
  UniquePkey key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                     : nullptr);
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        Describe(kKeyFlag, path), ": no unencrypted PEM private key in it"));
  }
  return key;
}

// gRPC's file watcher counts whole seconds.
unsigned int ReloadSeconds(absl::Duration interval) {
  const double seconds = std::ceil(absl::ToDoubleSeconds(interval));
  if (!(seconds >= 1)) return 1;  // also NaN
  if (seconds > 86400) return 86400;
  return static_cast<unsigned int>(seconds);
}

std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> FileWatcher(
    const TlsConfig& config) {
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      config.files.key, config.files.cert, config.files.ca,
      ReloadSeconds(config.reload_interval));
}

// Both ends watch the CA (to verify the peer) and their own identity (to present it).
void WatchAll(grpc::experimental::TlsCredentialsOptions& options) {
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
}

}  // namespace

absl::Status ValidateTlsFiles(const TlsFiles& files) {
  absl::StatusOr<UniqueX509> ca = ParseFirstCertificate(kCaFlag, files.ca);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<UniqueX509> cert = ParseFirstCertificate(kCertFlag, files.cert);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<UniquePkey> key = ParseKey(files.key);
  if (!key.ok()) return key.status();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(Describe(kKeyFlag, files.key),
                                                   " is not the key of ",
                                                   Describe(kCertFlag, files.cert)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const TlsConfig& config) {
  if (config.insecure_plaintext_unsafe) {
    LOG(WARNING) << kInsecureFlag
                 << " is set: this server accepts plaintext connections from anyone, "
                    "unauthenticated and unencrypted; every caller is ferry://anonymous";
    return grpc::InsecureServerCredentials();
  }
  if (absl::Status valid = ValidateTlsFiles(config.files); !valid.ok()) return valid;
  grpc::experimental::TlsServerCredentialsOptions options(FileWatcher(config));
  WatchAll(options);
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const TlsConfig& config) {
  if (config.insecure_plaintext_unsafe) return grpc::InsecureChannelCredentials();
  if (absl::Status valid = ValidateTlsFiles(config.files); !valid.ok()) return valid;
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(FileWatcher(config));
  WatchAll(options);
  options.set_verify_server_certs(true);
  options.set_certificate_verifier(
      std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace ferry::auth
