#include "valetctl/output.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/app_config_defaults.h"
#include "common/control_answer_json.h"
#include "common/error_body.h"
#include "common/secret_redaction.h"
#include "common/string_view.h"
#include "google/protobuf/util/time_util.h"

namespace valet::ctl {
namespace {

constexpr std::string_view kColumnGap = "   ";

std::string OneLine(std::string cell) {
  std::replace(cell.begin(), cell.end(), '\n', ' ');
  std::replace(cell.begin(), cell.end(), '\r', ' ');
  std::replace(cell.begin(), cell.end(), '\t', ' ');
  return cell;
}

std::string DataplaneLabel(const v1::DataPlaneStatus& dp) {
  std::string label = dp.id().empty() ? std::string("(no id)") : dp.id();
  if (!dp.address().empty()) absl::StrAppend(&label, " (", dp.address(), ")");
  return label;
}

std::string YesNo(bool b) { return b ? "yes" : "no"; }

// "4s ago", "3m ago"; "-" before the first report of the stream.
std::string ReportAge(const v1::DataPlaneStatus& dp) {
  if (!dp.has_last_report_time()) return "-";
  uint64_t seconds = dp.last_report_age_ms() / 1000;
  if (seconds < 120) return absl::StrCat(seconds, "s ago");
  return absl::StrCat(seconds / 60, "m ago");
}

}  // namespace

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  for (std::string& cell : cells) cell = OneLine(std::move(cell));
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<size_t> widths(headers_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  };
  measure(headers_);
  for (const auto& row : rows_) measure(row);

  std::string out;
  auto render_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line.append(kColumnGap);
      line.append(row[i]);
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size(), ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out.append(line);
    out.push_back('\n');
  };
  render_row(headers_);
  for (const auto& row : rows_) render_row(row);
  return out;
}

std::string ToJson(const google::protobuf::Message& message, bool pretty) {
  absl::StatusOr<std::string> json =
      ControlAnswerToJson(message, {pretty, /*print_zero_fields=*/true});
  if (!json.ok()) {
    // Only a message with an unresolvable Any can fail; control API answers have none.
    return RenderErrorBody({500, ErrorCodeName(json.status().code()),
                            absl::StrCat("cannot render as JSON: ", json.status().message())});
  }
  return *json;
}

std::string FormatTimestamp(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "-";
  absl::Time t = absl::FromUnixSeconds(ts.seconds());
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string FormatEndpoint(const v1::Endpoint& endpoint) {
  std::string scheme = endpoint.scheme().empty() ? std::string(kDefaultScheme) : endpoint.scheme();
  std::string out =
      absl::StrCat(scheme, "://", endpoint.host(), ":", endpoint.port(), endpoint.path());
  if (WeightOf(endpoint) != kDefaultEndpointWeight) {
    absl::StrAppend(&out, " (weight ", WeightOf(endpoint), ")");
  }
  return out;
}

std::string RenderAppsTable(const v1::ListAppsResponse& response) {
  std::vector<const v1::AppConfig*> apps;
  for (const v1::AppConfig& app : response.apps()) apps.push_back(&app);
  std::sort(apps.begin(), apps.end(),
            [](const v1::AppConfig* a, const v1::AppConfig* b) { return a->name() < b->name(); });
  Table table({"NAME", "ENDPOINTS", "AUTH", "RATE LIMIT", "DESCRIPTION"});
  for (const v1::AppConfig* app : apps) {
    std::string limit = app->rate_limit()
                            ? absl::StrCat(app->limit_value(), "/", LimitPeriodSecondsOf(*app), "s")
                            : "-";
    table.AddRow({app->name(), absl::StrCat(app->endpoints_size()), YesNo(app->authorize()), limit,
                  app->description()});
  }
  return table.Render();
}

namespace {
// The control plane answers with keys redacted ("<redacted sha256:ab12cd34>"), shown as they
// are; anything else is hidden all the same.
std::string ShownKey(const std::string& key) {
  return IsRedactedMarker(key) ? key : "(set, hidden; see -o json)";
}
}  // namespace

std::string RenderAppDetails(const v1::AppConfig& app) {
  Table table({"FIELD", "VALUE"});
  table.AddRow({"name", app.name()});
  table.AddRow({"description", app.description()});
  table.AddRow({"authorize", YesNo(app.authorize())});
  if (app.authorize() || !app.auth_key().empty() || !app.consumers().empty()) {
    table.AddRow({"authKey", app.auth_key().empty() ? "(unset)" : ShownKey(app.auth_key())});
    table.AddRow({"authHeader", std::string(AuthHeaderOf(app))});
  }
  for (int i = 0; i < app.consumers_size(); ++i) {
    const v1::Consumer& c = app.consumers(i);
    std::string value =
        absl::StrCat(c.name(), ", key ",
                     c.key().empty() ? absl::StrCat("sha256:", c.key_sha256()) : ShownKey(c.key()));
    if (c.limit_value() != 0) {
      absl::StrAppend(
          &value, ", limit ", c.limit_value(), " per ",
          c.limit_period_seconds() == 0 ? kDefaultLimitPeriodSeconds : c.limit_period_seconds(),
          "s");
    }
    table.AddRow({absl::StrCat("consumers[", i, "]"), value});
  }
  table.AddRow({"rateLimit", YesNo(app.rate_limit())});
  if (app.rate_limit()) {
    table.AddRow({"limit", absl::StrCat(app.limit_value(), " requests per ",
                                        LimitPeriodSecondsOf(app), "s")});
  }
  table.AddRow({"balancing", std::string(BalancingOf(app))});
  table.AddRow({"connectTimeoutMs", absl::StrCat(ConnectTimeoutMsOf(app))});
  table.AddRow({"requestTimeoutMs", absl::StrCat(RequestTimeoutMsOf(app))});
  for (int i = 0; i < app.endpoints_size(); ++i) {
    table.AddRow({absl::StrCat("endpoints[", i, "]"), FormatEndpoint(app.endpoints(i))});
  }
  if (app.mock_mode() || app.mock_header() || app.mocks_size() > 0) {
    table.AddRow({"mockMode", YesNo(app.mock_mode())});
    table.AddRow({"mockHeader", YesNo(app.mock_header())});
    table.AddRow({"mocks", absl::StrCat(app.mocks_size(), " (see `valetctl mock list`)")});
  }
  return table.Render();
}

std::string RenderMocksTable(const v1::MockList& list) {
  std::string out = absl::StrCat(
      "app ", list.app(), ": mock mode ", list.mock_mode() ? "on" : "off", ", mock header ",
      list.mock_header() ? "allowed" : "not allowed", ", ", list.mocks_size(), " mock",
      list.mocks_size() == 1 ? "" : "s", " (version ", list.version(), ")\n");
  if (list.mocks().empty()) return out;
  Table table({"METHOD", "PATH", "STATUS", "BODY", "HEADERS", "DELAY"});
  for (const v1::Mock& mock : list.mocks()) {
    std::string body = !mock.json().empty()   ? absl::StrCat("json, ", mock.json().size(), " B")
                       : !mock.text().empty() ? absl::StrCat("text, ", mock.text().size(), " B")
                                              : "-";
    std::vector<std::string> headers;
    for (const v1::MockHeader& h : mock.headers()) headers.push_back(h.name());
    table.AddRow({mock.method().empty() ? "*" : mock.method(), mock.path(),
                  absl::StrCat(mock.status() == 0 ? 200 : mock.status()), body,
                  headers.empty() ? "-" : absl::StrJoin(headers, ", "),
                  mock.delay_ms() == 0 ? "-" : absl::StrCat(mock.delay_ms(), "ms")});
  }
  return out + table.Render();
}

std::string RenderDataplanesTable(const v1::ListDataPlanesResponse& response) {
  std::string out = absl::StrCat("control plane version ", response.version(), "\n");
  if (response.dataplanes().empty()) {
    absl::StrAppend(&out, "no data plane attached\n");
    return out;
  }
  Table table({"ID", "ADDRESS", "STATE", "VERSION", "CONNECTED SINCE", "LAST REPORT", "REQUESTS",
               "ERRORS", "LAST NACK"});
  for (const v1::DataPlaneStatus& dp : response.dataplanes()) {
    std::string nack = "-";
    if (dp.last_nack_version() != 0) {
      nack = absl::StrCat("version ", dp.last_nack_version(), ": ", dp.last_nack_reason());
    }
    std::string state = !dp.connected()                      ? "disconnected"
                        : dp.version() == response.version() ? "in sync"
                                                             : "behind";
    const bool reported = dp.has_last_report_time();
    table.AddRow({dp.id(), dp.address(), state, absl::StrCat(dp.version()),
                  FormatTimestamp(dp.connected_since()), ReportAge(dp),
                  reported ? absl::StrCat(dp.last_report().requests()) : "-",
                  reported ? absl::StrCat(dp.last_report().errors()) : "-", nack});
  }
  absl::StrAppend(&out, table.Render());
  return out;
}

std::string RenderLimitsTable(const v1::GetLimitsResponse& response) {
  if (response.limits().empty()) return "no rate-limited app\n";
  Table table(
      {"APP", "CONSUMER", "LIMIT", "USED", "REMAINING", "RESET", "REFUSED", "REFUSED LAST"});
  for (const v1::LimitStatus& l : response.limits()) {
    table.AddRow({l.app(), l.for_consumer() ? l.consumer() : "-",
                  absl::StrCat(l.limit(), "/", l.period_seconds(), "s"), absl::StrCat(l.used()),
                  absl::StrCat(l.remaining()), absl::StrCat(l.reset_seconds(), "s"),
                  absl::StrCat(l.refused()), absl::StrCat(l.refused_last_window())});
  }
  return table.Render();
}

std::string SummariseNames(const std::vector<std::string>& names) {
  if (names.size() <= kMaxNamesShown) return absl::StrJoin(names, ", ");
  return absl::StrCat(absl::StrJoin(names.begin(), names.begin() + kMaxNamesShown, ", "), " and ",
                      names.size() - kMaxNamesShown, " more");
}

std::string RenderVersionEvent(const v1::VersionEvent& event) {
  std::string out = absl::StrCat("version ", event.version());
  if (!event.changed_apps().empty()) {
    absl::StrAppend(&out, "  changed: ",
                    SummariseNames({event.changed_apps().begin(), event.changed_apps().end()}));
  }
  if (!event.deleted_apps().empty()) {
    absl::StrAppend(&out, "  deleted: ",
                    SummariseNames({event.deleted_apps().begin(), event.deleted_apps().end()}));
  }
  return out;
}

std::vector<std::string> WaitProblems(const v1::WaitForVersionResponse& response) {
  std::vector<std::string> lines;
  for (const v1::DataPlaneStatus& dp : response.nacked()) {
    uint64_t version = dp.last_nack_version() != 0 ? dp.last_nack_version() : response.version();
    lines.push_back(absl::StrCat("data plane ", DataplaneLabel(dp), " NACKed version ", version,
                                 ": ", OneLine(dp.last_nack_reason())));
  }
  for (const v1::DataPlaneStatus& dp : response.pending()) {
    lines.push_back(absl::StrCat("data plane ", DataplaneLabel(dp), " did not answer version ",
                                 response.version(), " in time (serves version ", dp.version(),
                                 ")"));
  }
  if (lines.empty() && !response.complete()) {
    lines.push_back(
        absl::StrCat("data planes did not all answer version ", response.version(), " in time"));
  }
  return lines;
}

std::string WaitSummary(const v1::WaitForVersionResponse& response) {
  if (response.acked().empty()) {
    return absl::StrCat("version ", response.version(), ": no data plane attached");
  }
  std::vector<std::string> ids;
  for (const v1::DataPlaneStatus& dp : response.acked()) ids.push_back(dp.id());
  std::sort(ids.begin(), ids.end());
  return absl::StrCat("version ", response.version(), " ACKed by ", ids.size(), " data plane",
                      ids.size() == 1 ? "" : "s", ": ", absl::StrJoin(ids, ", "));
}

}  // namespace valet::ctl
