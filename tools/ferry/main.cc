// ferry: the command-line client of the ferry copy service. See README.md and
// `ferry --help`.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "auth/credentials_flags.h"
#include "common/clock.h"
#include "proto/copy_service.grpc.pb.h"
#include "tools/ferry/channel.h"
#include "tools/ferry/cli.h"
#include "tools/ferry/progress_display.h"

int main(int argc, char** argv) {
  const ferry::RealClock clock;
  std::unique_ptr<ferry::v1::CopyService::Stub> stub;
  const char* controller = std::getenv("FERRY_CONTROLLER");
  const char* tls_dir = std::getenv(ferry::auth::kTlsDirEnv);

  ferry::cli::CliEnvironment environment;
  environment.out = &std::cout;
  environment.err = &std::cerr;
  environment.clock = &clock;
  environment.err_is_terminal = isatty(STDERR_FILENO) == 1;
  environment.terminal_width = ferry::cli::TerminalWidth(STDERR_FILENO);
  environment.controller_from_env = controller == nullptr ? "" : controller;
  environment.tls_dir_from_env = tls_dir == nullptr ? "" : tls_dir;
  environment.connect = [&stub](const std::string& address, const ferry::auth::TlsConfig& tls)
      -> absl::StatusOr<ferry::v1::CopyService::StubInterface*> {
    if (stub == nullptr) {
      absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
          ferry::cli::MakeChannel(address, tls);
      if (!channel.ok()) return channel.status();
      stub = ferry::v1::CopyService::NewStub(*channel);
    }
    return stub.get();
  };
  const int exit_code = ferry::cli::Cli(std::move(environment))
                            .Run(std::vector<std::string>(argv + 1, argv + argc));
  std::cout.flush();
  return exit_code;
}
