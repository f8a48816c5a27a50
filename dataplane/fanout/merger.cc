#include "dataplane/fanout/merger.h"

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/string_view.h"

namespace valet {
namespace {

// Whether `text` nests arrays and objects deeper than `max` (a scan that skips strings; the
// parser checks the rest of the syntax).
bool NestsDeeperThan(std::string_view text, size_t max) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

// A key that two legs' answers both hold.
struct Collision {
  std::string key;  // "id", or "GROUP.id" inside a group.
  std::string_view first;
  std::string_view second;
};

class Merger {
 public:
  explicit Merger(CollisionPolicy policy) : policy_(policy) {}

  void Add(LegReport& leg) {
    if (leg.group.empty()) {
      // ParseLegAnswer made sure it is an object.
      for (auto& [key, value] : leg.value.items()) {
        if (groups_.count(key) > 0) {
          Collide(key, owners_[key], leg.backend);
          continue;  // A group's key is never replaced by a plain value.
        }
        Put(&root_, key, key, std::move(value), leg.backend);
      }
      return;
    }
    std::string group(leg.group);
    auto it = root_.find(group);
    if (it == root_.end()) {
      root_[group] = std::move(leg.value);
      groups_.insert(group);
      owners_[group] = leg.backend;
      return;
    }
    bool merge = groups_.count(group) > 0 && it->is_object() && leg.value.is_object();
    if (!merge) {
      // The key is a plain key of an ungrouped answer, or one side is not an object.
      Collide(group, owners_[group], leg.backend);
      if (policy_ == CollisionPolicy::kLast) {
        *it = std::move(leg.value);
        owners_[group] = leg.backend;
      }
      return;
    }
    for (auto& [key, value] : leg.value.items()) {
      Put(&*it, key, absl::StrCat(group, ".", key), std::move(value), leg.backend);
    }
  }

  const std::vector<Collision>& collisions() const { return collisions_; }
  LegJson& root() { return root_; }

 private:
  void Put(LegJson* target, const std::string& key, const std::string& path, LegJson value,
           std::string_view backend) {
    auto it = target->find(key);
    if (it == target->end()) {
      (*target)[key] = std::move(value);
      owners_[path] = backend;
      return;
    }
    Collide(path, owners_[path], backend);
    if (policy_ == CollisionPolicy::kLast) {
      *it = std::move(value);
      owners_[path] = backend;
    }
  }

  void Collide(const std::string& key, std::string_view first, std::string_view second) {
    collisions_.push_back({key, first, second});
  }

  CollisionPolicy policy_;
  LegJson root_ = LegJson::object();
  std::set<std::string> groups_;                    // Group keys placed so far.
  std::map<std::string, std::string_view> owners_;  // Key path -> the backend that set it.
  std::vector<Collision> collisions_;
};

}  // namespace

std::string_view MissingReason(LegOutcome outcome) {
  switch (outcome) {
    case LegOutcome::kTimeout:
      return "timeout";
    case LegOutcome::kStatus:
      return "status";
    case LegOutcome::kNotJson:
      return "not_json";
    default:
      return "connection";
  }
}

LegOutcome ParseLegAnswer(std::string_view body, bool grouped, LegJson* out, std::string* detail) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    *out = LegJson::object();
    return LegOutcome::kOk;
  }
  if (NestsDeeperThan(body, kMaxLegJsonDepth)) {
    *detail = absl::StrCat("the answer nests deeper than ", kMaxLegJsonDepth, " levels");
    return LegOutcome::kNotJson;
  }
  *out = LegJson::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) {
    *detail = "the answer is not JSON";
    return LegOutcome::kNotJson;
  }
  if (!grouped && !out->is_object()) {
    *detail = "the answer is not a JSON object (give the backend a group to keep other values)";
    return LegOutcome::kNotJson;
  }
  return LegOutcome::kOk;
}

MergedAnswer MergeLegs(std::vector<LegReport>& legs, CollisionPolicy policy) {
  MergedAnswer answer;
  for (const LegReport& leg : legs) {
    if (leg.outcome == LegOutcome::kOk || !leg.required) continue;
    if (leg.outcome == LegOutcome::kTimeout) {
      answer.error = errors::FanoutBackendTimeout(leg.backend, leg.detail);
    } else {
      answer.error = errors::FanoutBackendFailed(leg.backend, leg.detail);
    }
    return answer;
  }

  Merger merger(policy);
  LegJson missing = LegJson::array();
  std::vector<std::string> missing_header;
  for (LegReport& leg : legs) {
    if (leg.outcome == LegOutcome::kOk) {
      merger.Add(leg);
      continue;
    }
    std::string_view reason = MissingReason(leg.outcome);
    LegJson entry = LegJson::object();
    entry["backend"] = std::string(leg.backend);
    entry["reason"] = std::string(reason);
    entry["detail"] = leg.detail;
    missing.push_back(std::move(entry));
    missing_header.push_back(absl::StrCat(AsAbsl(leg.backend), "=", AsAbsl(reason)));
  }
  if (policy == CollisionPolicy::kError && !merger.collisions().empty()) {
    std::vector<std::string> parts;
    for (const Collision& c : merger.collisions()) {
      if (parts.size() == 5) {
        parts.push_back(absl::StrCat("and ", merger.collisions().size() - 5, " more"));
        break;
      }
      parts.push_back(absl::StrCat("\"", c.key, "\" (backends \"", AsAbsl(c.first), "\" and \"",
                                   AsAbsl(c.second), "\")"));
    }
    answer.error = errors::FanoutKeyCollision(absl::StrCat(
        "the answers hold the same key", parts.size() > 1 ? "s " : " ", absl::StrJoin(parts, ", "),
        "; the route's collision policy is \"error\" (or \"first\", \"last\")"));
    return answer;
  }
  LegJson& root = merger.root();
  if (!missing.empty()) {
    LegJson valet = LegJson::object();
    valet["missing"] = std::move(missing);
    root["_valet"] = std::move(valet);
    answer.missing_header = absl::StrJoin(missing_header, ", ");
  }
  answer.body = root.dump(-1, ' ', false, LegJson::error_handler_t::replace);
  return answer;
}

}  // namespace valet
