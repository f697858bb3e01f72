#include "client/cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/commands.h"
#include "client/compare_options.h"
#include "client/connection.h"
#include "client/errors.h"
#include "client/fail_if.h"
#include "client/listings.h"
#include "client/multi_server.h"

namespace layerscope::client {
namespace {

// CLI11's own range checks print the limits of a double in full; these say what is wrong in a few words.
const CLI::Validator kAtLeastOne(
    [](std::string& value) -> std::string {
      char* end = nullptr;
      const long long parsed = std::strtoll(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0') return "must be a whole number, got '" + value + "'";
      return parsed >= 1 ? std::string() : "must be at least 1, got " + value;
    },
    "N>=1");

const CLI::Validator kPositiveSeconds(
    [](std::string& value) -> std::string {
      char* end = nullptr;
      const double parsed = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0') return "must be a number of seconds, got '" + value + "'";
      return parsed > 0 && std::isfinite(parsed) ? std::string() : "must be more than 0 seconds, got " + value;
    },
    "SECONDS");

// The options `compare` and `compare-all` share; CLI11 binds both subcommands to the same struct, and only the
// one on the command line fills it.
void AddCompareOptions(CLI::App* command, CompareOptions* options) {
  command->add_option("--reference", options->reference, "Mode the others are compared against")->capture_default_str();
  command->add_option("--model", options->model, "Model to run (default: the server's default; see 'models')");
  command->add_option("--layers", options->layers,
                      "Layers to compare, e.g. 0,-1 or 0-3; negative counts from the end (default: all)");
  command
      ->add_option("--points", options->points,
                   "Capture points, comma-separated (default: the seed's six; see 'points')")
      ->delimiter(',')
      ->allow_extra_args(false);
  command->add_option("--samples", options->samples, "Number of samples (default: the server's, 10)")
      ->check(kAtLeastOne);
  command->add_option("--seq-len", options->seq_len, "Tokens per sample (default: the server's, 512)")
      ->check(kAtLeastOne);
  command->add_option("--batch-size", options->batch_size, "Samples per forward pass (default: the server's)")
      ->check(kAtLeastOne);
  command
      ->add_option("--mode-spec", options->mode_specs,
                   "Compose a mode for this run, NAME:field=value,... (repeatable; fields: see 'modes')")
      ->allow_extra_args(false);
  CLI::Option* text = command->add_option("--text-file", options->text_file,
                                          "UTF-8 text file to run on, sent to the server (default: the model's "
                                          "evaluation text)");
  CLI::Option* tokens = command->add_option("--tokens-file", options->tokens_file,
                                            "Token ids to run on, one sample per line, blank- or comma-separated");
  CLI::Option* data =
      command->add_option("--data-file", options->data_file,
                          "Dataset file on the server to run on, relative to its data root (formats as --data)");
  text->excludes(tokens)->excludes(data);
  tokens->excludes(data);
  CLI::Option* upload =
      command->add_option("--data", options->data,
                          "Dataset to run on, sent to the server: text, JSON lines (.jsonl, a \"text\" field per "
                          "line), token ids (.npy), or gzip of any (.gz)");
  upload->excludes(text)->excludes(tokens)->excludes(data);
  command
      ->add_option("--tokenizer", options->tokenizer,
                   "HF tokenizer.json to tokenize --data with, sent with it (default: the model's tokenizer on the "
                   "server)")
      ->needs(upload);
  command
      ->add_option("--layout", options->layout,
                   "How --data becomes samples: documents (one each, truncated to --seq-len) or packed (joined and "
                   "cut) (default: packed for plain text, documents otherwise)")
      ->check(CLI::IsMember({"documents", "packed"}))
      ->needs(upload);
  command->add_option("--seed", options->seed, "Shuffle the documents of --data with this seed (default: file order)")
      ->needs(upload);
}

int ReportError(std::ostream& err, int code, const std::string& message) {
  err << "layerscope: error: " << message << "\n";
  return code;
}

}  // namespace

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app(
      "Compares the numeric modes of a Mamba model that a layerscoped server keeps resident, layer by "
      "layer and capture point by capture point.",
      "layerscope");
  app.set_version_flag("--version", "layerscope " LAYERSCOPE_VERSION);
  app.require_subcommand(1);
  // Global options may come after the subcommand too.
  app.fallthrough();
  app.footer(
      "Exit codes: 0 success; 1 failure; 2 bad command line or a request the server rejected; 3 server "
      "unreachable or gone mid-call; 4 --fail-if matched a row (client/FAIL_IF.md).");

  std::string server;
  Credentials credentials;
  double timeout_seconds = 0;
  OutputOptions output;
  app.add_option("--server", server,
                 "layerscoped address HOST:PORT, or several comma-separated (of one model) to spread the modes of "
                 "compare and compare-all across (default: $LAYERSCOPE_SERVER, else 127.0.0.1:50051)");
  app.add_option("--token", credentials.token,
                 "Bearer token to send with every call (default: $LAYERSCOPE_TOKEN; none when unset)");
  CLI::Option* tls_ca =
      app.add_option("--tls-ca", credentials.tls_ca, "Use TLS, trusting the server certificates this PEM file signs")
          ->check(CLI::ExistingFile);
  CLI::Option* tls_cert =
      app.add_option("--tls-cert", credentials.tls_cert, "PEM client certificate, for a server that requires one")
          ->check(CLI::ExistingFile)
          ->needs(tls_ca);
  CLI::Option* tls_key = app.add_option("--tls-key", credentials.tls_key, "PEM private key of --tls-cert")
                             ->check(CLI::ExistingFile)
                             ->needs(tls_cert);
  tls_cert->needs(tls_key);
  app.add_option("--timeout", timeout_seconds, "Give up on a call after this many seconds (default: no limit)")
      ->check(kPositiveSeconds);
  app.add_option("--json", output.json_path,
                 "Write the full results as JSON (client/JSON_SCHEMA.md) to FILE, or to stdout instead of the "
                 "tables with -");

  CompareOptions compare;
  std::string fail_if;
  const std::string fail_if_help =
      "Exit with code 4 when EXPR holds for any row, e.g. 'corr<0.9999 and layer==last' (client/FAIL_IF.md)";
  CLI::App* compare_command = app.add_subcommand(
      "compare", "Compare modes with the reference: per-layer detail blocks and the layer summary, per mode and point");
  compare_command->alias("comparewithfp");
  compare_command->add_option("MODE", compare.modes, "Modes to compare (see 'modes')");
  AddCompareOptions(compare_command, &compare);
  // Pointers, so that an empty EXPR is a parse error rather than no gate.
  std::vector<CLI::Option*> fail_if_options = {compare_command->add_option("--fail-if", fail_if, fail_if_help)};

  CLI::App* compare_all_command = app.add_subcommand(
      "compare-all", "Compare every mode the server offers with the reference: the all-modes summary table per point");
  AddCompareOptions(compare_all_command, &compare);
  fail_if_options.push_back(compare_all_command->add_option("--fail-if", fail_if, fail_if_help));

  CLI::App* modes_command = app.add_subcommand("modes", "List the modes and how to compose one with --mode-spec");
  CLI::App* models_command = app.add_subcommand("models", "List the models the server holds");
  CLI::App* points_command = app.add_subcommand("points", "List the capture points");

  CLI::App* submit_command =
      app.add_subcommand("submit", "Submit a comparison as a job (options as for compare) and print its id at once");
  submit_command->add_option("MODE", compare.modes, "Modes to compare (see 'modes')");
  AddCompareOptions(submit_command, &compare);
  std::string job_id;
  CLI::App* watch_command =
      app.add_subcommand("watch", "Wait for a job and print its results as compare does (from its beginning)");
  watch_command->add_option("ID", job_id, "Job id (see 'jobs')")->required();
  fail_if_options.push_back(watch_command->add_option("--fail-if", fail_if, fail_if_help));
  CLI::App* jobs_command = app.add_subcommand("jobs", "List your jobs (an admin: everyone's)");
  CLI::App* job_command = app.add_subcommand("job", "Show one job's state");
  job_command->add_option("ID", job_id, "Job id")->required();
  CLI::App* cancel_command = app.add_subcommand("cancel", "Cancel a queued or running job");
  cancel_command->add_option("ID", job_id, "Job id")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with exit code 0; CLI11 prints them.
    if (e.get_exit_code() == 0) return app.exit(e, out, err);
    // CLI11 files an unknown subcommand under "extras" and then reports only that a subcommand is missing.
    if (app.get_subcommands().empty() && !app.remaining().empty()) {
      std::string commands;
      for (const CLI::App* command : app.get_subcommands([](const CLI::App*) { return true; })) {
        commands += (commands.empty() ? "" : ", ") + command->get_name();
        for (const std::string& alias : command->get_aliases()) commands += ", " + alias;
      }
      return ReportError(err, kExitUsage,
                         "unknown command '" + app.remaining().front() + "' (commands: " + commands + ")");
    }
    return ReportError(err, kExitUsage, e.what());
  }

  std::optional<std::chrono::milliseconds> timeout;
  if (timeout_seconds > 0) timeout = std::chrono::milliseconds(std::llround(timeout_seconds * 1000));
  credentials.token = ResolveToken(credentials.token);
  try {
    // Parsed before any call, so a typo costs no comparison.
    std::unique_ptr<FailIf> gate;
    if (std::any_of(fail_if_options.begin(), fail_if_options.end(), [](CLI::Option* o) { return o->count() > 0; })) {
      std::string error;
      gate = FailIf::Parse(fail_if, &error);
      if (!gate) throw ClientError(kExitUsage, error);
    }
    std::optional<CompareResult> compared;
    const std::vector<std::string> servers = SplitServerList(ResolveServerAddress(server));
    const std::string& address = servers.front();
    if (servers.size() > 1 && !compare_command->parsed() && !compare_all_command->parsed()) {
      throw ClientError(kExitUsage, "--server: several servers are for compare, comparewithfp and compare-all only");
    }
    if (compare_command->parsed()) {
      const v1::CompareRequest request = BuildCompareRequest(compare);
      if (request.modes_size() == 0) throw ClientError(kExitUsage, "compare: name at least one MODE or --mode-spec");
      ServerPool pool(servers, timeout, credentials);
      pool.CheckSameModel(request.model());
      compared = pool.Compare(request);
      WriteCompareReport("compare", *compared, output, out);
    } else if (compare_all_command->parsed()) {
      v1::CompareRequest request = BuildCompareRequest(compare);
      ServerPool pool(servers, timeout, credentials);
      pool.CheckSameModel(request.model());
      const std::string note = AddServerModes(pool.first(), &request);
      if (!note.empty()) err << "layerscope: note: " << note << "\n";
      compared = pool.Compare(request);
      WriteCompareReport("compare-all", *compared, output, out);
    } else if (submit_command->parsed()) {
      const v1::CompareRequest request = BuildCompareRequest(compare);
      if (request.modes_size() == 0) throw ClientError(kExitUsage, "submit: name at least one MODE or --mode-spec");
      Connection connection(address, timeout, credentials);
      const v1::Job job = connection.SubmitJob(request);
      if (!job.cached_from().empty())
        err << "layerscope: note: answered from the result of job " << job.cached_from() << "\n";
      out << job.id() << "\n";
    } else if (watch_command->parsed()) {
      Connection connection(address, timeout, credentials);
      compared = WatchJob(connection, job_id);
      WriteCompareReport("compare", *compared, output, out);
    } else if (jobs_command->parsed()) {
      Connection connection(address, timeout, credentials);
      out << JobsTable(connection.ListJobs());
    } else if (job_command->parsed()) {
      Connection connection(address, timeout, credentials);
      out << JobDetails(connection.GetJob(job_id));
    } else if (cancel_command->parsed()) {
      Connection connection(address, timeout, credentials);
      out << JobDetails(connection.CancelJob(job_id));
    } else if (modes_command->parsed()) {
      Connection connection(address, timeout, credentials);
      WriteModes(connection, output, out);
    } else if (models_command->parsed()) {
      Connection connection(address, timeout, credentials);
      WriteModels(connection, output, out);
    } else if (points_command->parsed()) {
      Connection connection(address, timeout, credentials);
      WritePoints(connection, output, out);
    }
    out.flush();
    if (!out) return ReportError(err, kExitFailure, "cannot write the report to stdout");
    if (gate && compared) {
      const std::vector<const v1::MetricsRow*> matches = gate->Matches(compared->rows());
      if (!matches.empty()) {
        err << FailIfReport(*gate, matches);
        return kExitFailIf;
      }
    }
    return kExitOk;
  } catch (const ClientError& e) {
    return ReportError(err, e.code(), e.what());
  } catch (const std::exception& e) {
    return ReportError(err, kExitFailure, e.what());
  }
}

}  // namespace layerscope::client
