// CompareOptions: what `compare` and `compare-all` take from the command line, and the CompareRequest they make.
// Parsing here is only what the wire format cannot express (layer ranges, "NAME:spec", files read on this
// machine); the server validates every value and names the field at fault, so the client does not duplicate its
// rules (which modes, layers and points exist, what sizes are allowed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "layerscope/v1/layerscope.pb.h"

namespace layerscope::client {

struct CompareOptions {
  std::vector<std::string> modes;       // `compare MODE...`
  std::string reference = "fp32";       // --reference
  std::string model;                    // --model; empty: the server's default
  std::string layers;                   // --layers, e.g. "0,-1" or "0-3"; empty: every layer
  std::vector<std::string> points;      // --points; empty: the server's default six
  int samples = 0;                      // --samples; 0: the server's default
  int seq_len = 0;                      // --seq-len; 0: the server's default
  int batch_size = 0;                   // --batch-size; 0: the server's default
  std::vector<std::string> mode_specs;  // --mode-spec "NAME:field=value,..."
  std::string text_file;                // --text-file: UTF-8 text sent inline
  std::string tokens_file;              // --tokens-file: token ids sent inline
  std::string data_file;                // --data-file: a dataset file on the server, under its data root
  std::string data;                     // --data: a dataset file uploaded to the server
  std::string tokenizer;                // --tokenizer: a tokenizer.json uploaded with --data
  std::string layout;                   // --layout: "documents" or "packed"; empty: the server's choice
  std::optional<uint64_t> seed;         // --seed: shuffle the documents of --data
};

// "0,-1", "0-3", "-3--1": comma-separated layer indices and inclusive ranges; negative values count from the end.
// A range must not mix signs (its length would depend on the model). Throws ClientError (kExitUsage).
std::vector<int> ParseLayers(const std::string& text);

// "NAME:field=value,..." as a ModeDefinition. Throws ClientError (kExitUsage) when there is no name or no spec; the
// spec itself is the server's to check.
v1::ModeDefinition ParseModeDefinition(const std::string& text);

// The samples of a --tokens-file: one sequence per line, ids separated by blanks or commas; empty lines and lines
// starting with '#' are skipped. `name` names the file in errors. Throws ClientError (kExitUsage).
v1::TokenSamples ParseTokenSamples(const std::string& content, const std::string& name);

// The request for `options`: its modes, then the composed --mode-spec modes, and everything else, reading
// --text-file, --tokens-file or --data (and --tokenizer) (the CLI lets at most one data option through). The files
// of --data and --tokenizer travel as they are: the server parses and tokenizes them. Built before connecting, so a bad
// option never waits for the network. Throws ClientError: kExitUsage for a bad option, kExitFailure for a file that
// cannot be read.
v1::CompareRequest BuildCompareRequest(const CompareOptions& options);

}  // namespace layerscope::client
