#!/usr/bin/env bash
# The .deb (issue 20): build it with CPack from this build tree, install it with apt-get on a
# fresh Debian 12 (a `debootstrap --variant=minbase bookworm` chroot: nothing but the
# essential packages, so apt must fetch every runtime dependency the package declares), then
# in the chroot: `shelfwatch --version`, `validate` of the installed configurations, the
# `shelfwatch` system user and its state directory, the unit and data files in place, a
# tiny pipeline run as that user; then purge. Needs root, debootstrap, dpkg-dev and a Debian
# mirror (SHELFWATCH_DEBIAN_MIRROR, default http://deb.debian.org/debian); skipped (77)
# without them. Everything (chroot, package) is removed at exit.
set -euo pipefail
build=$1
mirror=${SHELFWATCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
source "$(dirname "$0")/lib.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root (debootstrap, chroot)"
command -v debootstrap > /dev/null || skip "debootstrap not installed (E2E deps of scripts/install-deps.sh)"
command -v dpkg-shlibdeps > /dev/null || skip "dpkg-dev not installed (E2E deps of scripts/install-deps.sh)"
command -v cpack > /dev/null || skip "cpack not installed"
curl -sfI --max-time 20 "$mirror/dists/bookworm/Release" > /dev/null || skip "Debian mirror $mirror unreachable"

e2e_workdir
root=$work/bookworm
# The chroot may have /proc mounted by a maintainer script; unmount before removing.
trap 'umount -R "$root/proc" 2>/dev/null || true; e2e_cleanup' EXIT
t0=$SECONDS

# 1. The package.
cpack -G DEB -B "$work/pkg" --config "$build/CPackConfig.cmake" > "$work/cpack.log" 2>&1 ||
  { tail -30 "$work/cpack.log"; fail "cpack failed"; }
deb=$(ls "$work"/pkg/shelfwatch_*.deb)
depends=$(dpkg-deb -f "$deb" Depends)
echo "package: $(basename "$deb"), $(du -k "$deb" | cut -f1) KB; Depends: $depends"
# RocksDB is linked statically (Debian's CMake package exports the archive): its compression
# libraries are the dependencies it brings.
for lib in librdkafka libcurl libyaml-cpp libprometheus-cpp-core libsnappy libzstd passwd; do
  grep -q "$lib" <<< "$depends" || fail "Depends lacks $lib: $depends"
done
dpkg-deb -c "$deb" > "$work/contents"
grep -q "./usr/bin/shelfwatch$" "$work/contents" || fail "no /usr/bin/shelfwatch in the package"
t_pkg=$((SECONDS - t0))

# 2. A fresh Debian 12.
debootstrap --variant=minbase bookworm "$root" "$mirror" > "$work/debootstrap.log" 2>&1 ||
  { tail -30 "$work/debootstrap.log"; fail "debootstrap failed"; }
t_boot=$((SECONDS - t0 - t_pkg))
cp /etc/resolv.conf "$root/etc/resolv.conf"
[[ ! -e "$root/usr/bin/shelfwatch" ]] || fail "the chroot is not fresh"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

# 3. Install: apt resolves the declared dependencies from the mirror.
cp "$deb" "$root/tmp/shelfwatch.deb"
in_root apt-get update -q > "$work/apt.log" 2>&1 || { tail "$work/apt.log"; fail "apt-get update"; }
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  /tmp/shelfwatch.deb >> "$work/apt.log" 2>&1 || { tail -30 "$work/apt.log"; fail "apt-get install"; }
t_inst=$((SECONDS - t0 - t_pkg - t_boot))
[[ $(in_root dpkg-query -W -f='${Status}' shelfwatch) == "install ok installed" ]] || fail "dpkg: not installed"

# 4. The installed binary and files.
version=$(in_root shelfwatch --version) || fail "shelfwatch --version failed in the chroot"
echo "$version" | head -3
grep -q "^shelfwatch [0-9]" <<< "$version" && grep -q "librdkafka" <<< "$version" &&
  grep -q "RocksDB" <<< "$version" || fail "--version output: $version"
in_root shelfwatch validate --config /etc/shelfwatch/shelfwatch.yaml > /dev/null ||
  fail "validate of /etc/shelfwatch/shelfwatch.yaml"
in_root shelfwatch validate --config /usr/share/shelfwatch/examples/demo.yaml > /dev/null ||
  fail "validate of the installed demo example"
for f in /lib/systemd/system/shelfwatch.service /usr/share/shelfwatch/dashboards/shelfwatch-overview.json \
  /usr/share/shelfwatch/prometheus/shelfwatch.rules.yml /usr/share/doc/shelfwatch/README.md; do
  [[ -f "$root$f" ]] || fail "$f not installed"
done
grep -qx "/etc/shelfwatch/shelfwatch.yaml" "$root/var/lib/dpkg/info/shelfwatch.conffiles" ||
  fail "the configuration is not a conffile"
user=$(in_root getent passwd shelfwatch) || fail "no shelfwatch user"
uid=$(cut -d: -f3 <<< "$user")
[[ $uid -lt 1000 && $user == *:/var/lib/shelfwatch:/usr/sbin/nologin ]] || fail "not a system user: $user"
owner=$(in_root stat -c %U:%a /var/lib/shelfwatch)  # the chroot's user names, not the host's
[[ $owner == shelfwatch:750 ]] || fail "/var/lib/shelfwatch: $owner"

# 5. A tiny pipeline as the service user, in its state directory.
in_root setpriv --reuid=shelfwatch --regid=shelfwatch --clear-groups sh -c '
  cd /var/lib/shelfwatch &&
  shelfwatch gen --stores 2 --skus 3 --days 3 --seed 1 --quiet --out ev.jsonl &&
  shelfwatch run --quiet --set source.file.path=ev.jsonl --set state.dir=st --set sinks.file.dir=out \
    --set metrics.listen=off' > "$work/run.log" 2>&1 || { cat "$work/run.log"; fail "run as shelfwatch"; }
grep -q "balanced" "$work/run.log" || fail "run summary: $(cat "$work/run.log")"

# 6. Purge removes the binary and the configuration (state and user are kept, as documented).
in_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q shelfwatch >> "$work/apt.log" 2>&1 ||
  fail "apt-get purge"
[[ ! -e "$root/usr/bin/shelfwatch" && ! -e "$root/etc/shelfwatch/shelfwatch.yaml" ]] || fail "purge left files"
echo "deb install test: package ${t_pkg}s, debootstrap ${t_boot}s ($(du -sm "$root" | cut -f1) MB), apt-get install ${t_inst}s, total $((SECONDS - t0))s"
