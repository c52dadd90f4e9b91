// ToValidUtf8: text that may be put in a proto3 `string` field.
//
// Linux file names are bytes, and error messages name files; protobuf refuses to parse
// a proto3 string field that is not UTF-8, so one odd file name in a message would make
// a whole report or transfer record unreadable. Paths themselves travel in `bytes`
// fields; text meant for people (status messages, error paths, stalled reasons) goes
// through this first. Valid UTF-8 is returned unchanged; anything else is C-escaped
// whole ("\xff", "\n"), which is ASCII and names the bytes exactly.
// Thread safety: a pure function.
#ifndef FERRY_COMMON_UTF8_H_
#define FERRY_COMMON_UTF8_H_

#include <string>

#include "absl/strings/string_view.h"

namespace ferry {

std::string ToValidUtf8(absl::string_view text);

}  // namespace ferry

#endif  // FERRY_COMMON_UTF8_H_
