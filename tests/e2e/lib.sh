# Shared helpers for the end-to-end scripts (source it; needs bash and python3).
#   e2e_workdir         creates $work and a trap that stops every pid in $pids, then removes it
#   free_port           prints a free loopback TCP port
#   wait_for S CMD...   retries CMD every 0.5 s for up to S seconds; fails if it never succeeds
#   kill_after MS CMD...  runs CMD, sends it SIGKILL after MS milliseconds unless it ended
#                       first, and returns only once it is reaped (its exit status: 137 if
#                       killed). Unlike `timeout -s KILL`, which kills its own process group
#                       and itself without waiting, the next command never races a dying
#                       process for its files or the RocksDB LOCK.

e2e_workdir() {
  work=$(mktemp -d)
  pids=()
  trap e2e_cleanup EXIT
}

e2e_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then return 1; fi
    sleep 0.5
  done
}

kill_after() {
  local ms=$1
  shift
  "$@" &
  local pid=$! deadline=$(($(date +%s%N) + ms * 1000000))
  while kill -0 "$pid" 2>/dev/null && (($(date +%s%N) < deadline)); do sleep 0.005; done
  kill -KILL "$pid" 2>/dev/null || true
  local rc=0
  wait "$pid" || rc=$?
  return "$rc"
}
