#pragma once
// Request checks of the metrics server (connectors/metrics.h), as pure functions: no I/O, no
// allocation, callable on any bytes (the HTTP-request fuzz target calls them directly).

#include <string_view>

namespace sw::http {

//! Splits "/state/<store>/<sku>" (already URL-decoded) into its two non-empty names; false
//! for any other shape (missing or empty part, extra segment).
bool parse_state_path(std::string_view path, std::string_view& store, std::string_view& sku);

//! True for the paths that need the bearer token when one is configured: /state..., /alerts,
//! /admin/... (/metrics, /healthz and /readyz stay open).
bool path_requires_token(std::string_view path);

//! True when `authorization` (the Authorization header value, "" when absent) is
//! "Bearer <token>" with exactly `token` (scheme case-insensitive, one or more spaces).
//! Compares in time that depends only on the lengths of the inputs, never on where the first
//! difference is. An empty `token` never matches.
bool bearer_token_matches(std::string_view authorization, std::string_view token);

}  // namespace sw::http
