#!/usr/bin/env bash
# `shelfwatch simulate` end to end: generate and run a small stream, then a what-if from the
# checkpoint as a table and as JSON, the same for the same seed, and errors that name the fix.
set -euo pipefail
sw=${1:?usage: simulate_test.sh path/to/shelfwatch}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }

"$sw" simulate --help | grep "example" > /dev/null || fail "simulate --help has no example"
"$sw" gen --stores 2 --skus 10 --days 35 --seed 3 --out events.jsonl > /dev/null 2>&1
cat > run.yaml <<'Y'
source: {kind: file, file: {path: events.jsonl}}
state: {dir: state}
sinks: {file: {dir: out}}
metrics: {listen: "off"}
Y
"$sw" run --config run.yaml --quiet > /dev/null 2>&1
[[ -s out/price-triggers.jsonl ]] || fail "no price triggers"
grep -q '"type":"price"' out/price-triggers.jsonl || fail "trigger type"
grep -q '"approval":"' out/price-triggers.jsonl || fail "trigger approval"

key=$(head -1 out/price-triggers.jsonl | sed 's/.*"store":"\([^"]*\)","sku":"\([^"]*\)".*/\1 \2/')
read -r store sku <<< "$key"
table=$("$sw" simulate --config run.yaml --state state --store "$store" --sku "$sku" --price 1.99 --days 7 --runs 300)
grep -q "what-if" <<< "$table" || fail "table: $table"
a=$("$sw" simulate --config run.yaml --state state --store "$store" --sku "$sku" --price 1.99 --days 7 --runs 300 --json --seed 5)
b=$("$sw" simulate --config run.yaml --state state --store "$store" --sku "$sku" --price 1.99 --days 7 --runs 300 --json --seed 5)
[[ "$a" == "$b" ]] || fail "not deterministic for a seed"
for k in '"current":' '"proposed":' '"units":' '"revenue":' '"margin":' '"stockout_probability":' '"elasticity_se":'; do
  grep -q "$k" <<< "$a" || fail "json lacks $k: $a"
done

set +e
msg=$("$sw" simulate --config run.yaml --state state --store "$store" --sku "$sku" --price 0 2>&1); rc=$?
[[ $rc -eq 2 ]] && grep -q -- "--price must be a positive number" <<< "$msg" || fail "bad price: rc $rc $msg"
msg=$("$sw" simulate --config run.yaml --state state --store NOPE --sku "$sku" --price 2 2>&1); rc=$?
[[ $rc -eq 1 ]] && grep -q "no price state" <<< "$msg" || fail "unknown key: rc $rc $msg"
msg=$("$sw" simulate --config run.yaml --state state --store "$store" --sku "$sku" --price 2 --days 0 2>&1); rc=$?
[[ $rc -eq 2 ]] && grep -q -- "--days" <<< "$msg" || fail "bad days: rc $rc $msg"
set -e
echo "simulate_e2e: 1 passed, 0 failed"
