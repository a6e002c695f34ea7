#pragma once
// PagerDuty Events API v2: `trigger` for firing alerts and `resolve` for resolved ones, with
// dedup_key = alert id, so a re-sent trigger never opens a second incident. Responses: 202 =
// delivered, 400 = permanent (recorded, not retried), 429 / 5xx / network errors = retried.

#include <memory>
#include <string>

#include "connectors/delivery.h"

namespace sw {

struct PagerDutyOptions {
  std::string url = "https://events.pagerduty.com/v2/enqueue";
  std::string routing_key;            // secret
  std::string source = "shelfwatch";  // payload.source when the alert has no store or series
  std::string link_template;          // optional; {id} {type} {store} {sku} {series} substituted
};

class PagerDutyProtocol final : public DeliveryProtocol {
 public:
  explicit PagerDutyProtocol(PagerDutyOptions opt) : opt_(std::move(opt)) {}
  std::string_view kind() const override { return "pagerduty"; }
  std::optional<HttpRequest> build(const DeliveryAlert& alert, int64_t now_ms) const override;
  Classification classify(const Result<HttpResponse>& response) const override;

 private:
  PagerDutyOptions opt_;
};

//! PagerDuty severity: emergency and critical -> critical, warning -> warning, else info.
std::string_view pagerduty_severity(std::string_view severity);

//! Substitutes {id} {type} {store} {sku} {series} {severity} (URL-encoded) in `tmpl`.
std::string expand_link(const std::string& tmpl, const DeliveryAlert& alert);

}  // namespace sw
