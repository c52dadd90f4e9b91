#include "tools/ferry/progress_display.h"

#include <sys/ioctl.h>

#include <string>

#include "tools/ferry/transfer_format.h"

namespace ferry::cli {
namespace {

constexpr char kClearLine[] = "\r\033[K";
constexpr size_t kDefaultWidth = 80;

}  // namespace

ProgressDisplay::ProgressDisplay(std::ostream& terminal, bool enabled, size_t width)
    : terminal_(terminal), enabled_(enabled), width_(width) {}

ProgressDisplay::~ProgressDisplay() { Clear(); }

void ProgressDisplay::Show(const ferry::v1::Transfer& transfer) {
  if (!enabled_) return;
  std::string line = FormatProgressLine(transfer);
  // Leave the last column free: writing into it makes some terminals wrap.
  if (width_ > 1 && line.size() >= width_) line.resize(width_ - 1);
  terminal_ << kClearLine << line << std::flush;
  shown_ = true;
}

void ProgressDisplay::Clear() {
  if (!shown_) return;
  terminal_ << kClearLine << std::flush;
  shown_ = false;
}

size_t TerminalWidth(int fd) {
  winsize size{};
  if (ioctl(fd, TIOCGWINSZ, &size) != 0 || size.ws_col == 0) return kDefaultWidth;
  return size.ws_col;
}

}  // namespace ferry::cli
