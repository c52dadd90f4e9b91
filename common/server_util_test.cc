#include "common/server_util.h"

#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace ferry {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ServerUtilTest, BindsPortZeroAndWritesPortFile) {
  ConfigureCommonServerOptions();
  grpc::ServerBuilder builder;
  int port = 0;
  AddListeningPort(builder, "127.0.0.1:0", &port);
  auto server = StartServer(builder, &port, "127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_GT(port, 0);
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/server.port";
  ASSERT_TRUE(WritePortFile(path, port).ok());
  EXPECT_EQ(ReadAll(path), std::to_string(port) + "\n");
  (*server)->Shutdown();
}

TEST(ServerUtilTest, PortFileInMissingDirectoryFails) {
  EXPECT_FALSE(WritePortFile("/nonexistent-dir/x.port", 1).ok());
}

}  // namespace
}  // namespace ferry
