// The one-line progress shown on a terminal while `ferry cp` waits.
//
// Purpose: redraw a single status line in place ("\r" + clear-to-end-of-line) on stderr
// when, and only when, stderr is a terminal; in logs and pipes it writes nothing, so
// scripted output stays clean. Lines are cut to the terminal width to avoid wrapping
// (a wrapped line cannot be redrawn in place).
//
// Ownership: borrows the stream, which must outlive the display. Thread safety: none
// (one waiting loop drives it). Failure: none; stream errors are ignored.
#ifndef FERRY_TOOLS_FERRY_PROGRESS_DISPLAY_H_
#define FERRY_TOOLS_FERRY_PROGRESS_DISPLAY_H_

#include <cstddef>
#include <ostream>

#include "proto/copy_service.pb.h"

namespace ferry::cli {

class ProgressDisplay {
 public:
  // `enabled` false makes every call a no-op. `width` is the terminal's column count.
  ProgressDisplay(std::ostream& terminal, bool enabled, size_t width);
  // Clears the line if one is shown.
  ~ProgressDisplay();

  ProgressDisplay(const ProgressDisplay&) = delete;
  ProgressDisplay& operator=(const ProgressDisplay&) = delete;

  // Replaces the shown line with the transfer's progress.
  void Show(const ferry::v1::Transfer& transfer);
  // Removes the line, leaving the cursor at the start of an empty line.
  void Clear();

 private:
  std::ostream& terminal_;
  const bool enabled_;
  const size_t width_;
  bool shown_ = false;
};

// Columns of the terminal on file descriptor `fd`, or 80 when unknown.
size_t TerminalWidth(int fd);

}  // namespace ferry::cli

#endif  // FERRY_TOOLS_FERRY_PROGRESS_DISPLAY_H_
