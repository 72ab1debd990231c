#!/usr/bin/env bash
# install.sh of an isoscan offline kit (made by scripts/offline-kit): installs isoscan
# on an air-gapped machine, as root, with no network at all.
#   1. checks every file of the kit against SHA256SUMS, and refuses a kit that does not
#      match (naming the file), that lacks a listed file, or that has a file not listed;
#   2. checks that the kit was made for this distribution, release, architecture, Python;
#   3. installs the kit's .deb files that this machine lacks (or has older), never
#      downgrading a package, with apt reading nothing but these files;
#   4. makes the virtual environment /opt/isoscan/venv from the kit's wheels only;
#   5. links /usr/local/bin/isoscan.
# Environment: ISOSCAN_PREFIX (default /opt/isoscan), ISOSCAN_BIN_DIR (/usr/local/bin).
set -euo pipefail
cd "$(dirname "$0")"
kitdir=$PWD
prefix=${ISOSCAN_PREFIX:-/opt/isoscan}
venv=$prefix/venv
bindir=${ISOSCAN_BIN_DIR:-/usr/local/bin}
say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; [ $rc -eq 0 ] || printf "install.sh: FAILED (exit %s); the lines above say why\n" "$rc" >&2' EXIT

# ---- 1. integrity, before anything else ---------------------------------------------
[ -f SHA256SUMS ] || die "no SHA256SUMS in $kitdir: not a complete kit, refusing to install"
say "[1/5] checking every file against SHA256SUMS …"
if ! bad=$(LC_ALL=C sha256sum --check --quiet --strict SHA256SUMS 2>&1); then
  printf '%s\n' "$bad" | sed 's/^/install.sh:   /' >&2
  die "the kit does not match SHA256SUMS (file named above): refusing to install; fetch the kit again"
fi
listed=$(sed -E 's/^[0-9a-f]{64}  //' SHA256SUMS | LC_ALL=C sort)
present=$(find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort)
extra=$(LC_ALL=C comm -13 <(printf '%s\n' "$listed") <(printf '%s\n' "$present"))
[ -z "$extra" ] || die "not listed in SHA256SUMS: $(echo $extra): refusing to install a kit with files nobody vouched for"
say "      $(wc -l < SHA256SUMS) files match"

# ---- 2. the right machine ---------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "run as root (it installs system packages into this machine)"
. ./KIT_INFO
. /etc/os-release
here_distro="${ID}${VERSION_ID:-}"
here_arch=$(dpkg --print-architecture)
here_py=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) \
  || die "python3 is missing: this kit needs the distribution's python3 (the target's prerequisite)"
[ "$here_distro" = "$KIT_DISTRO" ] && [ "$here_arch" = "$KIT_ARCH" ] \
  || die "this kit is for $KIT_DISTRO $KIT_ARCH, this machine is $here_distro $here_arch: build the kit on a machine like this one"
[ "$here_py" = "$KIT_PYTHON" ] \
  || die "this kit's wheels are for Python $KIT_PYTHON, this machine's python3 is $here_py"
say "[2/5] kit isoscan $KIT_VERSION for $KIT_DISTRO $KIT_ARCH, Python $KIT_PYTHON: matches this machine"

# ---- 3. system packages -----------------------------------------------------------------
todo=()
for deb in debs/*.deb; do
  pkg=$(dpkg-deb -f "$deb" Package)
  ver=$(dpkg-deb -f "$deb" Version)
  have=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}\n' "$pkg" 2>/dev/null | awk '$1 == "ii" {print $2; exit}' || true)
  if [ -n "$have" ] && dpkg --compare-versions "$have" ge "$ver"; then continue; fi
  todo+=("$kitdir/$deb")
done
if [ ${#todo[@]} -gt 0 ]; then
  say "[3/5] installing ${#todo[@]} of the kit's $(ls debs/*.deb | wc -l) .deb files (the rest are here already) …"
  aptdir=$(mktemp -d)
  trap 'rc=$?; rm -rf "$aptdir"; [ $rc -eq 0 ] || printf "install.sh: FAILED (exit %s); the lines above say why\n" "$rc" >&2' EXIT
  mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
  # apt sees only the installed packages and these files: no archive, no download
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o Dir::State::Lists="$aptdir/lists" \
    -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$aptdir/lists" \
    "${todo[@]}"
else
  say "[3/5] system packages: every one is here already"
fi

# ---- 4. the virtual environment ------------------------------------------------------------
say "[4/5] virtual environment $venv from the kit's $(ls wheels/*.whl | wc -l) wheels …"
rm -rf "$venv"
mkdir -p "$prefix"
python3 -m venv "$venv"
# --isolated: no pip configuration or PIP_* variable of this machine points pip elsewhere
"$venv/bin/python" -m pip --isolated install --no-index --find-links "$kitdir/wheels" isoscan

# ---- 5. on PATH ---------------------------------------------------------------------------------
mkdir -p "$bindir"
ln -sfn "$venv/bin/isoscan" "$bindir/isoscan"
say "[5/5] done: $bindir/isoscan -> $venv/bin/isoscan ($prefix: $(du -sh "$prefix" | cut -f1)); try: isoscan demo"
