#pragma once
// Slack incoming webhooks: one message per alert with Block Kit `blocks` and a plain `text`
// fallback (severity, summary, key figures, a link). Resolved alerts post a short resolved
// note, or nothing (`resolved: none`); incoming webhooks cannot thread or edit messages, so
// thread updates would need the Web API (chat.postMessage with a bot token), not done here.
// Pacing (1 message/s per webhook) is the worker's token bucket; 429 honours Retry-After.

#include <string>

#include "connectors/delivery.h"

namespace sw {

struct SlackOptions {
  std::string webhook_url;  // secret
  std::string link_template;
  bool resolved_note = true;
  size_t max_figures = 6;
};

class SlackProtocol final : public DeliveryProtocol {
 public:
  explicit SlackProtocol(SlackOptions opt) : opt_(std::move(opt)) {}
  std::string_view kind() const override { return "slack"; }
  std::optional<HttpRequest> build(const DeliveryAlert& alert, int64_t now_ms) const override;
  Classification classify(const Result<HttpResponse>& response) const override;

 private:
  SlackOptions opt_;
};

//! "name: value" pairs of the scalar members of a details object, in order, at most `max`.
std::vector<std::pair<std::string, std::string>> key_figures(std::string_view details_json,
                                                             size_t max);

}  // namespace sw
