#!/usr/bin/env bash
# A checkpoint written by an earlier build restores in this one: resumes the run of
# tests/fixtures/checkpoint_v1 from its state after 4000 lines and requires the outputs of a
# one-shot run of the earlier build, byte for byte (dlq.jsonl without its wall-clock
# ingest_time).
set -euo pipefail
sw=${1:?usage: checkpoint_compat_test.sh path/to/shelfwatch path/to/fixture}
fixture=${2:?usage: checkpoint_compat_test.sh path/to/shelfwatch path/to/fixture}
sw=$(realpath "$sw")
fixture=$(realpath "$fixture")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cd "$work"
# The checkpoint's position is byte 478021 (line 4000). The bytes before it are overwritten
# (newlines kept), so a run that did not resume from the checkpoint dead-letters 4000 lines
# and fails the comparison instead of passing as a fresh one-shot run would.
gzip -dc "$fixture/in.jsonl.gz" > full.jsonl
{ head -c 478021 full.jsonl | tr -c '\n' 'x'; tail -c +478022 full.jsonl; } > in.jsonl
[[ $(wc -c < in.jsonl) -eq $(wc -c < full.jsonl) ]] || fail "input rewrite"
cp -r "$fixture/state-after-4000" state
mkdir out
for f in "$fixture"/out-after-4000/*.jsonl.gz; do
  gzip -dc "$f" > "out/$(basename "$f" .gz)"
done
"$sw" run --quiet --set source.file.path=in.jsonl --set state.dir=state \
  --set sinks.file.dir=out --set metrics.listen=off > run.log 2>&1 ||
  { cat run.log; fail "run failed"; }

for f in alerts forecasts scores late; do
  gzip -dc "$fixture/expected/$f.jsonl.gz" > "expected-$f.jsonl"
  cmp -s "expected-$f.jsonl" "out/$f.jsonl" ||
    { diff "expected-$f.jsonl" "out/$f.jsonl" | head -5; fail "$f.jsonl differs"; }
done
gzip -dc "$fixture/expected/dlq-without-ingest-time.jsonl.gz" > expected-dlq.jsonl
sed 's/"ingest_time":"[^"]*",//' out/dlq.jsonl > dlq.jsonl
cmp -s expected-dlq.jsonl dlq.jsonl ||
  { diff expected-dlq.jsonl dlq.jsonl | head -5; fail "dlq.jsonl differs"; }
[[ -s out/alerts.jsonl && -s out/forecasts.jsonl ]] || fail "no outputs"
echo "checkpoint_v1 restored: outputs identical"
