// Replays fuzzer inputs through LLVMFuzzerTestOneInput without libFuzzer, so the seed
// corpus runs as an ordinary test. Arguments: files or directories of inputs (default:
// storage/testdata/path_corpus). Exits non-zero if no input was found; a violated
// invariant aborts inside the target.
#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

int RunFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string input((std::istreambuf_iterator<char>(in)), {});
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  return 1;
}

int RunPath(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  if (!S_ISDIR(st.st_mode)) return RunFile(path);
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return 0;
  int count = 0;
  while (struct dirent* ent = readdir(dir)) {
    const std::string name = ent->d_name;
    if (name != "." && name != "..") count += RunPath(path + "/" + name);
  }
  closedir(dir);
  return count;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> paths(argv + 1, argv + argc);
  if (paths.empty()) paths.push_back("storage/testdata/path_corpus");
  int count = 0;
  for (const std::string& p : paths) count += RunPath(p);
  printf("replayed %d inputs\n", count);
  return count > 0 ? 0 : 1;
}
