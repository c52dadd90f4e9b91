#include "tools/ferry/flag_parser.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<FlagSpec>& Flags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"recursive", 'r', "", false, {}, "Recurse"},
      {"verbose", 'v', "", false, {}, "Talk"},
      {"overwrite", '\0', "POLICY", false, {"never", "replace"}, "Policy\nsecond line"},
      {"label", 'l', "KEY=VALUE", true, {}, "Label"},
      {"request_id", '\0', "ID", false, {}, "Id"},
  };
  return *flags;
}

absl::StatusOr<ParsedArgs> Parse(std::vector<std::string> args) {
  return ParseArgs(args, Flags());
}

TEST(FlagParserTest, LongAndShortBooleans) {
  absl::StatusOr<ParsedArgs> args = Parse({"-r", "a", "--verbose", "b"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_TRUE(args->Bool("recursive"));
  EXPECT_TRUE(args->Bool("verbose"));
  EXPECT_THAT(args->positionals(), ElementsAre("a", "b"));
}

TEST(FlagParserTest, BundledShortFlags) {
  absl::StatusOr<ParsedArgs> args = Parse({"-rv"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_TRUE(args->Bool("recursive"));
  EXPECT_TRUE(args->Bool("verbose"));
}

TEST(FlagParserTest, ExplicitBooleanValues) {
  absl::StatusOr<ParsedArgs> args = Parse({"--recursive=false", "--verbose=true"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_TRUE(args->Has("recursive"));
  EXPECT_FALSE(args->Bool("recursive"));
  EXPECT_TRUE(args->Bool("verbose"));
  EXPECT_THAT(Parse({"--recursive=yes"}).status().message(), HasSubstr("takes no value"));
}

TEST(FlagParserTest, ValuesInEveryForm) {
  absl::StatusOr<ParsedArgs> args =
      Parse({"--overwrite=replace", "--label", "a=b", "-lc=d", "-l", "e=f", "--label=g=h"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->Value("overwrite"), "replace");
  EXPECT_THAT(args->Values("label"), ElementsAre("a=b", "c=d", "e=f", "g=h"));
  EXPECT_EQ(args->Value("absent"), std::nullopt);
  EXPECT_TRUE(args->Values("absent").empty());
}

TEST(FlagParserTest, DashesAndUnderscoresMatchAlike) {
  absl::StatusOr<ParsedArgs> args = Parse({"--request-id=x"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->Value("request_id"), "x");
}

TEST(FlagParserTest, LastValueWins) {
  absl::StatusOr<ParsedArgs> args = Parse({"--overwrite=never", "--overwrite=replace"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->Value("overwrite"), "replace");
}

TEST(FlagParserTest, DoubleDashEndsFlags) {
  absl::StatusOr<ParsedArgs> args = Parse({"-r", "--", "-v", "--x", "-"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_FALSE(args->Has("verbose"));
  EXPECT_THAT(args->positionals(), ElementsAre("-v", "--x", "-"));
}

TEST(FlagParserTest, StopAtFirstPositional) {
  absl::StatusOr<ParsedArgs> args =
      ParseArgs(std::vector<std::string>{"-v", "cp", "-r", "--bogus"}, Flags(),
                /*stop_at_first_positional=*/true);
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_TRUE(args->Bool("verbose"));
  EXPECT_FALSE(args->Has("recursive"));
  EXPECT_THAT(args->positionals(), ElementsAre("cp", "-r", "--bogus"));
}

TEST(FlagParserTest, Errors) {
  EXPECT_THAT(Parse({"--bogus"}).status().message(), HasSubstr("unknown flag --bogus"));
  EXPECT_THAT(Parse({"--bogus=1"}).status().message(), HasSubstr("unknown flag --bogus"));
  EXPECT_THAT(Parse({"-x"}).status().message(), HasSubstr("unknown flag -x"));
  EXPECT_THAT(Parse({"-rx"}).status().message(), HasSubstr("unknown flag -x"));
  EXPECT_THAT(Parse({"--overwrite"}).status().message(),
              HasSubstr("--overwrite needs a value: --overwrite=POLICY"));
  EXPECT_THAT(Parse({"-l"}).status().message(), HasSubstr("--label needs a value"));
  EXPECT_THAT(
      Parse({"--overwrite=sometimes"}).status().message(),
      HasSubstr("invalid value \"sometimes\" for --overwrite: use one of never, replace"));
}

TEST(FlagParserTest, HelpListsEveryFlagAligned) {
  const std::string help = FormatFlagsHelp(Flags());
  EXPECT_THAT(help, HasSubstr("  -r, --recursive           Recurse\n"));
  EXPECT_THAT(help, HasSubstr("  --overwrite=POLICY        Policy\n"
                              "                            second line\n"));
  EXPECT_THAT(help, HasSubstr("  -l, --label=KEY=VALUE     Label\n"));
}

}  // namespace
}  // namespace ferry::cli
