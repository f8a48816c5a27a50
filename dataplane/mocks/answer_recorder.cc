#include "dataplane/mocks/answer_recorder.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/message_limits.h"
#include "common/path_pattern.h"
#include "common/string_view.h"
#include "nlohmann/json.hpp"

namespace valet {
namespace {

// The only header fields a recording keeps: they describe the content. Everything else (cookies,
// credentials, the app's auth header, tracing, hop-by-hop fields) stays out of a mock.
constexpr std::string_view kRecordedHeaders[] = {
    "Content-Type",
    "Content-Language",
    "Content-Disposition",
    "Cache-Control",
    "ETag",
    "Last-Modified",
    "Expires",
    "Location",
};

// Well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF): what a protobuf
// string must hold.
bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t extra;
    unsigned char lo = 0x80, hi = 0xbf;  // Bounds of the second byte.
    if (c >= 0xc2 && c <= 0xdf) {
      extra = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      extra = 2;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      unsigned char b = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b & 0xc0) != 0x80) return false;
    }
    i += extra + 1;
  }
  return true;
}

bool IsJsonType(std::string_view content_type) {
  // application/json, application/problem+json, text/json; charset=...
  std::string lower = absl::AsciiStrToLower(AsAbsl(content_type));
  return lower.find("json") != std::string::npos;
}

}  // namespace

void AnswerRecorder::set_sink(Sink sink) {
  absl::MutexLock lock(&mu_);
  sink_ = std::move(sink);
}

void AnswerRecorder::Start(const v1::RecordStart& start) {
  absl::MutexLock lock(&mu_);
  if (start.count() == 0) {
    recordings_.erase(start.app());
  } else {
    Recording& r = recordings_[start.app()];
    r.id = start.recording_id();
    r.remaining = start.count();
    r.max_body_bytes =
        std::min<size_t>(start.max_body_bytes() == 0 ? kMaxMockBodyBytes : start.max_body_bytes(),
                         kMaxMockBodyBytes);
    r.deadline =
        absl::Now() + absl::Milliseconds(start.timeout_ms() == 0 ? 60000 : start.timeout_ms());
  }
  active_.store(static_cast<int>(recordings_.size()), std::memory_order_relaxed);
}

std::unique_ptr<AnswerCapture> AnswerRecorder::Claim(std::string_view app) {
  absl::MutexLock lock(&mu_);
  auto it = recordings_.find(AsAbsl(app));
  if (it == recordings_.end()) return nullptr;
  Recording& r = it->second;
  if (absl::Now() >= r.deadline || r.remaining == 0) {
    recordings_.erase(it);
    active_.store(static_cast<int>(recordings_.size()), std::memory_order_relaxed);
    return nullptr;
  }
  auto capture = std::make_unique<AnswerCapture>();
  capture->recording_id = r.id;
  capture->app = std::string(app);
  capture->max_body_bytes = r.max_body_bytes;
  if (--r.remaining == 0) {
    recordings_.erase(it);
    active_.store(static_cast<int>(recordings_.size()), std::memory_order_relaxed);
  }
  return capture;
}

void AnswerRecorder::CaptureHeaders(const boost::beast::http::fields& fields,
                                    AnswerCapture& capture) {
  for (const auto& field : fields) {
    std::string_view name = field.name_string();
    for (std::string_view allowed : kRecordedHeaders) {
      if (absl::EqualsIgnoreCase(AsAbsl(name), AsAbsl(allowed))) {
        capture.headers.emplace_back(std::string(allowed), std::string(field.value()));
        break;
      }
    }
  }
}

void AnswerRecorder::Deliver(const AnswerCapture& capture) {
  v1::DataPlaneMessage message;
  v1::RecordedAnswer* answer = message.mutable_recorded();
  answer->set_recording_id(capture.recording_id);
  answer->set_app(capture.app);
  std::string path = capture.path.empty() ? "/" : capture.path;
  bool usable = !capture.body_too_large && IsUtf8(capture.body) &&
                // A literal path only: "{" and "*" would make a pattern of it.
                path.find_first_of("{}*") == std::string::npos && PathPattern::Compile(path).ok() &&
                !capture.method.empty() &&
                std::all_of(capture.method.begin(), capture.method.end(),
                            [](char c) { return c >= 'A' && c <= 'Z'; }) &&
                capture.status >= 100 && capture.status <= 599;
  if (usable) {
    v1::Mock* mock = answer->mutable_mock();
    mock->set_method(capture.method);
    mock->set_path(path);
    mock->set_status(capture.status);
    std::string content_type;
    for (const auto& [name, value] : capture.headers) {
      if (name == "Content-Type") content_type = value;
      v1::MockHeader* h = mock->add_headers();
      h->set_name(name);
      h->set_value(value);
    }
    nlohmann::json json = IsJsonType(content_type) && !capture.body.empty()
                              ? nlohmann::json::parse(capture.body, nullptr, false)
                              : nlohmann::json(nlohmann::json::value_t::discarded);
    if (!json.is_discarded()) {
      mock->set_json(json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
      mock->set_text(capture.body);
    }
  }
  Sink sink;
  {
    absl::MutexLock lock(&mu_);
    sink = sink_;
  }
  if (sink) sink(std::move(message));
}

}  // namespace valet
