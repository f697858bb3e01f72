// The job commands of the real client (submit, watch, jobs, job, cancel) against real servers of their own: with
// bearer tokens of two users and an admin, and over TLS with a certificate made by deploy/make-test-cert.sh.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "server/auth/token_store.h"
#include "tests/e2e/cli_process.h"
#include "tests/support/server_process.h"

namespace layerscope::e2e {
namespace {

constexpr char kAliceToken[] = "ls_alice-e2e-token";
constexpr char kBobToken[] = "ls_bob-e2e-token";
constexpr char kRootToken[] = "ls_root-e2e-token";

const std::vector<std::string> kRequest = {"fp16", "--samples", "2", "--seq-len", "32", "--layers", "0,-1"};

std::vector<std::string> With(const ServerProcess& server, const std::string& token, std::vector<std::string> args) {
  std::vector<std::string> out = {"--server", server.address()};
  if (!token.empty()) out.insert(out.end(), {"--token", token});
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

std::vector<std::string> Plus(std::vector<std::string> head, const std::vector<std::string>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

class JobsCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess({"--no-quantize", "--token", "alice:user:" + auth::Sha256Hex(kAliceToken), "--token",
                                 "bob:user:" + auth::Sha256Hex(kBobToken), "--token",
                                 "root:admin:" + auth::Sha256Hex(kRootToken)});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static ServerProcess* server_;
};

ServerProcess* JobsCliTest::server_ = nullptr;

TEST_F(JobsCliTest, SubmitWatchJobsJobCancel) {
  const CliResult compared = RunCli(With(*server_, kAliceToken, Plus({"compare"}, kRequest)));
  ASSERT_EQ(compared.exit_code, 0) << compared.err;

  // A job that runs (no cached answer yet: another size) prints its id at once; watch prints compare's report.
  const std::vector<std::string> other = Plus({"submit"}, {"fp16", "--samples", "2", "--seq-len", "24"});
  const CliResult submitted = RunCli(With(*server_, kAliceToken, other));
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string id = Trimmed(submitted.out);
  EXPECT_EQ(id.size(), 32u) << submitted.out;
  const CliResult watched = RunCli(With(*server_, kAliceToken, {"watch", id}));
  ASSERT_EQ(watched.exit_code, 0) << watched.err;
  EXPECT_NE(watched.out.find("Layer 0 - Comparison Results"), std::string::npos) << watched.out;

  // The request compare ran is answered from its result: the same report, and a note saying so.
  const CliResult cached = RunCli(With(*server_, kAliceToken, Plus({"submit"}, kRequest)));
  ASSERT_EQ(cached.exit_code, 0) << cached.err;
  EXPECT_EQ(cached.err.rfind("layerscope: note: answered from the result of job ", 0), 0u) << cached.err;
  const CliResult replayed = RunCli(With(*server_, kAliceToken, {"watch", Trimmed(cached.out)}));
  ASSERT_EQ(replayed.exit_code, 0) << replayed.err;
  EXPECT_EQ(replayed.out, compared.out);

  const CliResult job = RunCli(With(*server_, kAliceToken, {"job", id}));
  ASSERT_EQ(job.exit_code, 0) << job.err;
  EXPECT_NE(job.out.find("id: " + id + "\nowner: alice\nstate: succeeded\nsteps: 2/2\nrows: 36\n"), std::string::npos)
      << job.out;
  const CliResult cancel = RunCli(With(*server_, kAliceToken, {"cancel", id}));
  ASSERT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_NE(cancel.out.find("state: succeeded"), std::string::npos) << cancel.out;

  // $LAYERSCOPE_TOKEN stands for --token.
  CliProcess::Options env;
  env.env.push_back(std::string("LAYERSCOPE_TOKEN=") + kAliceToken);
  CliProcess listing(With(*server_, "", {"jobs"}), env);
  const CliResult jobs = listing.Wait(std::chrono::seconds(30));
  ASSERT_EQ(jobs.exit_code, 0) << jobs.err;
  EXPECT_EQ(jobs.out.rfind("Id ", 0), 0u) << jobs.out;
  EXPECT_NE(jobs.out.find(id + " alice"), std::string::npos) << jobs.out;

  // Bob sees none of it; the admin sees all.
  const CliResult bobs = RunCli(With(*server_, kBobToken, {"job", id}));
  EXPECT_EQ(bobs.exit_code, 2) << bobs.err;
  EXPECT_NE(bobs.err.find("no job \"" + id + "\" of yours"), std::string::npos) << bobs.err;
  const CliResult bob_list = RunCli(With(*server_, kBobToken, {"jobs"}));
  EXPECT_EQ(bob_list.out.find("alice"), std::string::npos) << bob_list.out;
  const CliResult root_list = RunCli(With(*server_, kRootToken, {"jobs"}));
  EXPECT_NE(root_list.out.find(id + " alice"), std::string::npos) << root_list.out;
}

TEST_F(JobsCliTest, MissingOrWrongTokenIsRefused) {
  const CliResult missing = RunCli(With(*server_, "", {"jobs"}));
  EXPECT_EQ(missing.exit_code, 1) << missing.err;
  EXPECT_NE(missing.err.find("missing credentials"), std::string::npos) << missing.err;
  const CliResult wrong = RunCli(With(*server_, "ls_wrong", Plus({"compare"}, kRequest)));
  EXPECT_EQ(wrong.exit_code, 1) << wrong.err;
  EXPECT_NE(wrong.err.find("unknown or revoked token"), std::string::npos) << wrong.err;
}

TEST(JobsCliTlsTest, TlsWithTheCertificateAndNotWithoutIt) {
  const std::filesystem::path certs =
      std::filesystem::temp_directory_path() / ("layerscope-e2e-certs-" + std::to_string(getpid()));
  const std::string script = std::string(LAYERSCOPE_SOURCE_DIR) + "/deploy/make-test-cert.sh";
  ASSERT_EQ(std::system((script + " " + certs.string() + " >/dev/null").c_str()), 0);
  {
    auto server = ServerProcess::StartWithoutWaiting(
        {"--no-quantize", "--tls-cert", (certs / "server.pem").string(), "--tls-key", (certs / "server.key").string()});
    // `models` waits for the model, so it also waits out the load.
    const CliResult tls =
        RunCli({"--server", server->address(), "--tls-ca", (certs / "server.pem").string(), "models"});
    EXPECT_EQ(tls.exit_code, 0) << tls.err;
    EXPECT_NE(tls.out.find("embedded"), std::string::npos) << tls.out;
    const CliResult plain = RunCli({"--server", server->address(), "models"});
    EXPECT_EQ(plain.exit_code, 3) << plain.err;
    EXPECT_EQ(plain.err, "layerscope: error: cannot connect to layerscoped at " + server->address() +
                             " (connection failed; set --server or LAYERSCOPE_SERVER; a TLS server needs --tls-ca)\n");
  }
  std::filesystem::remove_all(certs);
}

TEST(JobsCliTlsTest, ClientCertificatesWhenTheServerRequiresThem) {
  const std::filesystem::path certs =
      std::filesystem::temp_directory_path() / ("layerscope-e2e-client-certs-" + std::to_string(getpid()));
  const std::string script = std::string(LAYERSCOPE_SOURCE_DIR) + "/deploy/make-test-cert.sh";
  ASSERT_EQ(std::system((script + " " + certs.string() + " --client >/dev/null").c_str()), 0);
  {
    auto server = ServerProcess::StartWithoutWaiting({"--no-quantize", "--tls-cert", (certs / "server.pem").string(),
                                                      "--tls-key", (certs / "server.key").string(), "--tls-client-ca",
                                                      (certs / "client-ca.pem").string()});
    const std::vector<std::string> tls = {"--server", server->address(), "--tls-ca", (certs / "server.pem").string()};
    const CliResult with_cert = RunCli(Plus(
        tls, {"--tls-cert", (certs / "client.pem").string(), "--tls-key", (certs / "client.key").string(), "models"}));
    EXPECT_EQ(with_cert.exit_code, 0) << with_cert.err;
    const CliResult without = RunCli(Plus(tls, {"models"}));
    EXPECT_EQ(without.exit_code, 3) << without.err;
    EXPECT_NE(without.err.find("(connection or TLS handshake failed; check --server and --tls-ca)"), std::string::npos)
        << without.err;
  }
  std::filesystem::remove_all(certs);
}

}  // namespace
}  // namespace layerscope::e2e
