#include "tools/ferry/flag_parser.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace ferry::cli {
namespace {

constexpr size_t kHelpColumn = 28;

std::string NormalizedName(absl::string_view name) {
  return absl::StrReplaceAll(name, {{"_", "-"}});
}

const FlagSpec* FindLong(absl::Span<const FlagSpec> flags, absl::string_view name) {
  const std::string wanted = NormalizedName(name);
  for (const FlagSpec& flag : flags) {
    if (NormalizedName(flag.name) == wanted) return &flag;
  }
  return nullptr;
}

const FlagSpec* FindShort(absl::Span<const FlagSpec> flags, char name) {
  for (const FlagSpec& flag : flags) {
    if (flag.short_name != '\0' && flag.short_name == name) return &flag;
  }
  return nullptr;
}

absl::Status Usage(absl::string_view message) { return absl::InvalidArgumentError(message); }

std::string Spelling(const FlagSpec& flag) { return absl::StrCat("--", flag.name); }

absl::Status CheckChoice(const FlagSpec& flag, absl::string_view value) {
  if (flag.choices.empty() ||
      std::find(flag.choices.begin(), flag.choices.end(), value) != flag.choices.end()) {
    return absl::OkStatus();
  }
  return Usage(absl::StrCat("invalid value \"", value, "\" for ", Spelling(flag),
                            ": use one of ", absl::StrJoin(flag.choices, ", ")));
}

absl::Status AddValue(const FlagSpec& flag, std::string value, ParsedArgs& parsed) {
  if (absl::Status status = CheckChoice(flag, value); !status.ok()) return status;
  parsed.Add(flag.name, std::move(value));
  return absl::OkStatus();
}

absl::Status AddBool(const FlagSpec& flag, absl::string_view value, ParsedArgs& parsed) {
  if (value != "true" && value != "false") {
    return Usage(absl::StrCat(Spelling(flag), " takes no value (or =true / =false), got \"",
                              value, "\""));
  }
  parsed.Add(flag.name, std::string(value));
  return absl::OkStatus();
}

absl::Status MissingValue(const FlagSpec& flag) {
  return Usage(
      absl::StrCat(Spelling(flag), " needs a value: ", Spelling(flag), "=", flag.value_name));
}

// Parses args[*index] (starting with "--"); may consume the next argument as its value.
absl::Status ParseLong(absl::Span<const std::string> args, size_t* index,
                       absl::Span<const FlagSpec> flags, ParsedArgs& parsed) {
  absl::string_view body = absl::string_view(args[*index]).substr(2);
  const size_t equals = body.find('=');
  const absl::string_view name = body.substr(0, equals);
  const FlagSpec* flag = FindLong(flags, name);
  if (flag == nullptr) return Usage(absl::StrCat("unknown flag --", name));
  if (equals != absl::string_view::npos) {
    const absl::string_view value = body.substr(equals + 1);
    return flag->takes_value() ? AddValue(*flag, std::string(value), parsed)
                               : AddBool(*flag, value, parsed);
  }
  if (!flag->takes_value()) return AddBool(*flag, "true", parsed);
  if (*index + 1 >= args.size()) return MissingValue(*flag);
  return AddValue(*flag, args[++*index], parsed);
}

// Parses args[*index] (starting with a single '-'): bundled booleans, or one short flag
// with its value attached or in the next argument.
absl::Status ParseShort(absl::Span<const std::string> args, size_t* index,
                        absl::Span<const FlagSpec> flags, ParsedArgs& parsed) {
  const absl::string_view body = absl::string_view(args[*index]).substr(1);
  for (size_t i = 0; i < body.size(); ++i) {
    const FlagSpec* flag = FindShort(flags, body[i]);
    if (flag == nullptr) return Usage(absl::StrCat("unknown flag -", body.substr(i, 1)));
    if (!flag->takes_value()) {
      parsed.Add(flag->name, "true");
      continue;
    }
    if (i + 1 < body.size()) return AddValue(*flag, std::string(body.substr(i + 1)), parsed);
    if (*index + 1 >= args.size()) return MissingValue(*flag);
    return AddValue(*flag, args[++*index], parsed);
  }
  return absl::OkStatus();
}

std::string FlagColumn(const FlagSpec& flag) {
  std::string column = "  ";
  if (flag.short_name != '\0')
    absl::StrAppend(&column, "-", std::string(1, flag.short_name), ", ");
  absl::StrAppend(&column, "--", flag.name);
  if (flag.takes_value()) absl::StrAppend(&column, "=", flag.value_name);
  return column;
}

}  // namespace

bool ParsedArgs::Has(absl::string_view name) const {
  return values_.find(name) != values_.end();
}

bool ParsedArgs::Bool(absl::string_view name) const { return Value(name) == "true"; }

std::optional<std::string> ParsedArgs::Value(absl::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::Values(absl::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>() : it->second;
}

absl::StatusOr<ParsedArgs> ParseArgs(absl::Span<const std::string> args,
                                     absl::Span<const FlagSpec> flags,
                                     bool stop_at_first_positional) {
  ParsedArgs parsed;
  bool only_positionals = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (only_positionals || arg == "-" || !absl::StartsWith(arg, "-")) {
      parsed.AddPositional(arg);
      only_positionals = only_positionals || stop_at_first_positional;
      continue;
    }
    if (arg == "--") {
      only_positionals = true;
      continue;
    }
    absl::Status status = absl::StartsWith(arg, "--") ? ParseLong(args, &i, flags, parsed)
                                                      : ParseShort(args, &i, flags, parsed);
    if (!status.ok()) return status;
  }
  return parsed;
}

std::string FormatFlagsHelp(absl::Span<const FlagSpec> flags) {
  std::string out;
  const std::string indent(kHelpColumn, ' ');
  for (const FlagSpec& flag : flags) {
    std::string column = FlagColumn(flag);
    column = column.size() + 2 > kHelpColumn
                 ? absl::StrCat(column, "\n", indent)
                 : absl::StrCat(column, std::string(kHelpColumn - column.size(), ' '));
    absl::StrAppend(&out, column,
                    absl::StrJoin(absl::StrSplit(flag.help, '\n'), absl::StrCat("\n", indent)),
                    "\n");
  }
  return out;
}

}  // namespace ferry::cli
