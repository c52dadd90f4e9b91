// The CLI's connection to a controller.
//
// Purpose: the single place that decides how the CLI connects. The channel is mTLS
// (auth/tls.h): the CLI presents the person's certificate (its ferry://user/<name> URI
// is the user of every transfer it creates) and verifies the controller's certificate
// against the CA, and the controller's name against the dialled host. Plaintext only
// with --insecure_plaintext_unsafe, for a controller started the same way. Receive
// messages may be up to 64 MiB (a Transfer with many errors or labels, a large listing
// page).
//
// Thread safety: the returned channel is thread-safe. Failure: the errors of
// auth::ChannelCredentials at creation (a missing or unreadable file, a key that is not
// the certificate's: the message names the flag and the path); a bad or unreachable
// address, or a refused handshake, shows up as UNAVAILABLE on the first call.
#ifndef FERRY_TOOLS_FERRY_CHANNEL_H_
#define FERRY_TOOLS_FERRY_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "auth/tls.h"
#include "grpcpp/channel.h"

namespace ferry::cli {

inline constexpr int kMaxReceiveMessageBytes = 64 << 20;

// `address` is a gRPC target: "host:port", "dns:///host:port", "unix:/path", ...
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& address,
                                                           const auth::TlsConfig& tls);

}  // namespace ferry::cli

#endif  // FERRY_TOOLS_FERRY_CHANNEL_H_
