// A small command-line parser driven by a declarative table of flags.
//
// Purpose: every ferry subcommand declares its flags once, as a table of FlagSpec; the
// same table drives parsing and the flag section of that command's --help, so the two
// cannot drift apart. It exists (rather than absl flags) because ferry needs per-command
// flags, short flags (-r), repeatable flags (--label) and flags between positional
// arguments.
//
// Accepted spellings, GNU style:
//   --name=value, --name value        a flag that takes a value
//   --name, --name=true|false         a boolean flag
//   -x, -xyz (bundled booleans), -v value, -vvalue   short flags
//   --                                 everything after it is positional
// Long names match with '-' and '_' treated alike (--dry-run == --dry_run). Flags and
// positional arguments may be interleaved, unless `stop_at_first_positional` is set (for
// the global flags before a subcommand name). A lone "-" is positional.
//
// Thread safety: pure functions; ParsedArgs is a value. Failure: INVALID_ARGUMENT with a
// message fit for the user ("unknown flag --foo", "--overwrite needs a value ...").
#ifndef FERRY_TOOLS_FERRY_FLAG_PARSER_H_
#define FERRY_TOOLS_FERRY_FLAG_PARSER_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace ferry::cli {

struct FlagSpec {
  std::string name;        // Long name without "--", e.g. "overwrite".
  char short_name = '\0';  // e.g. 'r' for -r; '\0' for none.
  // Placeholder shown in help ("POLICY"); empty makes the flag boolean.
  std::string value_name;
  bool repeated = false;  // May be given several times; all values are kept.
  // When non-empty, the only values accepted (shown in the usage error).
  std::vector<std::string> choices;
  // One or more lines; continuation lines are indented to the help column.
  std::string help;

  bool takes_value() const { return !value_name.empty(); }
};

// The result of parsing: flag values keyed by FlagSpec::name, and positional arguments.
class ParsedArgs {
 public:
  // Whether the flag was given at all (for booleans: even as --name=false).
  bool Has(absl::string_view name) const;
  // A boolean flag: false when absent.
  bool Bool(absl::string_view name) const;
  // The last value given, or nullopt when absent.
  std::optional<std::string> Value(absl::string_view name) const;
  // Every value given, in order (empty when absent).
  std::vector<std::string> Values(absl::string_view name) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

  void Add(const std::string& name, std::string value) {
    values_[name].push_back(std::move(value));
  }
  void AddPositional(std::string arg) { positionals_.push_back(std::move(arg)); }

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::vector<std::string> positionals_;
};

// Parses `args` (without the program or subcommand name) against `flags`. With
// `stop_at_first_positional`, the first positional argument and everything after it are
// returned as positionals unparsed.
absl::StatusOr<ParsedArgs> ParseArgs(absl::Span<const std::string> args,
                                     absl::Span<const FlagSpec> flags,
                                     bool stop_at_first_positional = false);

// The "Flags:" section of a help text: one entry per flag, e.g.
//   "  -r, --recursive         Copy a directory and everything below it\n".
std::string FormatFlagsHelp(absl::Span<const FlagSpec> flags);

}  // namespace ferry::cli

#endif  // FERRY_TOOLS_FERRY_FLAG_PARSER_H_
