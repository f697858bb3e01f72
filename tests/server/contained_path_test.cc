#include "server/service/contained_path.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/util/error.h"
#include "tests/server/test_dir.h"

namespace layerscope::server {
namespace {

namespace fs = std::filesystem;

// The ErrorKind ResolveUnderRoot throws for `relative`, or nothing.
std::optional<ErrorKind> Refusal(const std::string& root, const std::string& relative) {
  try {
    ResolveUnderRoot(root, relative, "data.file");
  } catch (const Error& error) {
    return error.kind();
  }
  return std::nullopt;
}

class ContainedPathTest : public ::testing::Test {
 protected:
  ContainedPathTest() : root_(dir_.Sub("root")) {
    dir_.Sub("root/a");
    std::ofstream(root_ + "/a/inside.txt") << "in";
    std::ofstream(dir_.path() + "/outside.txt") << "out";
  }

  testing::TestDir dir_;
  std::string root_;
};

TEST_F(ContainedPathTest, ResolvesFilesInsideTheRoot) {
  EXPECT_EQ(ResolveUnderRoot(root_, "a/inside.txt", "f"), fs::canonical(root_ + "/a/inside.txt").string());
  EXPECT_EQ(ResolveUnderRoot(root_, "./a//inside.txt", "f"), fs::canonical(root_ + "/a/inside.txt").string());
}

TEST_F(ContainedPathTest, FollowsLinksThatStayInside) {
  fs::create_symlink(root_ + "/a/inside.txt", root_ + "/link.txt");
  fs::create_directory_symlink(root_ + "/a", root_ + "/b");
  EXPECT_EQ(ResolveUnderRoot(root_, "link.txt", "f"), fs::canonical(root_ + "/a/inside.txt").string());
  EXPECT_EQ(ResolveUnderRoot(root_, "b/inside.txt", "f"), fs::canonical(root_ + "/a/inside.txt").string());
}

TEST_F(ContainedPathTest, RootMayItselfBeALink) {
  fs::create_directory_symlink(root_, dir_.path() + "/root-link");
  EXPECT_EQ(ResolveUnderRoot(dir_.path() + "/root-link", "a/inside.txt", "f"),
            fs::canonical(root_ + "/a/inside.txt").string());
}

TEST_F(ContainedPathTest, RefusesWhatLeavesTheRoot) {
  fs::create_directory_symlink(dir_.path(), root_ + "/up");
  fs::create_symlink(dir_.path() + "/outside.txt", root_ + "/a/out.txt");
  EXPECT_EQ(Refusal(root_, "/etc/hostname"), ErrorKind::kInvalidArgument);
  EXPECT_EQ(Refusal(root_, "../outside.txt"), ErrorKind::kInvalidArgument);
  // ".." is refused even where it would land inside: callers have no reason to send it.
  EXPECT_EQ(Refusal(root_, "a/../a/inside.txt"), ErrorKind::kInvalidArgument);
  EXPECT_EQ(Refusal(root_, "up/outside.txt"), ErrorKind::kInvalidArgument);
  EXPECT_EQ(Refusal(root_, "a/out.txt"), ErrorKind::kInvalidArgument);
  // A sibling whose name starts with the root's is still outside it.
  dir_.Sub("root2");
  std::ofstream(dir_.path() + "/root2/x.txt") << "x";
  fs::create_symlink(dir_.path() + "/root2/x.txt", root_ + "/x.txt");
  EXPECT_EQ(Refusal(root_, "x.txt"), ErrorKind::kInvalidArgument);
  EXPECT_EQ(Refusal(root_, "missing.txt"), ErrorKind::kNotFound);
  EXPECT_EQ(Refusal(root_, "a"), ErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace layerscope::server
