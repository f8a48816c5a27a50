// Rendering of control API answers: aligned tables for people (-o table, the default) and
// JSON for programs (-o json). Pure functions of their inputs; thread-safe.
#ifndef VALET_VALETCTL_OUTPUT_H_
#define VALET_VALETCTL_OUTPUT_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "valet/v1/config.pb.h"
#include "valet/v1/control.pb.h"

namespace valet::ctl {

// A table with a header row; columns are left-aligned, separated by three spaces, and no line has
// trailing spaces. A cell holds one line (newlines are replaced by spaces).
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  // Short rows are padded with empty cells; extra cells are dropped.
  void AddRow(std::vector<std::string> cells);
  std::string Render() const;
  size_t rows() const { return rows_.size(); }

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// `message` as JSON (common/control_answer_json.h): protobuf's JSON mapping of the answer
// (lowerCamel names, uint64 as strings, fields at their default value included so scripts always
// find them) with every app in the one app config mapping (what `apply` takes back), followed by
// a newline. `pretty` indents it; otherwise it is one line (for streams such as `watch`).
std::string ToJson(const google::protobuf::Message& message, bool pretty = true);

// "2026-11-27T19:28:05Z"; "-" for an unset timestamp.
std::string FormatTimestamp(const google::protobuf::Timestamp& ts);

// "http://host:port/path", with " (weight N)" when the weight is not the default.
std::string FormatEndpoint(const v1::Endpoint& endpoint);

// `apps list`: NAME, ENDPOINTS, AUTH, RATE LIMIT, DESCRIPTION; sorted by name.
std::string RenderAppsTable(const v1::ListAppsResponse& response);

// `apps get`: one "FIELD  VALUE" line per setting, defaults shown, the auth key masked.
std::string RenderAppDetails(const v1::AppConfig& app);

// `mock list`: a line with the app's mock settings, then METHOD, PATH, STATUS, BODY (kind and
// size), HEADERS (names), DELAY; in config order (the first match wins).
std::string RenderMocksTable(const v1::MockList& list);

// `dataplanes`: ID, ADDRESS, STATE, VERSION, CONNECTED SINCE, LAST NACK; a line with the
// control plane's version first.
std::string RenderDataplanesTable(const v1::ListDataPlanesResponse& response);

// `limits`: APP, CONSUMER, LIMIT (requests/period), USED, REMAINING, RESET, REFUSED (this window,
// last window).
std::string RenderLimitsTable(const v1::GetLimitsResponse& response);

// A list of app names for a line meant for people: "a, b, c" up to kMaxNamesShown names, then
// "a, b, c, d, e and 1995 more" (applying thousands of apps must not print one huge line; -o json
// has every name).
inline constexpr size_t kMaxNamesShown = 5;
std::string SummariseNames(const std::vector<std::string>& names);

// One line of `watch`: "version 7  changed: a, b  deleted: c" (names summarised as above).
std::string RenderVersionEvent(const v1::VersionEvent& event);

// The outcome of `apply --wait` for people. WaitProblems: one line per data plane that NACKed
// ("data plane ID (ADDR) NACKed version V: reason") or did not answer in time; empty when every
// data plane ACKed. WaitSummary: the line printed when there is no problem.
std::vector<std::string> WaitProblems(const v1::WaitForVersionResponse& response);
std::string WaitSummary(const v1::WaitForVersionResponse& response);

}  // namespace valet::ctl

#endif  // VALET_VALETCTL_OUTPUT_H_
