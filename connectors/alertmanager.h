#pragma once
// Alertmanager API v2 (`POST <base>/api/v2/alerts`). Labels identify the alert (alertname =
// type, severity, store, sku or series); volatile values go to annotations (summary, alert_id,
// details, time). A firing alert is posted with endsAt = now + ends_at_factor x resend
// interval and re-posted every resend interval (EndpointWorker's firing set), so the alerts
// of a dead shelfwatch expire by themselves; a resolved alert is posted with endsAt = now.
// Each Alertmanager replica is its own endpoint (own queue, own outbox entries), so every
// replica receives every post.

#include <string>

#include "connectors/delivery.h"

namespace sw {

struct AlertmanagerOptions {
  std::string base_url;      // "http://127.0.0.1:9093"
  std::string bearer_token;  // optional secret
  int64_t resend_interval_ms = 60000;
  int64_t ends_at_factor = 4;
  std::string link_template;  // generatorURL
};

class AlertmanagerProtocol final : public DeliveryProtocol {
 public:
  explicit AlertmanagerProtocol(AlertmanagerOptions opt) : opt_(std::move(opt)) {}
  std::string_view kind() const override { return "alertmanager"; }
  std::optional<HttpRequest> build(const DeliveryAlert& alert, int64_t now_ms) const override;
  Classification classify(const Result<HttpResponse>& response) const override;
  int64_t resend_interval_ms() const override { return opt_.resend_interval_ms; }
  std::optional<HttpRequest> build_resend(const std::vector<DeliveryAlert>& firing,
                                          int64_t now_ms) const override;

 private:
  HttpRequest request() const;
  void write_alert(std::string& out, const DeliveryAlert& a, int64_t now_ms) const;
  AlertmanagerOptions opt_;
};

}  // namespace sw
