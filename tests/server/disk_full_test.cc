// Disk full on the real server's data directory: layerscoped runs with --data-dir on a small tmpfs that the test
// fills. A job that needs space then fails with RESOURCE_EXHAUSTED naming the full disk, the server keeps serving,
// and what it wrote before stays readable; once space is freed, jobs run again.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "layerscope/v1/layerscope.grpc.pb.h"
#include "tests/server/compare_call.h"
#include "tests/server/test_dir.h"
#include "tests/support/server_process.h"

namespace layerscope::server {
namespace {

using testing::EveryRowRequest;
using testing::RowsOf;

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  return static_cast<bool>(out << text);
}

// Moves this process (and the server it starts) into a mount namespace of its own, so that mounting a tmpfs needs
// no change to the machine: as root directly, otherwise inside a user namespace where we are root (what
// `unshare -rm` does). Returns why not when neither is allowed (e.g. a container without CAP_SYS_ADMIN whose kernel
// refuses unprivileged user namespaces). Must run before the process starts threads.
std::string EnterPrivateMountNamespace() {
  if (unshare(CLONE_NEWNS) != 0) {
    const uid_t uid = getuid();
    const gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
      return std::string("neither root nor allowed an unprivileged user namespace: ") + std::strerror(errno);
    }
    if (!WriteFile("/proc/self/setgroups", "deny") ||
        !WriteFile("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
        !WriteFile("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1")) {
      return "cannot map our user into the new user namespace";
    }
  }
  // Mounts made here must not propagate back to the machine's namespace.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return std::string("cannot make / private: ") + std::strerror(errno);
  }
  return "";
}

// Fills the file system of `path`'s folder with `path` until ENOSPC, then gives back `leave` bytes.
void FillLeaving(const std::string& path, off_t leave) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  const std::string block(4096, 'x');
  off_t size = 0;
  for (ssize_t n; (n = write(fd, block.data(), block.size())) > 0;) size += n;
  EXPECT_EQ(errno, ENOSPC);
  ASSERT_EQ(ftruncate(fd, size > leave ? size - leave : 0), 0);
  close(fd);
}

// The rows WatchJob streams for job `id`, and how the call ended.
std::vector<std::string> WatchRows(v1::Layerscope::Stub& stub, const std::string& id, grpc::Status* status) {
  const testing::CompareOutcome watched = testing::RunWatch(stub, id, std::chrono::seconds(60));
  *status = watched.status;
  return RowsOf(watched.events);
}

TEST(DiskFullTest, AFullDataDirectoryFailsTheJobAndKeepsWhatWasWritten) {
  const std::string why_not = EnterPrivateMountNamespace();
  if (!why_not.empty()) GTEST_SKIP() << "cannot mount a small file system for the test: " << why_not;
  testing::TestDir dir;
  const std::string data_dir = dir.Sub("data");
  ASSERT_EQ(mount("tmpfs", data_dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=0700"), 0)
      << std::strerror(errno);

  {
    const auto server = ServerProcess::StartOnDataDir(data_dir, {"--no-quantize"});
    auto stub = v1::Layerscope::NewStub(server->NewChannel());

    const testing::CompareOutcome before = testing::RunCompare(*stub, testing::SmallRequest());
    ASSERT_TRUE(before.status.ok()) << before.status.error_message();
    const std::vector<std::string> rows_before = RowsOf(before.events);
    ASSERT_EQ(rows_before.size(), 4u);

    // 64 KiB left: room for a job's record and a few rows, not for 72 rows with their journal frames.
    FillLeaving(data_dir + "/filler", 64 << 10);
    const testing::CompareOutcome full = testing::RunCompare(*stub, EveryRowRequest(2, 32));
    EXPECT_EQ(full.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << full.status.error_message();
    EXPECT_NE(full.status.error_message().find("disk full"), std::string::npos) << full.status.error_message();
    EXPECT_LT(RowsOf(full.events).size(), 72u);
    // (The failed job's own record may still read "running": its end is the write the full disk refused. The
    // next start recovers it like any job a dead server left running.)

    // Still serving, and the first job's rows read back as they were sent, while the disk is still full.
    HealthStatus health = HealthStatus::kUnknown;
    ASSERT_TRUE(CheckHealth(server->NewChannel(), "", &health).ok());
    EXPECT_EQ(health, HealthStatus::kServing);
    v1::ListJobsResponse jobs;
    {
      grpc::ClientContext context;
      ASSERT_TRUE(stub->ListJobs(&context, v1::ListJobsRequest(), &jobs).ok());
    }
    ASSERT_GE(jobs.jobs_size(), 1);
    EXPECT_EQ(jobs.jobs(0).state(), v1::JOB_STATE_SUCCEEDED);
    grpc::Status watched;
    EXPECT_EQ(WatchRows(*stub, jobs.jobs(0).id(), &watched), rows_before);
    EXPECT_TRUE(watched.ok()) << watched.error_message();
    // Space freed: the same comparison runs to its end.
    ASSERT_EQ(unlink((data_dir + "/filler").c_str()), 0);
    const testing::CompareOutcome after = testing::RunCompare(*stub, EveryRowRequest(2, 32));
    ASSERT_TRUE(after.status.ok()) << after.status.error_message();
    EXPECT_EQ(RowsOf(after.events).size(), 72u);
    EXPECT_EQ(server->Stop(), 0) << server->Stderr();
  }
  EXPECT_EQ(umount(data_dir.c_str()), 0) << std::strerror(errno);
}

}  // namespace
}  // namespace layerscope::server
