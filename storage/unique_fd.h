// UniqueFd: owns one file descriptor and closes it on destruction (RAII), so no early
// return in the POSIX backend can leak a descriptor. Internal to storage/.
//
// close(2) errors are ignored here on purpose: by the time an owner is destroyed nobody
// can act on them, and Linux releases the descriptor even when close fails. Code that
// must report a delayed write error (WritableFile::Close) calls Release() and closes
// itself. Not thread-safe; move-only.
#ifndef FERRY_STORAGE_UNIQUE_FD_H_
#define FERRY_STORAGE_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace ferry::storage {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace ferry::storage

#endif  // FERRY_STORAGE_UNIQUE_FD_H_
