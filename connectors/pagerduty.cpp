#include "connectors/pagerduty.h"

#include "stream/json_writer.h"

namespace sw {

std::string_view pagerduty_severity(std::string_view severity) {
  if (severity == "emergency" || severity == "critical") return "critical";
  if (severity == "warning") return "warning";
  return "info";
}

namespace {

void url_encode(std::string& out, std::string_view s) {
  static const char* const kHex = "0123456789ABCDEF";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
}

}  // namespace

std::string expand_link(const std::string& tmpl, const DeliveryAlert& a) {
  std::string out;
  for (size_t i = 0; i < tmpl.size();) {
    if (tmpl[i] == '{') {
      size_t end = tmpl.find('}', i);
      if (end != std::string::npos) {
        std::string_view name(tmpl.data() + i + 1, end - i - 1);
        const std::string* v = nullptr;
        if (name == "id")
          v = &a.id;
        else if (name == "type")
          v = &a.type;
        else if (name == "store")
          v = &a.store;
        else if (name == "sku")
          v = &a.sku;
        else if (name == "series")
          v = &a.series;
        else if (name == "severity")
          v = &a.severity;
        if (v != nullptr) {
          url_encode(out, *v);
          i = end + 1;
          continue;
        }
      }
    }
    out += tmpl[i++];
  }
  return out;
}

std::optional<HttpRequest> PagerDutyProtocol::build(const DeliveryAlert& a, int64_t now_ms) const {
  HttpRequest req;
  req.url = opt_.url;
  req.headers = {"Content-Type: application/json"};
  JsonWriter w(req.body);
  w.begin_object();
  w.field("routing_key", opt_.routing_key);
  w.field("event_action", a.resolved() ? "resolve" : "trigger");
  w.field("dedup_key", a.id);
  if (!a.resolved()) {
    std::string summary = a.summary.empty() ? a.type + " " + a.store + " " + a.sku : a.summary;
    if (summary.size() > 1024) summary.resize(1024);  // PagerDuty's limit
    w.key("payload").begin_object();
    w.field("summary", summary);
    w.field("source", !a.store.empty() ? a.store : !a.series.empty() ? a.series : opt_.source);
    w.field("severity", pagerduty_severity(a.severity));
    w.key("timestamp").time_value(a.time_ms != 0 ? a.time_ms : now_ms);
    if (!a.sku.empty() || !a.series.empty()) w.field("component", a.sku.empty() ? a.series : a.sku);
    if (!a.store.empty()) w.field("group", a.store);
    w.field("class", a.type);
    w.key("custom_details").raw(a.details_json);
    w.end_object();
    if (!opt_.link_template.empty()) {
      w.key("links").begin_array().begin_object();
      w.field("href", expand_link(opt_.link_template, a));
      w.field("text", "shelfwatch");
      w.end_object().end_array();
    }
    w.field("client", "shelfwatch");
  }
  w.end_object();
  return req;
}

Classification PagerDutyProtocol::classify(const Result<HttpResponse>& response) const {
  // PagerDuty answers 202 on success, 400 for an invalid event (never succeeds on retry),
  // 429 when the routing key's rate limit is exceeded and 5xx on its own trouble.
  return classify_http(response);
}

}  // namespace sw
