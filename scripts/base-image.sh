#!/bin/bash
# base-image.sh - make sure the base image for the executor images exists in the local daemon.
#
#   scripts/base-image.sh [IMAGE]      (default: $BASE_IMAGE, else debian:bookworm-slim)
#
# 1. If the image is present: nothing to do.
# 2. Else try `docker pull` with a short timeout (there may be no registry).
# 3. Else build it: debootstrap --variant=minbase bookworm from the Debian mirror this host's apt
#    already uses (read from /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list; no mirror
#    name is written in this file), then `docker import` it with a Cmd and an Env (an imported
#    image has neither). The image keeps the host's mirror in its sources.list so that apt-get
#    inside `docker build` reaches the same mirror.
#
# Idempotent. Needs root for debootstrap. Exit status 0 when the image exists at the end.
set -euo pipefail

IMAGE=${1:-${BASE_IMAGE:-debian:bookworm-slim}}
SUITE=bookworm
PULL_TIMEOUT_S=${PULL_TIMEOUT_S:-20}
PATH_VALUE=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "base-image: $*"; }
die() { echo "base-image: error: $*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 || die "docker CLI not found (run scripts/install-docker.sh)"
timeout 10 docker info >/dev/null 2>&1 || die "docker daemon does not answer (run scripts/install-docker.sh)"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "$IMAGE is present"
    exit 0
fi

say "$IMAGE is missing; trying docker pull (${PULL_TIMEOUT_S} s)"
if timeout "$PULL_TIMEOUT_S" docker pull -q "$IMAGE" >/dev/null 2>&1 &&
    docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "pulled $IMAGE"
    exit 0
fi
say "pull failed; building $IMAGE with debootstrap"

# The first URI that serves the main suite, from deb822 files then one-line lists.
mirror_from_apt() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # deb822: paragraphs separated by blank lines; need Types: deb and Suites containing SUITE.
        awk -v suite="$SUITE" '
            function flush() {
                if (types ~ /(^|[ \t])deb([ \t]|$)/ && (" " suites " ") ~ (" " suite " ") && uris != "" && !enabled_no) {
                    split(uris, u, /[ \t]+/); print u[1]; found = 1; exit
                }
                types = ""; suites = ""; uris = ""; enabled_no = 0
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            tolower($1) == "types:"   { $1 = ""; types = $0 }
            tolower($1) == "suites:"  { $1 = ""; gsub(/^[ \t]+|[ \t]+$/, ""); gsub(/[ \t]+/, " "); suites = $0 }
            tolower($1) == "uris:"    { $1 = ""; gsub(/^[ \t]+|[ \t]+$/, ""); uris = $0 }
            tolower($1) == "enabled:" { if (tolower($2) == "no") enabled_no = 1 }
            END { if (!found) flush() }
        ' "$f" | head -n 1
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        # deb [options] URI SUITE components...
        awk -v suite="$SUITE" '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) == suite) { print $i; exit }
            }' "$f"
    done
}

MIRROR=$(mirror_from_apt | head -n 1)
[ -n "$MIRROR" ] || die "no '$SUITE' deb source found in /etc/apt/sources.list{,.d/*}"
say "mirror from apt configuration: $MIRROR"

if ! command -v debootstrap >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || die "debootstrap is missing and installing it needs root"
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; } ||
        die "apt-get install debootstrap failed"
fi
[ "$(id -u)" -eq 0 ] || die "debootstrap needs root"

ROOT=$(mktemp -d /tmp/codegate-rootfs.XXXXXX)
trap 'rm -rf --one-file-system "$ROOT"' EXIT

say "debootstrap --variant=minbase $SUITE into $ROOT (about 30-60 s)"
if ! debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1; then
    tail -n 20 "$ROOT.log" >&2
    rm -f "$ROOT.log"
    die "debootstrap failed"
fi
rm -f "$ROOT.log"

# Keep what apt needs inside the image small and pointed at the host's mirror.
echo "deb $MIRROR $SUITE main" >"$ROOT/etc/apt/sources.list"
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin \
    "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/log/*.log
# Slim like the official image: no documentation, manuals or translations (about 45 MB).
find "$ROOT/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$ROOT/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* "$ROOT"/usr/share/locale/*
# Like the official slim images: no docs or man pages installed by later apt-get runs.
mkdir -p "$ROOT/etc/dpkg/dpkg.cfg.d"
cat >"$ROOT/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
cat >"$ROOT/etc/apt/apt.conf.d/docker-clean" <<'EOF'
APT::Install-Recommends "false";
Acquire::Languages "none";
EOF

say "importing as $IMAGE"
tar -C "$ROOT" --numeric-owner -c . |
    docker import --change 'CMD ["/bin/bash"]' --change "ENV PATH=$PATH_VALUE" - "$IMAGE" >/dev/null ||
    die "docker import failed"
docker image inspect "$IMAGE" >/dev/null 2>&1 || die "$IMAGE still missing after import"
say "$IMAGE ready ($(docker image inspect -f '{{.Size}}' "$IMAGE") bytes)"
