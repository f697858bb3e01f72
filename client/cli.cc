#include "client/cli.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/breakdown.h"
#include "client/commands.h"
#include "client/compare_options.h"
#include "client/connection.h"
#include "client/effect.h"
#include "client/errors.h"
#include "client/fail_if.h"
#include "client/listings.h"
#include "client/localize.h"
#include "client/multi_server.h"
#include "client/offline.h"
#include "client/relations.h"
#include "client/report/report_command.h"
#include "client/save.h"

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
      "unreachable or gone mid-call; 4 --fail-if matched a row (client/FAIL_IF.md), or a relation failed.");

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
  std::string offline_dir;
  CLI::Option* offline = compare_command->add_option(
      "--offline", offline_dir,
      "Compare the arrays 'save' wrote into DIR instead of asking a server (with --reference, MODE..., --layers, "
      "--points)");
  // Pointers, so that an empty EXPR is a parse error rather than no gate.
  std::vector<CLI::Option*> fail_if_options = {compare_command->add_option("--fail-if", fail_if, fail_if_help)};

  CLI::App* compare_all_command = app.add_subcommand(
      "compare-all", "Compare every mode the server offers with the reference: the all-modes summary table per point");
  AddCompareOptions(compare_all_command, &compare);
  fail_if_options.push_back(compare_all_command->add_option("--fail-if", fail_if, fail_if_help));

  CLI::App* report_command = app.add_subcommand(
      "report",
      "Write one self-contained HTML report of a comparison: summary tables, layers x modes heatmaps, |d| "
      "histograms, per-channel errors, error localization and the model-level effect");
  report_command->add_option("MODE", compare.modes, "Modes to compare (default: every mode the server offers)");
  AddCompareOptions(report_command, &compare);
  report::ReportOptions report_options;
  std::string detail_layers = "-1";
  report_command->add_option("--html", report_options.html_path, "HTML file to write")->required();
  report_command->add_option("--detail-layers", detail_layers,
                             "Layers whose captures get |d| histograms and per-channel plots, as --layers takes them "
                             "(default: -1, the last)");
  report_command
      ->add_option("--detail-points", report_options.detail_points,
                   "Capture points of those, comma-separated (default: every compared point)")
      ->delimiter(',')
      ->allow_extra_args(false);

  CLI::App* save_command = app.add_subcommand(
      "save",
      "Capture on the server and download the arrays as .npy files with the seed's stats files (client/save.h)");
  save_command->add_option("MODE", compare.modes, "Modes or groups to save: fp_only, quant_only, essential, all")
      ->required();
  AddCompareOptions(save_command, &compare);
  SaveOptions save;
  save_command->add_option("--out", save.out_dir, "Folder to write layer_outputs/ and the stats files into")
      ->required();
  save_command->add_flag("--yes", save.yes, "Download without asking, whatever the size");
  save_command
      ->add_option("--confirm-above", save.confirm_above_mib,
                   "Ask before downloading more than this many MiB (refused without a terminal unless --yes)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);

  CLI::App* localize_command = app.add_subcommand(
      "localize",
      "Where each layer's error is born and where it grows: every quantized stage run alone on the reference's "
      "input, next to its error in the mode's full run (relative MSE)");
  localize_command
      ->add_option("--mode", compare.modes, "Quantized mode(s) to localize, comma-separated (or --mode-spec)")
      ->delimiter(',')
      ->allow_extra_args(false);
  AddCompareOptions(localize_command, &compare);

  CLI::App* breakdown_command = app.add_subcommand(
      "breakdown",
      "Where a mode's error lies at each chosen layer and point: the worst samples, token positions and channels "
      "by MSE and the |d| percentiles; --json/--out hold every array");
  breakdown_command->add_option("--mode", compare.modes, "Mode(s) to break down, comma-separated")
      ->required()
      ->delimiter(',')
      ->allow_extra_args(false);
  AddCompareOptions(breakdown_command, &compare);
  int top_k = 10;
  breakdown_command->add_option("--top-k", top_k, "Outlier channels, samples and positions to print")
      ->capture_default_str()
      ->check(kAtLeastOne);
  std::string breakdown_out;
  breakdown_command->add_option(
      "--out", breakdown_out,
      "Write the full arrays as JSON to FILE (as --json FILE) and each profile as .npy next to it");

  CLI::App* effect_command = app.add_subcommand(
      "effect",
      "What each mode costs at the model's output: KL divergence from the reference's next-token distribution, "
      "top-1 agreement and perplexity, next to the mode's relative MSE at the last layer's output");
  effect_command->add_option(
      "MODE", compare.modes,
      "Modes (default, when neither MODE nor --mode-spec is given: every mode the server offers)");
  AddCompareOptions(effect_command, &compare);

  CLI::App* relations_command = app.add_subcommand(
      "relations",
      "Check the research's expected relationships between modes (MODES.md section 3), each PASS or FAIL; exit "
      "code 4 when one fails");
  AddCompareOptions(relations_command, &compare);

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
    bool relations_failed = false;
    const std::vector<std::string> servers = SplitServerList(ResolveServerAddress(server));
    const std::string& address = servers.front();
    if (servers.size() > 1 && !compare_command->parsed() && !compare_all_command->parsed()) {
      throw ClientError(kExitUsage, "--server: several servers are for compare, comparewithfp and compare-all only");
    }
    if (compare_command->parsed() && offline->count() > 0) {
      for (const char* online : {"--model", "--samples", "--seq-len", "--batch-size", "--mode-spec", "--text-file",
                                 "--tokens-file", "--data-file", "--data"}) {
        if (compare_command->get_option(online)->count() > 0) {
          throw ClientError(kExitUsage, std::string("compare --offline: ") + online +
                                            " does not apply: the saved arrays are compared as they are");
        }
      }
      OfflineCompareOptions options;
      options.dir = offline_dir;
      options.reference = compare.reference;
      options.modes = compare.modes;
      options.layers = compare.layers;
      options.points = compare.points;
      compared = CompareOffline(options);
      WriteCompareReport("compare", *compared, output, out);
    } else if (compare_command->parsed()) {
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
    } else if (report_command->parsed()) {
      report_options.detail_layers = report::ParseDetailLayers(detail_layers);
      const v1::CompareRequest request = BuildCompareRequest(compare);
      Connection connection(address, timeout, credentials);
      report::RunReport(connection, request, compare.modes.empty(), report_options, out, err);
    } else if (submit_command->parsed()) {
      const v1::CompareRequest request = BuildCompareRequest(compare);
      if (request.modes_size() == 0) throw ClientError(kExitUsage, "submit: name at least one MODE or --mode-spec");
      Connection connection(address, timeout, credentials);
      const v1::Job job = connection.SubmitJob(request);
      if (!job.cached_from().empty())
        err << "layerscope: note: answered from the result of job " << job.cached_from() << "\n";
      out << job.id() << "\n";
    } else if (save_command->parsed()) {
      if (save_command->get_option("--reference")->count() > 0) {
        throw ClientError(kExitUsage, "save: --reference does not apply: save downloads the modes it names");
      }
      Connection connection(address, timeout, credentials);
      RunSave(connection, SaveRequestFrom(BuildCompareRequest(compare)), save, std::cin, isatty(STDIN_FILENO) == 1, out,
              err);
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
    } else if (breakdown_command->parsed()) {
      if (!breakdown_out.empty()) {
        if (!output.json_path.empty()) throw ClientError(kExitUsage, "breakdown: give --out or --json, not both");
        output.json_path = breakdown_out;
      }
      v1::BreakdownRequest request;
      *request.mutable_comparison() = BuildCompareRequest(compare);
      request.set_top_k(top_k);
      Connection connection(address, timeout, credentials);
      const v1::BreakdownResponse response = connection.Breakdown(request);
      Emit(BreakdownText(response, top_k), BreakdownJson(response), output, out);
      if (!breakdown_out.empty()) {
        for (const std::string& path : WriteBreakdownNpy(response, breakdown_out))
          err << "layerscope: wrote " << path << "\n";
      }
    } else if (effect_command->parsed()) {
      for (const char* unused : {"--layers", "--points"}) {
        if (effect_command->get_option(unused)->count() > 0) {
          throw ClientError(kExitUsage, std::string("effect: ") + unused +
                                            " does not apply: the model-level effect compares the logits");
        }
      }
      v1::ModelEffectRequest request;
      *request.mutable_comparison() = BuildCompareRequest(compare);
      Connection connection(address, timeout, credentials);
      if (request.comparison().modes_size() == 0) {
        const std::string note = AddServerModes(connection, request.mutable_comparison());
        if (!note.empty()) err << "layerscope: note: " << note << "\n";
      }
      const v1::ModelEffectResponse response = connection.ModelEffect(request);
      // The layer error the effect is the cost of: each mode at the last layer's output.
      v1::CompareRequest layer_request = request.comparison();
      layer_request.add_layers(-1);
      layer_request.add_points("block_output");
      const CompareResult layer_errors = RunComparison(connection, layer_request);
      Emit(EffectText(response, layer_errors), EffectJson(response, layer_errors), output, out);
    } else if (localize_command->parsed()) {
      v1::LocalizeRequest request;
      *request.mutable_comparison() = BuildCompareRequest(compare);
      if (request.comparison().modes_size() == 0) {
        throw ClientError(kExitUsage, "localize: name at least one --mode or --mode-spec");
      }
      Connection connection(address, timeout, credentials);
      const v1::LocalizeResponse response = connection.Localize(request);
      Emit(LocalizeText(response), LocalizeJson(response), output, out);
    } else if (relations_command->parsed()) {
      for (const char* fixed : {"--reference", "--points", "--mode-spec"}) {
        if (relations_command->get_option(fixed)->count() > 0) {
          throw ClientError(kExitUsage, std::string("relations: ") + fixed +
                                            " does not apply: the table of relationships fixes the modes and points");
        }
      }
      Connection connection(address, timeout, credentials);
      const RelationsReport report = CheckRelations(connection, BuildCompareRequest(compare));
      Emit(RelationsText(report), RelationsJson(report), output, out);
      relations_failed =
          std::any_of(report.results.begin(), report.results.end(), [](const RelationResult& r) { return !r.pass; });
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
    if (relations_failed) return kExitFailIf;
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
