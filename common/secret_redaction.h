// App secrets (an app's authKey, a consumer's key) in control-plane answers and applies.
//
// Outbound, every answer that shows an app config (GetApp, ListApps, the REST admin, valetctl's
// output of those) carries each secret as a marker naming the first 8 hex digits of its SHA-256:
//   "authKey": "<redacted sha256:ab12cd34>"
// enough to tell two keys apart, never enough to guess one. keySha256 is not secret and stays.
//
// Inbound, an applied config may carry such a marker back (get, edit, apply): the marker stands for
// the secret stored for the same app (authKey) or for the consumer of the same name of that app,
// and is replaced by it when the stored secret's digest starts with the marker's digits. A marker
// that stands for nothing stays as it is, and validation refuses it (app_config_validation.h), so a
// marker never reaches a conf file or a data plane.
//
// Threading: pure functions.
#ifndef VALET_COMMON_SECRET_REDACTION_H_
#define VALET_COMMON_SECRET_REDACTION_H_

#include <string>
#include <string_view>

#include "valet/v1/config.pb.h"

namespace valet {

// "<redacted sha256:XXXXXXXX>" for `secret` (the first 8 hex digits of its SHA-256).
std::string RedactedMarker(std::string_view secret);

// True if `value` has the form of a marker ("<redacted sha256:" 8 lower-case hex digits ">").
bool IsRedactedMarker(std::string_view value);

// `app` with its authKey and every consumer key replaced by markers (empty ones stay empty).
v1::AppConfig RedactSecrets(const v1::AppConfig& app);

// Replaces, in `app`, each marker by the stored secret it stands for: the authKey of `stored` (the
// stored app of the same name; null for a new app) and the key of the stored consumer of the same
// name. Markers that stand for no stored secret are left for validation to refuse.
void RestoreRedactedSecrets(const v1::AppConfig* stored, v1::AppConfig& app);

}  // namespace valet

#endif  // VALET_COMMON_SECRET_REDACTION_H_
