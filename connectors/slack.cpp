#include "connectors/slack.h"

#include <simdjson.h>

#include "connectors/pagerduty.h"
#include "stream/json_writer.h"

namespace sw {

std::vector<std::pair<std::string, std::string>> key_figures(std::string_view details_json,
                                                             size_t max) {
  std::vector<std::pair<std::string, std::string>> out;
  thread_local simdjson::ondemand::parser parser;  // reused: no allocation per alert
  simdjson::padded_string padded(details_json);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS) return out;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return out;
  for (auto field : obj) {
    if (out.size() >= max) break;
    std::string_view k;
    simdjson::ondemand::value v;
    if (field.unescaped_key().get(k) != simdjson::SUCCESS) break;
    if (field.value().get(v) != simdjson::SUCCESS) break;
    simdjson::ondemand::json_type t;
    if (v.type().get(t) != simdjson::SUCCESS) break;
    std::string text;
    if (t == simdjson::ondemand::json_type::string) {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS) break;
      text.assign(s);
    } else if (t == simdjson::ondemand::json_type::number ||
               t == simdjson::ondemand::json_type::boolean) {
      std::string_view raw = v.raw_json_token();
      while (!raw.empty() && std::isspace(static_cast<unsigned char>(raw.back())))
        raw.remove_suffix(1);
      text.assign(raw);
    } else {
      continue;  // nested objects/arrays stay in the alert JSON, not in the message
    }
    out.emplace_back(std::string(k), std::move(text));
  }
  return out;
}

namespace {

std::string_view severity_emoji(std::string_view s) {
  if (s == "emergency") return ":rotating_light:";
  if (s == "critical") return ":red_circle:";
  if (s == "warning") return ":large_orange_circle:";
  return ":large_blue_circle:";
}

std::string upper(std::string_view s) {
  std::string u(s);
  for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

// Slack mrkdwn needs &, < and > escaped.
std::string mrkdwn(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else
      out += c;
  }
  return out;
}

std::string subject(const DeliveryAlert& a) {
  if (!a.series.empty()) return a.series;
  if (!a.store.empty() && !a.sku.empty()) return a.sku + " at " + a.store;
  return a.store.empty() ? a.sku : a.store;
}

}  // namespace

std::optional<HttpRequest> SlackProtocol::build(const DeliveryAlert& a, int64_t now_ms) const {
  (void)now_ms;
  if (a.resolved() && !opt_.resolved_note) return std::nullopt;
  HttpRequest req;
  req.url = opt_.webhook_url;
  req.headers = {"Content-Type: application/json"};
  std::string link = opt_.link_template.empty() ? "" : expand_link(opt_.link_template, a);
  std::string text;
  std::string headline;
  if (a.resolved()) {
    headline = ":white_check_mark: *RESOLVED* " + a.type + " — " + mrkdwn(subject(a));
    text = "RESOLVED " + a.type + " " + subject(a) + (a.summary.empty() ? "" : ": " + a.summary);
  } else {
    headline = std::string(severity_emoji(a.severity)) + " *" + upper(a.severity) + "* " + a.type +
               " — " + mrkdwn(a.summary.empty() ? subject(a) : a.summary);
    text = upper(a.severity) + " " + a.type + ": " + (a.summary.empty() ? subject(a) : a.summary);
  }
  auto figures =
      a.resolved() ? decltype(key_figures("", 0)){} : key_figures(a.details_json, opt_.max_figures);
  for (const auto& [k, v] : figures) text += " | " + k + "=" + v;
  if (!link.empty()) text += " " + link;
  std::string context = "alert " + a.id + (a.time_ms != 0 ? " · " + format_time(a.time_ms) : "");

  JsonWriter w(req.body);
  w.begin_object();
  w.field("text", text);
  w.key("blocks").begin_array();
  w.begin_object().field("type", "section");
  w.key("text").begin_object().field("type", "mrkdwn").field("text", headline).end_object();
  w.end_object();
  if (!figures.empty()) {
    w.begin_object().field("type", "section");
    w.key("fields").begin_array();
    for (const auto& [k, v] : figures) {
      w.begin_object().field("type", "mrkdwn").field("text", "*" + mrkdwn(k) + "*\n" + mrkdwn(v));
      w.end_object();
    }
    w.end_array().end_object();
  }
  if (!link.empty() && !a.resolved()) {
    w.begin_object().field("type", "actions");
    w.key("elements").begin_array().begin_object().field("type", "button");
    w.key("text").begin_object().field("type", "plain_text").field("text", "Open").end_object();
    w.field("url", link);
    w.end_object().end_array().end_object();
  }
  w.begin_object().field("type", "context");
  w.key("elements").begin_array();
  w.begin_object().field("type", "mrkdwn").field("text", mrkdwn(context)).end_object();
  w.end_array().end_object();
  w.end_array();
  w.end_object();
  return req;
}

Classification SlackProtocol::classify(const Result<HttpResponse>& response) const {
  // Slack: 200 "ok"; 400 invalid_payload, 403 action_prohibited, 404 channel_not_found,
  // 410 channel_is_archived are permanent; 429 carries Retry-After; 5xx is transient.
  return classify_http(response);
}

}  // namespace sw
