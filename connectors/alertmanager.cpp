#include "connectors/alertmanager.h"

#include <algorithm>

#include "connectors/pagerduty.h"
#include "stream/json_writer.h"

namespace sw {

HttpRequest AlertmanagerProtocol::request() const {
  HttpRequest req;
  std::string base = opt_.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  req.url = base + "/api/v2/alerts";
  req.headers = {"Content-Type: application/json"};
  if (!opt_.bearer_token.empty())
    req.headers.push_back("Authorization: Bearer " + opt_.bearer_token);
  return req;
}

void AlertmanagerProtocol::write_alert(std::string& out, const DeliveryAlert& a,
                                       int64_t now_ms) const {
  JsonWriter w(out);
  w.begin_object();
  w.key("labels").begin_object();
  w.field("alertname", a.type);
  w.field("severity", a.severity);
  if (!a.store.empty()) w.field("store", a.store);
  if (!a.sku.empty()) w.field("sku", a.sku);
  if (!a.series.empty()) w.field("series", a.series);
  w.field("source", "shelfwatch");
  w.end_object();
  w.key("annotations").begin_object();
  if (!a.summary.empty()) w.field("summary", a.summary);
  w.field("alert_id", a.id);
  w.field("details", a.details_json);
  if (a.time_ms != 0) w.key("event_time").time_value(a.time_ms);
  w.end_object();
  // Event time can be ahead of the wall clock (replays, generated data); Alertmanager rejects
  // startsAt after endsAt, so start no later than now.
  int64_t starts = a.time_ms != 0 ? std::min(a.time_ms, now_ms) : now_ms;
  int64_t ends = a.resolved() ? now_ms : now_ms + opt_.ends_at_factor * opt_.resend_interval_ms;
  w.key("startsAt").time_value(starts);
  w.key("endsAt").time_value(std::max(ends, starts));
  if (!opt_.link_template.empty()) w.field("generatorURL", expand_link(opt_.link_template, a));
  w.end_object();
}

std::optional<HttpRequest> AlertmanagerProtocol::build(const DeliveryAlert& a,
                                                       int64_t now_ms) const {
  HttpRequest req = request();
  // assign(1, '[') rather than = "[": GCC 12 at -O3 reports a -Wrestrict false positive inside
  // std::string's copy of a literal (GCC bug 105329).
  req.body.assign(1, '[');
  write_alert(req.body, a, now_ms);
  req.body += "]";
  return req;
}

std::optional<HttpRequest> AlertmanagerProtocol::build_resend(
    const std::vector<DeliveryAlert>& firing, int64_t now_ms) const {
  if (firing.empty()) return std::nullopt;
  HttpRequest req = request();
  // assign(1, '[') rather than = "[": GCC 12 at -O3 reports a -Wrestrict false positive inside
  // std::string's copy of a literal (GCC bug 105329).
  req.body.assign(1, '[');
  for (size_t i = 0; i < firing.size(); ++i) {
    if (i > 0) req.body += ',';
    write_alert(req.body, firing[i], now_ms);
  }
  req.body += "]";
  return req;
}

Classification AlertmanagerProtocol::classify(const Result<HttpResponse>& response) const {
  // Alertmanager: 200 accepted, 400 invalid alerts (permanent), 5xx transient.
  return classify_http(response);
}

}  // namespace sw
