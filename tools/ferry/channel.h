// The CLI's connection to a controller.
//
// Purpose: the single place that decides how the CLI connects, so that credentials can
// change in one function. Today the channel is INSECURE (plaintext, no authentication);
// the auth issue replaces it with mTLS here and nowhere else. Receive messages may be up
// to 64 MiB (a Transfer with many errors or labels, a large listing page).
//
// Thread safety: the returned channel is thread-safe. Failure: none at creation; a bad or
// unreachable address shows up as UNAVAILABLE on the first call.
#ifndef FERRY_TOOLS_FERRY_CHANNEL_H_
#define FERRY_TOOLS_FERRY_CHANNEL_H_

#include <memory>
#include <string>

#include "grpcpp/channel.h"

namespace ferry::cli {

inline constexpr int kMaxReceiveMessageBytes = 64 << 20;

// `address` is a gRPC target: "host:port", "dns:///host:port", "unix:/path", ...
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address);

}  // namespace ferry::cli

#endif  // FERRY_TOOLS_FERRY_CHANNEL_H_
