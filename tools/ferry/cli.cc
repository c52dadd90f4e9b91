#include "tools/ferry/cli.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "auth/credentials_flags.h"
#include "tools/ferry/cp_command.h"
#include "tools/ferry/flag_parser.h"
#include "tools/ferry/status_command.h"

namespace ferry::cli {
namespace {

constexpr absl::string_view kControllerFlag = "controller";
constexpr absl::string_view kHelpFlag = "help";
constexpr absl::string_view kTlsCaFlag = "tls_ca";
constexpr absl::string_view kTlsCertFlag = "tls_cert";
constexpr absl::string_view kTlsKeyFlag = "tls_key";
constexpr absl::string_view kInsecureFlag = "insecure_plaintext_unsafe";

FlagSpec FileFlag(absl::string_view name, absl::string_view help) {
  return {std::string(name), '\0', "FILE", false, {}, std::string(help)};
}

// Accepted before the command name and, so that it can go anywhere, after it too. The
// certificate flags are the daemons' (auth/credentials_flags.h), with help for people.
std::vector<FlagSpec> GlobalFlags() {
  return {
      {std::string(kControllerFlag),
       '\0',
       "HOST:PORT",
       false,
       {},
       "Controller to talk to (default: $FERRY_CONTROLLER)"},
      FileFlag(kTlsCaFlag,
               "CA certificate(s) the controller's certificate\n"
               "must be signed by (default: $FERRY_TLS_DIR/ca.pem)"),
      FileFlag(kTlsCertFlag,
               "Your certificate; its ferry://user/NAME URI is\n"
               "who you are (default: $FERRY_TLS_DIR/user.pem)"),
      FileFlag(kTlsKeyFlag,
               "The private key of --tls_cert\n"
               "(default: $FERRY_TLS_DIR/user.key)"),
      {std::string(kInsecureFlag),
       '\0',
       "",
       false,
       {},
       "UNSAFE: plaintext, no authentication; only for a\n"
       "controller started with --insecure_plaintext_unsafe"},
      {std::string(kHelpFlag), 'h', "", false, {}, "Show help"},
  };
}

// A global flag's value: given after the command name wins over before it.
std::optional<std::string> GlobalValue(const ParsedArgs& before, const ParsedArgs& after,
                                       absl::string_view name) {
  if (std::optional<std::string> late = after.Value(name)) return late;
  return before.Value(name);
}

// The channel's TLS settings from the certificate flags, else from FERRY_TLS_DIR.
absl::StatusOr<auth::TlsConfig> TlsConfigOf(const ParsedArgs& before, const ParsedArgs& after,
                                            const std::string& tls_dir) {
  auth::TlsConfig given;
  given.files.ca = GlobalValue(before, after, kTlsCaFlag).value_or("");
  given.files.cert = GlobalValue(before, after, kTlsCertFlag).value_or("");
  given.files.key = GlobalValue(before, after, kTlsKeyFlag).value_or("");
  given.insecure_plaintext_unsafe =
      after.Has(kInsecureFlag) ? after.Bool(kInsecureFlag) : before.Bool(kInsecureFlag);
  if (!given.insecure_plaintext_unsafe && tls_dir.empty() && given.files.ca.empty() &&
      given.files.cert.empty() && given.files.key.empty()) {
    return absl::InvalidArgumentError(
        "no certificate: pass --tls_ca, --tls_cert and --tls_key, or set FERRY_TLS_DIR to a "
        "directory holding ca.pem, user.pem and user.key");
  }
  return auth::ResolveTlsConfig(std::move(given), tls_dir);
}

std::vector<FlagSpec> FlagsOf(const Command& command) {
  std::vector<FlagSpec> flags = command.flags;
  for (FlagSpec& global : GlobalFlags()) flags.push_back(std::move(global));
  return flags;
}

constexpr absl::string_view kLocationHelp =
    "Locations are written cluster:/path: a cluster name (a-z, 0-9 and '-',\n"
    "starting with a letter), a colon, and an absolute path in that cluster,\n"
    "e.g. local:/data/logs.\n";

constexpr absl::string_view kExitHelp =
    "Exit status: 0 success; 1 the transfer FAILED or was CANCELLED, or a call to the\n"
    "controller failed; 2 the command line is wrong.\n";

}  // namespace

Cli::Cli(CliEnvironment environment)
    : environment_(std::move(environment)), commands_{CpCommand(), StatusCommand()} {}

std::string Cli::Help() const {
  std::string help =
      "ferry: copy files and directory trees between clusters with the ferry service.\n"
      "\n"
      "Usage: ferry [--controller=HOST:PORT] COMMAND [flags] [args]\n"
      "\n"
      "Commands:\n";
  for (const Command& command : commands_) {
    absl::StrAppend(&help, absl::StrFormat("  %-10s%s\n", command.name, command.summary));
  }
  absl::StrAppend(
      &help, absl::StrFormat("  %-10s%s\n", "help", "Show help for a command"),
      "\nGlobal flags:\n", FormatFlagsHelp(GlobalFlags()), "\n", kLocationHelp,
      "\nThe controller is found from --controller, else from the FERRY_CONTROLLER\n"
      "environment variable. Every call is mutual TLS: ferry presents your certificate\n"
      "(--tls_cert, --tls_key; its ferry://user/NAME is who you are) and checks the\n"
      "controller's against --tls_ca. Each defaults to a file in $FERRY_TLS_DIR.\n\n",
      kExitHelp,
      "\nExamples:\n"
      "  export FERRY_CONTROLLER=127.0.0.1:7000 FERRY_TLS_DIR=$HOME/.ferry\n"
      "  ferry cp -r local:/data/logs local:/backup/logs\n"
      "  ferry status t-0000000000000042\n"
      "\nRun 'ferry help COMMAND' (or 'ferry COMMAND --help') for a command's flags.\n");
  return help;
}

std::string Cli::CommandHelp(const Command& command) {
  return absl::StrCat("Usage: ferry ", command.name, " ", command.synopsis, "\n\n",
                      command.summary, ".\n\n", command.details, "\n\nFlags:\n",
                      FormatFlagsHelp(command.flags), "\nGlobal flags:\n",
                      FormatFlagsHelp(GlobalFlags()), "\nExamples:\n", command.examples);
}

const Command* Cli::Find(absl::string_view name) const {
  for (const Command& command : commands_) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

int Cli::TopLevelUsageError(absl::string_view message) {
  *environment_.err << "ferry: " << message << "\nRun 'ferry --help' for usage.\n";
  return kExitUsage;
}

int Cli::RunHelp(const std::vector<std::string>& topics) {
  if (topics.empty()) {
    *environment_.out << Help();
    return kExitOk;
  }
  const Command* command = Find(topics[0]);
  if (command == nullptr) {
    return TopLevelUsageError(absl::StrCat("no help for unknown command \"", topics[0], "\""));
  }
  *environment_.out << CommandHelp(*command);
  return kExitOk;
}

int Cli::Run(const std::vector<std::string>& args) {
  const std::vector<FlagSpec> global_flags = GlobalFlags();
  absl::StatusOr<ParsedArgs> global =
      ParseArgs(args, global_flags, /*stop_at_first_positional=*/true);
  if (!global.ok()) return TopLevelUsageError(global.status().message());
  const std::vector<std::string>& words = global->positionals();
  if (global->Bool(kHelpFlag)) return RunHelp(words);
  if (words.empty()) return TopLevelUsageError("missing command");
  const std::vector<std::string> rest(words.begin() + 1, words.end());
  if (words[0] == "help") return RunHelp(rest);
  const Command* command = Find(words[0]);
  if (command == nullptr) {
    return TopLevelUsageError(absl::StrCat("unknown command \"", words[0], "\""));
  }
  return RunCommand(*command, rest, *global);
}

int Cli::RunCommand(const Command& command, const std::vector<std::string>& args,
                    const ParsedArgs& global) {
  ParsedArgs command_flags;  // Set once parsed; global flags given there win.
  CommandContext context(
      command.name, *environment_.out, *environment_.err, *environment_.clock,
      environment_.err_is_terminal, environment_.terminal_width,
      [this, &global,
       &command_flags]() -> absl::StatusOr<ferry::v1::CopyService::StubInterface*> {
        std::string address = GlobalValue(global, command_flags, kControllerFlag).value_or("");
        if (address.empty()) address = environment_.controller_from_env;
        if (address.empty()) {
          return absl::InvalidArgumentError(
              "no controller: pass --controller=HOST:PORT or set FERRY_CONTROLLER");
        }
        absl::StatusOr<auth::TlsConfig> tls =
            TlsConfigOf(global, command_flags, environment_.tls_dir_from_env);
        if (!tls.ok()) return tls.status();
        return environment_.connect(address, *tls);
      });
  absl::StatusOr<ParsedArgs> parsed = ParseArgs(args, FlagsOf(command));
  if (!parsed.ok()) return context.UsageError(parsed.status().message());
  if (parsed->Bool(kHelpFlag)) {
    *environment_.out << CommandHelp(command);
    return kExitOk;
  }
  command_flags = *parsed;
  return command.run(*parsed, context);
}

}  // namespace ferry::cli
