// Hostile inputs against the POSIX backend: each row names one attack, sets up what it
// needs on disk (raw syscalls, behind ferry's back), runs one operation through the
// FileSystem and asserts the exact status code, and that nothing beside the root was
// created, modified or (where the operation returns data) read.
//
// Layout of every row's sandbox (a fresh mkdtemp under TEST_TMPDIR):
//   base/outside/secret   sentinel, content "secret"; base/outside is what must stay
//                         untouched (content, mode, mtime of every entry, and the list
//                         of entries of base itself)
//   base/root/            the FileSystem root, holding "file" ("inside"), "dir/",
//                         "dir/f" ("f")
//
// Decisions recorded here:
//  - A hard link inside the root to a file outside it IS inside the root: it is the
//    same inode, and the kernel only lets a user create it for a file they own or can
//    read and write (fs.protected_hardlinks). Reading it is allowed and Stat shows
//    nlink 2 so the copier can detect it. Ferry never writes into an existing inode in
//    place: a commit replaces the name by rename, so the outside file keeps its bytes.
//  - Newlines, non-UTF-8 bytes and Unicode look-alikes of '/' and '.' are ordinary
//    bytes in a name: allowed, and they round-trip.
//  - Permission rows are skipped as root (root bypasses modes); device rows need root
//    and a kernel that lets us mknod (skipped otherwise).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/fault_injection_file_system.h"
#include "storage/path.h"
#include "storage/posix_file_system.h"
#include "storage/test_util.h"

namespace ferry::storage {
namespace {

using absl::StatusCode;
using testing::RawReadFile;
using testing::RawTreeFingerprint;
using testing::RawWriteFile;
using testing::ReadAll;
using testing::WalkAll;
using testing::WriteFile;

struct Sandbox {
  std::string base, root, outside;
  std::string Root(const std::string& rel) const { return root + "/" + rel; }
};

// Everything that must not change outside the root: the outside tree, and which
// entries base holds (an escape would add one beside root/).
std::string OutsideState(const Sandbox& box) {
  std::string entries;
  for (const char* name : {"/outside", "/root", "/escaped", "/x"}) {
    absl::StrAppend(&entries, name, testing::RawExists(box.base + name) ? "+" : "-");
  }
  return entries + "\n" + RawTreeFingerprint(box.outside);
}

// One hostile input: what to plant on disk, the operation, the exact code expected.
struct Row {
  std::string name;
  std::function<void(const Sandbox&)> plant;
  std::function<absl::Status(FileSystem&)> op;
  StatusCode want;
};

template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

void Symlink(const std::string& target, const std::string& at) {
  ASSERT_EQ(symlink(target.c_str(), at.c_str()), 0) << at;
}

// Each operation that takes a path, applied to `path`.
std::vector<std::pair<std::string, std::function<absl::Status(FileSystem&)>>> AllOps(
    const std::string& path) {
  return {
      {"Stat", [=](FileSystem& fs) { return StatusOf(fs.Stat(path)); }},
      {"OpenForRead", [=](FileSystem& fs) { return StatusOf(fs.OpenForRead(path)); }},
      {"OpenForWrite", [=](FileSystem& fs) { return StatusOf(fs.OpenForWrite(path)); }},
      {"OpenOrCreateForWrite",
       [=](FileSystem& fs) { return StatusOf(fs.OpenOrCreateForWrite(path)); }},
      {"CreateTemp", [=](FileSystem& fs) { return StatusOf(fs.CreateTemp(path)); }},
      {"MakeDirs", [=](FileSystem& fs) { return fs.MakeDirs(path, 0755); }},
      {"Remove", [=](FileSystem& fs) { return fs.Remove(path); }},
      {"SetMode", [=](FileSystem& fs) { return fs.SetModeAndMtime(path, 0777, 0); }},
      {"Symlink", [=](FileSystem& fs) { return fs.CreateSymlink("x", path); }},
      {"RenameFrom",
       [=](FileSystem& fs) { return fs.Rename(path, "moved", CommitMode::kReplace); }},
      {"RenameTo",
       [=](FileSystem& fs) { return fs.Rename("file", path, CommitMode::kReplace); }},
      {"SyncDir", [=](FileSystem& fs) { return fs.SyncDir(path); }},
      {"SetOwner", [=](FileSystem& fs) { return fs.SetOwner(path, geteuid(), getegid()); }},
      {"LinkFrom", [=](FileSystem& fs) { return fs.Link(path, "linked"); }},
      {"LinkTo", [=](FileSystem& fs) { return fs.Link("file", path); }},
      {"Walk", [=](FileSystem& fs) { return StatusOf(WalkAll(fs, path)); }},
  };
}

// Malformed spellings: refused with INVALID_ARGUMENT by every operation, before I/O.
std::vector<Row> MalformedPathRows() {
  std::string long_path(kMaxPathBytes + 2, 'a');  // 4097 bytes of short components.
  for (size_t i = 100; i < long_path.size(); i += 100) long_path[i] = '/';
  const std::vector<std::pair<std::string, std::string>> inputs = {
      {"DotDot", ".."},
      {"DotDotFirst", "../outside/secret"},
      {"DotDotMiddle", "dir/../../outside/secret"},
      {"DotDotLast", "dir/.."},
      {"DotDotDeep", "dir/f/../../../x"},
      {"Absolute", "/etc/passwd"},
      {"AbsoluteIntoOutside", "/tmp"},
      {"Slash", "/"},
      {"DoubleSlashLeading", "//etc"},
      {"DoubleSlashMiddle", "dir//f"},
      {"Dot", "."},
      {"DotSlash", "./file"},
      {"DotMiddle", "dir/./f"},
      {"TrailingSlashOnFile", "file/"},
      {"TrailingSlashOnDir", "dir/"},
      {"NulInName", std::string("fi\0le", 5)},
      {"NulAlone", std::string("\0", 1)},
      {"NulHidingDotDot", std::string("file\0/../../x", 13)},
      {"Component256", std::string(256, 'c')},
      {"Path4097", long_path},
  };
  std::vector<Row> rows;
  for (const auto& [name, path] : inputs) {
    for (auto& [op_name, op] : AllOps(path)) {
      rows.push_back({name + "_" + op_name, nullptr, op, StatusCode::kInvalidArgument});
    }
  }
  return rows;
}

// Symlinks planted behind ferry's back: never followed, whatever they point at.
std::vector<Row> SymlinkRows() {
  const auto etc = [](const Sandbox& b) { Symlink("/etc", b.Root("etc")); };
  const auto parent = [](const Sandbox& b) { Symlink("..", b.Root("up")); };
  const auto out = [](const Sandbox& b) { Symlink(b.outside, b.Root("out")); };
  const auto loop = [](const Sandbox& b) {
    Symlink("loop2", b.Root("loop1"));
    Symlink("loop1", b.Root("loop2"));
  };
  const auto self = [](const Sandbox& b) { Symlink("self", b.Root("self")); };
  const auto magic = [](const Sandbox& b) { Symlink("/proc/self/root", b.Root("magic")); };
  const StatusCode kInvalid = StatusCode::kInvalidArgument;
  return {
      {"EtcLink_ReadThrough", etc,
       [](FileSystem& fs) { return StatusOf(fs.OpenForRead("etc/passwd")); }, kInvalid},
      {"EtcLink_ReadLink", etc,
       [](FileSystem& fs) { return StatusOf(fs.OpenForRead("etc")); }, kInvalid},
      {"EtcLink_StatThrough", etc,
       [](FileSystem& fs) { return StatusOf(fs.Stat("etc/passwd")); }, kInvalid},
      {"EtcLink_CreateTempThrough", etc,
       [](FileSystem& fs) { return StatusOf(fs.CreateTemp("etc/evil")); }, kInvalid},
      {"EtcLink_MakeDirsThrough", etc,
       [](FileSystem& fs) { return fs.MakeDirs("etc/evil", 0755); }, kInvalid},
      {"EtcLink_WalkThrough", etc,
       [](FileSystem& fs) { return StatusOf(fs.Walk("etc/ssl", "")); }, kInvalid},
      {"ParentLink_ReadSecret", parent,
       [](FileSystem& fs) { return StatusOf(fs.OpenForRead("up/outside/secret")); },
       kInvalid},
      {"ParentLink_WriteSecret", parent,
       [](FileSystem& fs) { return StatusOf(fs.OpenForWrite("up/outside/secret")); },
       kInvalid},
      {"ParentLink_CreateSecret", parent,
       [](FileSystem& fs) { return StatusOf(fs.OpenOrCreateForWrite("up/outside/new")); },
       kInvalid},
      {"ParentLink_RemoveSecret", parent,
       [](FileSystem& fs) { return fs.Remove("up/outside/secret"); }, kInvalid},
      {"ParentLink_CreateBeside", parent,
       [](FileSystem& fs) { return fs.CreateSymlink("x", "up/escaped"); }, kInvalid},
      {"OutsideLink_RenameInto", out,
       [](FileSystem& fs) { return fs.Rename("file", "out/x", CommitMode::kReplace); },
       kInvalid},
      {"OutsideLink_RenameOutOf", out,
       [](FileSystem& fs) { return fs.Rename("out/secret", "stolen", CommitMode::kReplace); },
       kInvalid},
      {"OutsideLink_ChmodThrough", out,
       [](FileSystem& fs) { return fs.SetModeAndMtime("out/secret", 0777, 0); }, kInvalid},
      {"OutsideLink_SyncDirThrough", out, [](FileSystem& fs) { return fs.SyncDir("out"); },
       kInvalid},
      {"OutsideLink_ChownThrough", out,
       [](FileSystem& fs) { return fs.SetOwner("out/secret", geteuid(), getegid()); },
       kInvalid},
      // lchown of the link itself: allowed, and the outside target keeps its owner.
      {"OutsideLink_ChownLinkItself", out,
       [](FileSystem& fs) { return fs.SetOwner("out", geteuid(), getegid()); },
       StatusCode::kOk},
      {"ParentLink_ChownSecret", parent,
       [](FileSystem& fs) { return fs.SetOwner("up/outside/secret", geteuid(), getegid()); },
       kInvalid},
      {"OutsideLink_HardLinkThrough", out,
       [](FileSystem& fs) { return fs.Link("out/secret", "stolen"); }, kInvalid},
      {"OutsideLink_HardLinkInto", out,
       [](FileSystem& fs) { return fs.Link("file", "out/planted"); }, kInvalid},
      // Hard-linking the symlink itself would give a second name to a link that leads
      // outside: refused like any non-regular file.
      {"OutsideLink_HardLinkTheLinkItself", out,
       [](FileSystem& fs) { return fs.Link("out", "copy"); }, StatusCode::kFailedPrecondition},
      {"ParentLink_HardLinkSecret", parent,
       [](FileSystem& fs) { return fs.Link("up/outside/secret", "stolen"); }, kInvalid},
      {"ParentLink_HardLinkBeside", parent,
       [](FileSystem& fs) { return fs.Link("file", "up/escaped"); }, kInvalid},
      {"MagicLink_HardLink", magic,
       [](FileSystem& fs) { return fs.Link("magic/etc/passwd", "stolen"); }, kInvalid},
      // On the link itself: allowed, and only the link changes (never its target).
      {"OutsideLink_ChmodLinkItself", out,
       [](FileSystem& fs) { return fs.SetModeAndMtime("out", 0777, 0); }, StatusCode::kOk},
      {"OutsideLink_RemoveLinkItself", out, [](FileSystem& fs) { return fs.Remove("out"); },
       StatusCode::kOk},
      {"OutsideLink_WalkListsOnlyTheLink", out,
       [](FileSystem& fs) -> absl::Status {
         absl::StatusOr<std::vector<std::string>> all = WalkAll(fs, "");
         if (!all.ok()) return all.status();
         if (*all != std::vector<std::string>{"dir", "dir/f", "file", "out"}) {
           return absl::InternalError("walk went through the link");
         }
         return absl::OkStatus();
       },
       StatusCode::kOk},
      {"SymlinkLoop_Stat", loop, [](FileSystem& fs) { return StatusOf(fs.Stat("loop1/x")); },
       kInvalid},
      {"SymlinkLoop_Read", loop,
       [](FileSystem& fs) { return StatusOf(fs.OpenForRead("loop1")); }, kInvalid},
      {"SelfLoop_MakeDirs", self, [](FileSystem& fs) { return fs.MakeDirs("self/x", 0755); },
       kInvalid},
      {"MagicLink_Read", magic,
       [](FileSystem& fs) { return StatusOf(fs.OpenForRead("magic/etc/passwd")); },
       kInvalid},
      {"HostileTargetIsOnlyText",
       nullptr,
       [](FileSystem& fs) -> absl::Status {
         if (absl::Status s = fs.CreateSymlink("../outside/secret", "p"); !s.ok()) return s;
         return StatusOf(fs.OpenForRead("p"));
       },
       kInvalid},
  };
}

// Escapes through the cursor and the temporary-file name.
std::vector<Row> OtherRows() {
  return {
      {"CursorDotDot", nullptr,
       [](FileSystem& fs) { return StatusOf(fs.Walk("", "w1:../outside")); },
       StatusCode::kInvalidArgument},
      {"CursorAbsolute", nullptr,
       [](FileSystem& fs) { return StatusOf(fs.Walk("", "w1:/etc")); },
       StatusCode::kInvalidArgument},
      {"CursorGarbage", nullptr,
       [](FileSystem& fs) { return StatusOf(fs.Walk("", std::string("\0\xff", 2))); },
       StatusCode::kInvalidArgument},
      {"TempForDotDotTarget", nullptr,
       [](FileSystem& fs) { return StatusOf(fs.CreateTemp("..")); },
       StatusCode::kInvalidArgument},
      {"SymlinkTargetWithNul", nullptr,
       [](FileSystem& fs) { return fs.CreateSymlink(std::string("a\0b", 3), "n"); },
       StatusCode::kInvalidArgument},
      {"RemoveRoot", nullptr, [](FileSystem& fs) { return fs.Remove(""); },
       StatusCode::kInvalidArgument},
      {"RenameRoot", nullptr,
       [](FileSystem& fs) { return fs.Rename("", "x", CommitMode::kReplace); },
       StatusCode::kInvalidArgument},
  };
}

std::vector<Row> AllRows() {
  std::vector<Row> rows = MalformedPathRows();
  for (std::vector<Row> more : {SymlinkRows(), OtherRows()}) {
    rows.insert(rows.end(), more.begin(), more.end());
  }
  return rows;
}

class HostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    box_.base = testing::MakeTempDir();
    box_.root = box_.base + "/root";
    box_.outside = box_.base + "/outside";
    ASSERT_EQ(mkdir(box_.root.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(box_.outside.c_str(), 0755), 0);
    RawWriteFile(box_.outside + "/secret", "secret");
    RawWriteFile(box_.Root("file"), "inside");
    ASSERT_EQ(mkdir(box_.Root("dir").c_str(), 0755), 0);
    RawWriteFile(box_.Root("dir/f"), "f");
    absl::StatusOr<std::unique_ptr<FileSystem>> fs = NewPosixFileSystem(box_.root);
    ASSERT_TRUE(fs.ok()) << fs.status();
    posix_ = *std::move(fs);
    fs_ = std::make_unique<FaultInjectionFileSystem>(posix_.get());
  }

  // Runs `op` and checks the code and that the outside is as before.
  void Expect(const std::function<absl::Status(FileSystem&)>& op, StatusCode want,
              const std::string& what) {
    const std::string before = OutsideState(box_);
    const absl::Status got = op(*fs_);
    EXPECT_EQ(got.code(), want) << what << ": " << got;
    EXPECT_EQ(OutsideState(box_), before) << what << " touched the outside";
  }

  Sandbox box_;
  std::unique_ptr<FileSystem> posix_;
  std::unique_ptr<FaultInjectionFileSystem> fs_;
};

// The table: one test per row, each in its own sandbox.
class HostileTableTest : public HostileTest, public ::testing::WithParamInterface<Row> {};

TEST_P(HostileTableTest, ExactStatusAndOutsideUntouched) {
  const Row& row = GetParam();
  if (row.plant) row.plant(box_);
  Expect(row.op, row.want, row.name);
  EXPECT_EQ(fs_->Count(FaultOp::kRead), 0) << "read data";
}

INSTANTIATE_TEST_SUITE_P(Rows, HostileTableTest, ::testing::ValuesIn(AllRows()),
                         [](const auto& info) { return info.param.name; });

TEST(HostileTableSizeTest, AtLeastThirtyDistinctInputs) {
  EXPECT_GE(AllRows().size(), 30u);
}

// --- Rows that need more than one step -------------------------------------------------

TEST_F(HostileTest, SymlinkSwappedInForADirectoryBetweenWalkAndOpen) {
  ASSERT_EQ(mkdir(box_.Root("victim").c_str(), 0755), 0);
  RawWriteFile(box_.Root("victim/f"), "v");
  const std::string before = OutsideState(box_);
  auto walker = fs_->Walk("", "");
  ASSERT_TRUE(walker.ok());
  FileInfo info;
  std::vector<std::string> seen;
  while (*(*walker)->Next(&info)) {
    seen.push_back(info.path);
    if (info.path == "victim") {  // Listed as a directory; now swap it for a link.
      ASSERT_EQ(rename(box_.Root("victim").c_str(), box_.Root("old").c_str()), 0);
      Symlink(box_.outside, box_.Root("victim"));
    }
  }
  EXPECT_THAT(seen, ::testing::ElementsAre("dir", "dir/f", "file", "victim"));
  EXPECT_EQ(fs_->OpenForRead("victim/secret").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fs_->CreateTemp("victim/x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OutsideState(box_), before);
}

// A concurrent attacker flips a directory and a symlink to the outside while ferry
// walks and opens through it: whatever interleaving happens, ferry never sees outside
// bytes and never changes anything there.
TEST_F(HostileTest, ConcurrentDirectorySymlinkFlipping) {
  ASSERT_EQ(mkdir(box_.Root("flip").c_str(), 0755), 0);
  RawWriteFile(box_.Root("flip/inner"), "inside");
  ASSERT_EQ(mkdir(box_.Root("flip-dir").c_str(), 0755), 0);
  Symlink(box_.outside, box_.Root("flip-link"));
  const std::string before = OutsideState(box_);
  std::atomic<bool> stop{false};
  std::thread attacker([&] {
    for (bool to_link = true; !stop.load(); to_link = !to_link) {
      // Swap "flip" with whichever spare is parked: atomic renames, no sleeps.
      const std::string spare = box_.Root(to_link ? "flip-link" : "flip-dir");
      renameat2(AT_FDCWD, spare.c_str(), AT_FDCWD, box_.Root("flip").c_str(),
                RENAME_EXCHANGE);
    }
  });
  for (int i = 0; i < 300; ++i) {
    absl::StatusOr<std::string> data = ReadAll(*fs_, "flip/secret");  // Outside's name.
    EXPECT_FALSE(data.ok());
    absl::StatusOr<std::vector<std::string>> all = WalkAll(*fs_, "");
    if (all.ok()) {
      for (const std::string& p : *all) EXPECT_THAT(p, ::testing::Not(::testing::HasSubstr("secret")));
    }
    absl::StatusOr<TempFile> t = fs_->CreateTemp("flip/new");
    if (t.ok()) {
      EXPECT_TRUE(t->file->Close().ok());
    }
    EXPECT_FALSE(fs_->Link("flip/secret", "stolen").ok());
  }
  stop = true;
  attacker.join();
  EXPECT_EQ(OutsideState(box_), before);
}

// The name given to Link flips between a regular file and a symlink to the outside:
// Link either refuses or links the regular file it checked, never the symlink.
TEST_F(HostileTest, LinkNeverNamesASymlinkSwappedInForTheFile) {
  RawWriteFile(box_.Root("victim"), "inside");
  Symlink(box_.outside + "/secret", box_.Root("victim-link"));
  const std::string before = OutsideState(box_);
  std::atomic<bool> stop{false};
  std::thread attacker([&] {
    while (!stop.load()) {
      renameat2(AT_FDCWD, box_.Root("victim-link").c_str(), AT_FDCWD,
                box_.Root("victim").c_str(), RENAME_EXCHANGE);
    }
  });
  int linked = 0;
  for (int i = 0; i < 300; ++i) {
    const absl::Status s = fs_->Link("victim", "copy");
    if (!s.ok()) {
      EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s;
      continue;
    }
    ++linked;
    EXPECT_EQ(fs_->Stat("copy")->type, FileType::kRegular);
    EXPECT_EQ(*ReadAll(*fs_, "copy"), "inside");
    ASSERT_TRUE(fs_->Remove("copy").ok());
  }
  stop = true;
  attacker.join();
  EXPECT_EQ(OutsideState(box_), before);
  RecordProperty("links_made", linked);
}

TEST_F(HostileTest, HardLinkToOutsideFileIsInsideByDefinition) {
  if (link((box_.outside + "/secret").c_str(), box_.Root("hard").c_str()) != 0) {
    GTEST_SKIP() << "cannot hard link here: " << errno;
  }
  absl::StatusOr<FileInfo> info = fs_->Stat("hard");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->nlink, 2u);  // Visible, so the copier can treat it as a hard link.
  EXPECT_EQ(*ReadAll(*fs_, "hard"), "secret");
  // A commit replaces the name, not the inode: the outside file keeps its bytes.
  ASSERT_TRUE(WriteFile(*fs_, "hard", "replaced").ok());
  EXPECT_EQ(RawReadFile(box_.outside + "/secret"), "secret");
  EXPECT_EQ(*ReadAll(*fs_, "hard"), "replaced");
}

TEST_F(HostileTest, OddButLegalNamesRoundTrip) {
  const std::vector<std::string> names = {
      "new\nline",              // Newline.
      "\xff\xfe\x80 latin1",    // Not UTF-8.
      "a\xe2\x88\x95" "b",      // U+2215 DIVISION SLASH, looks like '/'.
      "\xef\xbc\x8f",           // U+FF0F FULLWIDTH SOLIDUS.
      "\xe2\x80\xa4\xe2\x80\xa4",  // U+2024 ONE DOT LEADER x2, looks like "..".
      "\xef\xbc\x8e",           // U+FF0E FULLWIDTH FULL STOP, looks like ".".
      "...",  ".hidden", "-rf", "*", " ", "\\", "\t", "\x1b[31m"};
  for (const std::string& name : names) {
    SCOPED_TRACE(PathForMessage(name));
    Expect([&](FileSystem& fs) { return WriteFile(fs, name, name); }, StatusCode::kOk,
           "write");
    EXPECT_EQ(RawReadFile(box_.Root(name)), name);  // One entry, in the root itself.
    EXPECT_EQ(*ReadAll(*fs_, name), name);
    EXPECT_EQ(fs_->Stat(name)->path, name);
  }
  absl::StatusOr<std::vector<std::string>> all = WalkAll(*fs_, "");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), names.size() + 3);
}

TEST_F(HostileTest, FifoIsRefusedWithoutHanging) {
  ASSERT_EQ(mkfifo(box_.Root("fifo").c_str(), 0666), 0);
  Expect([](FileSystem& fs) { return StatusOf(fs.OpenForRead("fifo")); },
         StatusCode::kInvalidArgument, "read fifo");
  Expect([](FileSystem& fs) { return StatusOf(fs.OpenForWrite("fifo")); },
         StatusCode::kInvalidArgument, "write fifo");
  Expect([](FileSystem& fs) { return StatusOf(fs.OpenOrCreateForWrite("fifo")); },
         StatusCode::kInvalidArgument, "create fifo");
  Expect([](FileSystem& fs) { return fs.Link("fifo", "fifo2"); },
         StatusCode::kFailedPrecondition, "link fifo");
  EXPECT_EQ(fs_->Stat("fifo")->type, FileType::kOther);
}

// The shared temporary file of a chunked copy has a predictable name: a file planted
// there (a hard link to someone's file, or a file another user owns) is not written.
TEST_F(HostileTest, OpenOrCreateRefusesAPlantedHardLinkOrForeignFile) {
  ASSERT_EQ(link((box_.outside + "/secret").c_str(), box_.Root("planted").c_str()), 0);
  Expect([](FileSystem& fs) { return StatusOf(fs.OpenOrCreateForWrite("planted")); },
         StatusCode::kPermissionDenied, "hard link");
  RawWriteFile(box_.Root("foreign"), "theirs");
  // Only root can give a file to another user, and not in every sandbox.
  if (chown(box_.Root("foreign").c_str(), 65534, 65534) != 0) {
    GTEST_SKIP() << "chown refused here (errno " << errno << ")";
  }
  Expect([](FileSystem& fs) { return StatusOf(fs.OpenOrCreateForWrite("foreign")); },
         StatusCode::kPermissionDenied, "foreign owner");
}

TEST_F(HostileTest, SocketIsRefused) {
  ASSERT_EQ(mknod(box_.Root("sock").c_str(), S_IFSOCK | 0666, 0), 0);
  Expect([](FileSystem& fs) { return StatusOf(fs.OpenForRead("sock")); },
         StatusCode::kInvalidArgument, "read socket");
  EXPECT_EQ(fs_->Stat("sock")->type, FileType::kOther);
}

TEST_F(HostileTest, DeviceNodeIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "mknod of a device needs root";
  struct stat null_st;
  ASSERT_EQ(stat("/dev/null", &null_st), 0);
  if (mknod(box_.Root("null").c_str(), S_IFCHR | 0666, null_st.st_rdev) != 0) {
    GTEST_SKIP() << "mknod refused here (errno " << errno << ")";
  }
  Expect([](FileSystem& fs) { return StatusOf(fs.OpenForRead("null")); },
         StatusCode::kInvalidArgument, "read device");
  Expect([](FileSystem& fs) { return StatusOf(fs.OpenForWrite("null")); },
         StatusCode::kInvalidArgument, "write device");
  Expect([](FileSystem& fs) { return StatusOf(fs.OpenOrCreateForWrite("null")); },
         StatusCode::kInvalidArgument, "create device");
}

TEST_F(HostileTest, UnreadableFileIsPermissionDenied) {
  if (geteuid() == 0) GTEST_SKIP() << "root bypasses permission bits";
  ASSERT_EQ(chmod(box_.Root("file").c_str(), 0), 0);
  Expect([](FileSystem& fs) { return StatusOf(fs.OpenForRead("file")); },
         StatusCode::kPermissionDenied, "read mode 000");
}

TEST_F(HostileTest, DirectoryWithoutExecuteIsPermissionDenied) {
  if (geteuid() == 0) GTEST_SKIP() << "root bypasses permission bits";
  ASSERT_EQ(chmod(box_.Root("dir").c_str(), 0600), 0);
  Expect([](FileSystem& fs) { return StatusOf(fs.Stat("dir/f")); },
         StatusCode::kPermissionDenied, "stat under mode 600 dir");
  Expect([](FileSystem& fs) { return StatusOf(WalkAll(fs, "dir")); },
         StatusCode::kPermissionDenied, "walk mode 600 dir");
  ASSERT_EQ(chmod(box_.Root("dir").c_str(), 0755), 0);  // So the sandbox can be removed.
}

TEST_F(HostileTest, EnospcMidWriteLeavesNoVisiblePartialFile) {
  fs_->AddFault({FaultOp::kWrite, "", FaultKind::kShortWrite});
  Expect([](FileSystem& fs) { return WriteFile(fs, "big", std::string(1 << 16, 'z')); },
         StatusCode::kResourceExhausted, "short write");
  EXPECT_EQ(fs_->Stat("big").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*WalkAll(*fs_, ""), (std::vector<std::string>{"dir", "dir/f", "file"}));
  EXPECT_EQ(fs_->Count(FaultOp::kRename), 0);  // Never committed.
}

TEST_F(HostileTest, EnospcOnSyncLeavesNoVisiblePartialFile) {
  fs_->AddFault({FaultOp::kSync, "", FaultKind::kEnospc});
  Expect([](FileSystem& fs) { return WriteFile(fs, "big", "data"); },
         StatusCode::kResourceExhausted, "sync");
  EXPECT_EQ(fs_->Stat("big").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace ferry::storage
