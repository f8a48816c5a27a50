#include "dataplane/auth/auth_stage.h"

#include <iterator>

#include "boost/beast/http/field.hpp"
#include "common/app_config_defaults.h"
#include "dataplane/pipeline/exchange.h"

namespace valet {

StageResult AuthStage::Run(Exchange& exchange, Downstream& /*downstream*/) const {
  auto& request = exchange.request.get();
  const std::string& header = credentials_->header();
  auto presented = request.equal_range(header);
  if (presented.first == presented.second || presented.first->value().empty()) {
    return Refuse(exchange, AuthFailure::kMissing);
  }
  // Two credential headers are ambiguous: which one would the backend read?
  if (std::next(presented.first) != presented.second) {
    return Refuse(exchange, AuthFailure::kInvalid);
  }
  const ConsumerRoute* consumer = credentials_->Find(presented.first->value());
  if (consumer == nullptr) return Refuse(exchange, AuthFailure::kInvalid);

  exchange.consumer = consumer;
  if (!credentials_->forward_header()) request.erase(presented.first);
  // The backend learns who called from the gateway only, never from the client.
  request.erase(kConsumerHeader);
  if (!consumer->name.empty()) request.set(kConsumerHeader, consumer->name);
  return StageResult::Next();
}

StageResult AuthStage::Refuse(Exchange& exchange, AuthFailure why) const {
  stats_->RecordAuthFailure(why);
  exchange.response_fields.Set("WWW-Authenticate", credentials_->challenge());
  const std::string& header = credentials_->header();
  return StageResult::Fail(why == AuthFailure::kMissing ? errors::MissingCredentials(header)
                                                        : errors::InvalidCredentials(header));
}

}  // namespace valet
