#!/usr/bin/env bash
# `validate` = `run`'s checks (issue 20): a table of broken configurations (typos at every
# level, wrong types, out-of-range values, bad Kafka properties, bad delivery kinds and URLs,
# bad enum values, a typo in a disabled operator, ...). For each, `validate` and `run` must
# agree: both exit 2 and both name the same key (the expected one). Then valid
# configurations with unused keys (another source kind's, a disabled operator's or sink's):
# both exit 0, print the same "unused because" warnings, and run processes a tiny input.
set -euo pipefail
sw=$1
source "$(dirname "$0")/lib.sh"
e2e_workdir
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

# --version: version, commit, build type and every library (also checked on the installed
# package by deb_install_test.sh).
v=$("$sw" --version)
for want in "^shelfwatch [0-9]+\.[0-9]+\.[0-9]+$" "^commit: [0-9a-f]{12}(-dirty)?$|^commit: unknown$" "^build: " \
  "librdkafka +[0-9]" "RocksDB +[0-9]" "simdjson +[0-9]" "Eigen +[0-9]" "prometheus-cpp +[0-9]" "Boost +[0-9]"; do
  grep -qE "$want" <<< "$v" || fail "--version lacks /$want/: $v"
done

"$sw" gen --stores 2 --skus 3 --days 3 --seed 1 --quiet --out events.jsonl
cat > base.yaml <<'Y'
source:
  kind: file
  file: {path: events.jsonl}
state: {dir: st, checkpoint_interval_ms: 1000}
sinks: {file: {dir: out}}
delivery: exactly_once
pipeline: {out_of_orderness: 5m}
metrics: {listen: "off"}
operators:
  low_stock: {enabled: true, service_level: 0.95}
Y
printf 'source:\n  kind: file\n  kind: kafka\n' > dup.yaml
printf 'source: {kind: file\nstate: [\n' > syntax.yaml
printf 'source:\n  kind: file\n  file: {path: events.jsonl}\nstate: {dir: st}\nsinks: {file: {dir: out}}\noperators:\n  price:\n    enabled: false\n    max_step_pctt: 5\n' > disabled.yaml
export SW_AGREE_TEST_KEY=k123 SW_AGREE_TEST_URL=http://127.0.0.1:9/hook
kafka=(--set source.kind=kafka --set source.kafka.topics=[events] --set source.kafka.stop_at_end=true)
pd=(--set sinks.delivery.endpoints.pd.kind=pagerduty --set sinks.delivery.endpoints.pd.routing_key_env=SW_AGREE_TEST_KEY)
slack=(--set sinks.delivery.endpoints.sl.kind=slack)
am=(--set sinks.delivery.endpoints.am.kind=alertmanager)
pd_off=(--set sinks.delivery.endpoints.pd.enabled=false --set sinks.delivery.endpoints.pd.kind=pagerduty)
# An enabled endpoint in a valid run: a receiver that refuses at once, a short drain.
pd_local=("${pd[@]}" --set sinks.delivery.endpoints.pd.url=http://127.0.0.1:9/enqueue
  --set sinks.delivery.drain_timeout=200ms)

# The key an error names: "config key 'KEY': ...".
named_key() { sed -n "s/.*config key '\([^']*\)'.*/\1/p" <<< "$1" | head -1; }

n_bad=0
bad() {  # bad <expected key> <config file> <shelfwatch args...>
  local key=$1 cfg=$2; shift 2
  local out_v out_r rc_v rc_r
  rm -rf st out
  set +e
  out_v=$("$sw" validate --config "$cfg" "$@" 2>&1 >/dev/null); rc_v=$?
  out_r=$(timeout 30 "$sw" run --quiet --config "$cfg" "$@" 2>&1 >/dev/null); rc_r=$?
  set -e
  [[ $rc_v -eq 2 ]] || fail "validate $* exited $rc_v, not 2: $out_v"
  [[ $rc_r -eq $rc_v ]] || fail "run $* exited $rc_r, validate $rc_v: $out_r"
  local kv kr
  kv=$(named_key "$out_v"); kr=$(named_key "$out_r")
  [[ "$kv" == "$key" ]] || fail "validate $* names '$kv', expected '$key': $out_v"
  [[ "$kr" == "$key" ]] || fail "run $* names '$kr', expected '$key': $out_r"
  grep -q "; " <<< "$out_v" || fail "validate $* gives no fix: $out_v"
  [[ ! -e st && ! -e out ]] || fail "run $* left state or outputs behind"
  n_bad=$((n_bad + 1))
}

# Typos at every level.
bad sourc.kind base.yaml --set sourc.kind=file
bad state.checkpoint_intervl_ms base.yaml --set state.checkpoint_intervl_ms=5
bad source.file.pth base.yaml --set source.file.pth=x.jsonl
bad operators.low_stock.service_levle base.yaml --set operators.low_stock.service_levle=0.9
bad sinks.fille.dir base.yaml --set sinks.fille.dir=o
bad source.kafka.topicz base.yaml "${kafka[@]}" --set source.kafka.topicz=[x]
bad sinks.kafka.topicz.alerts base.yaml --set sinks.kafka.enabled=true --set sinks.kafka.topicz.alerts=x
bad sinks.delivery.endpoints.pd.rate_per_minn base.yaml "${pd[@]}" --set sinks.delivery.endpoints.pd.rate_per_minn=5
# A typo in a disabled operator is still an unknown key (its known keys are only unused).
bad operators.price.max_step_pctt disabled.yaml
bad operators.anomaly.threshold_zz base.yaml --set operators.anomaly.enabled=false --set operators.anomaly.threshold_zz=3
# A typo among another source kind's keys, or a disabled sink's.
bad source.file.pathh base.yaml "${kafka[@]}" --set source.file.pathh=x
bad source.kafka.groupid base.yaml --set source.kafka.groupid=g
bad sinks.kafka.ce_sourse base.yaml --set sinks.kafka.ce_sourse=x
bad operators.pricing base.yaml --set operators.pricing.enabled=true
# Wrong types.
bad state.checkpoint_interval_ms base.yaml --set state.checkpoint_interval_ms=soon
bad source.file.follow base.yaml --set source.file.follow=maybe
bad sinks.kafka.enabled base.yaml --set sinks.kafka.enabled=perhaps
bad state.dir base.yaml --set 'state.dir=[a, b]'
bad pipeline.out_of_orderness base.yaml --set pipeline.out_of_orderness=5parsecs
bad operators.low_stock.service_level base.yaml --set operators.low_stock.service_level=high
# Out-of-range values.
bad state.memory_budget_mb base.yaml --set state.memory_budget_mb=1
bad source.file.chunk_bytes base.yaml --set source.file.chunk_bytes=1
bad pipeline.max_record_bytes base.yaml --set pipeline.max_record_bytes=10
bad operators.price.max_step_pct base.yaml --set operators.price.max_step_pct=1000
bad sinks.delivery.endpoints.pd.burst base.yaml "${pd[@]}" --set sinks.delivery.endpoints.pd.burst=0
# Bad Kafka properties (librdkafka's own check) and settings.
bad kafka.properties.bogus.prop base.yaml "${kafka[@]}" --set kafka.properties.bogus.prop=1
bad source.kafka.properties.fetch.wait.max.ms base.yaml "${kafka[@]}" --set source.kafka.properties.fetch.wait.max.ms=soon
bad sinks.kafka.properties.linger.ms base.yaml --set sinks.kafka.enabled=true --set sinks.kafka.properties.linger.ms=soon
bad source.kafka.topics base.yaml --set source.kind=kafka
# Bad enum values.
bad delivery base.yaml --set delivery=twice
bad source.kind base.yaml --set source.kind=http
bad source.kafka.start_from base.yaml "${kafka[@]}" --set source.kafka.start_from=yesterday
bad source.kafka.mode base.yaml "${kafka[@]}" --set source.kafka.mode=broadcast
bad sinks.delivery.endpoints.pd.kind base.yaml --set sinks.delivery.endpoints.pd.kind=pagerdutty
bad sinks.delivery.endpoints.sl.resolved base.yaml "${slack[@]}" \
  --set sinks.delivery.endpoints.sl.webhook_url_env=SW_AGREE_TEST_URL --set sinks.delivery.endpoints.sl.resolved=maybe
# Bad delivery URLs and secrets.
bad sinks.delivery.endpoints.pd.url base.yaml "${pd[@]}" --set sinks.delivery.endpoints.pd.url=ftp://x/y
bad sinks.delivery.endpoints.am.urls base.yaml "${am[@]}" --set 'sinks.delivery.endpoints.am.urls=[notaurl]'
bad sinks.delivery.endpoints.am.urls base.yaml "${am[@]}"
bad sinks.delivery.endpoints.pd.routing_key_env base.yaml --set sinks.delivery.endpoints.pd.kind=pagerduty \
  --set sinks.delivery.endpoints.pd.routing_key_env=SW_AGREE_TEST_UNSET_VARIABLE
# Delivery endpoints (issue 20's example: kind `pagerdutty` with `rate_per_minn`; the kind is
# checked first). A disabled endpoint's keys are read too, so a typo there is still unknown, and
# a key of no endpoint kind on an enabled endpoint is unknown, with the closest known key.
bad sinks.delivery.endpoints.pd.kind base.yaml --set sinks.delivery.endpoints.pd.kind=pagerdutty \
  --set sinks.delivery.endpoints.pd.rate_per_minn=5
bad sinks.delivery.endpoints.pd.rate_per_minn base.yaml "${pd_off[@]}" --set sinks.delivery.endpoints.pd.rate_per_minn=5
bad sinks.delivery.endpoints.sl.webhook_url_envv base.yaml "${slack[@]}" --set sinks.delivery.endpoints.sl.enabled=no \
  --set sinks.delivery.endpoints.sl.webhook_url_envv=SW_AGREE_TEST_URL
bad sinks.delivery.endpoints.am.resend_intervall base.yaml "${am[@]}" --set sinks.delivery.endpoints.am.enabled=false \
  --set sinks.delivery.endpoints.am.resend_intervall=1m
bad sinks.delivery.endpoints.pd.webhook_url_envv base.yaml "${pd[@]}" --set sinks.delivery.endpoints.pd.webhook_url_envv=SW_AGREE_TEST_URL
bad sinks.delivery.endpoints.pd.enabled base.yaml "${pd[@]}" --set sinks.delivery.endpoints.pd.enabled=perhaps
bad sinks.delivery.drain_timout base.yaml --set sinks.delivery.drain_timout=1s
bad sinks.delivery.include_price_trigger base.yaml --set sinks.delivery.include_price_trigger=true
bad sinks.delivery.include_price_triggers base.yaml --set sinks.delivery.include_price_triggers=sometimes
bad "sinks.delivery.routes[0].too" base.yaml "${pd[@]}" --set 'sinks.delivery.routes=[{type: stockout, too: [pd]}]'
bad "sinks.delivery.routes[0].to" base.yaml "${pd[@]}" --set 'sinks.delivery.routes=[{type: stockout, to: [pdd]}]'
bad sinks.delivery.default_route base.yaml "${pd[@]}" --set 'sinks.delivery.default_route=[oncall]'
# Server address, YAML structure.
bad metrics.listen base.yaml --set metrics.listen=nonsense
bad metrics.listen base.yaml --set metrics.listen=127.0.0.1:99999
bad source.kind dup.yaml
bad "(file)" syntax.yaml
echo "validate_agrees: $n_bad broken configurations: validate and run agree (exit 2, same key)"
[[ $n_bad -ge 30 ]] || fail "the table has $n_bad entries, fewer than 30"

# Valid configurations: both exit 0 with the same warnings; run processes the tiny input.
lines=$(grep -c . events.jsonl)
n_good=0
good() {  # good <expected warning key or -> <config file> <shelfwatch args...>
  local key=$1 cfg=$2; shift 2
  local w_v w_r
  rm -rf st out
  w_v=$("$sw" validate --config "$cfg" "$@" 2>&1 >/dev/null) || fail "validate $* failed: $w_v"
  w_r=$("$sw" run --quiet --config "$cfg" "$@" 2>&1 >/dev/null) || fail "run $* failed: $w_r"
  w_v=$(grep "warning:" <<< "$w_v" | sed 's/^shelfwatch validate: //' || true)
  w_r=$(grep "warning:" <<< "$w_r" | sed 's/^shelfwatch run: //' || true)
  [[ "$w_v" == "$w_r" ]] || fail "warnings differ for $*: validate '$w_v' run '$w_r'"
  if [[ $key != - ]]; then
    grep -qF "config key '$key' is unused because" <<< "$w_v" || fail "no unused warning for $key: $w_v"
  else
    [[ -z "$w_v" ]] || fail "unexpected warnings: $w_v"
  fi
  "$sw" inspect --state st | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['accounting']['read']==$lines, d['accounting']" \
    || fail "run $* did not read the input"
  n_good=$((n_good + 1))
}
good - base.yaml
good source.kafka.group_id base.yaml --set source.kafka.group_id=g --set source.kafka.topics=[x]
good kafka.brokers base.yaml --set kafka.brokers=b1:9092
good sinks.kafka.topics.alerts base.yaml --set sinks.kafka.topics.alerts=a
good operators.price.max_step_pct base.yaml --set operators.price.enabled=false --set operators.price.max_step_pct=5
# Delivery endpoints: a disabled endpoint's keys (a placeholder URL and an unset secret
# included: its values are not checked) and another endpoint kind's keys are unused.
good sinks.delivery.endpoints.pd.url base.yaml "${pd_off[@]}" --set sinks.delivery.endpoints.pd.url=ftp://placeholder \
  --set sinks.delivery.endpoints.pd.routing_key_env=SW_AGREE_TEST_UNSET_VARIABLE
good sinks.delivery.endpoints.pd.kind base.yaml "${pd_off[@]}" --set sinks.delivery.endpoints.pd.kind=pagerdutty
good sinks.delivery.endpoints.am.urls base.yaml "${am[@]}" --set sinks.delivery.endpoints.am.enabled=false \
  --set 'sinks.delivery.endpoints.am.urls=[notaurl]'
good sinks.delivery.endpoints.pd.webhook_url_env base.yaml "${pd_local[@]}" \
  --set sinks.delivery.endpoints.pd.webhook_url_env=SW_AGREE_TEST_URL
good sinks.delivery.endpoints.pd.resend_interval base.yaml "${pd_local[@]}" \
  --set sinks.delivery.endpoints.pd.resend_interval=1m
w=$("$sw" validate --config base.yaml "${kafka[@]}" --set source.file.follow=true 2>&1 >/dev/null) || fail "file keys with kafka: $w"
grep -qF "config key 'source.file.path' is unused because source.kind=kafka" <<< "$w" || fail "no unused warning: $w"
echo "validate_agrees: $n_good valid configurations: validate and run both succeed with the same warnings"
