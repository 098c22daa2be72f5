#!/usr/bin/env bash
# Builds the images docker-compose.yml uses, with or without a reachable container registry.
#
#   nl-base:bookworm   Debian bookworm root: `docker pull debian:bookworm-slim` when a registry answers,
#                      otherwise debootstrap (Debian's package mirror only) + `docker import`.
#   nl:latest          the nl binary on nl-base. With a registry: the multi-stage build in deploy/Dockerfile
#                      (target `runtime`). Air-gapped: `cargo build --release` on the host, then target
#                      `runtime-prebuilt`, which copies target/release/nl.
#   nl-nats:latest     Debian's nats-server on nl-base.
#
# Usage: deploy/build-images.sh [--prebuilt|--multistage]   (default: multistage if a registry answers)
#        NL_CARGO_PROFILE=dev deploy/build-images.sh --prebuilt   (image from a debug build)
set -euo pipefail
cd "$(dirname "$0")/.."

MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
mode="${1:-auto}"

registry_ok() { timeout 60 docker pull -q debian:bookworm-slim >/dev/null 2>&1; }

if ! docker image inspect nl-base:bookworm >/dev/null 2>&1; then
  if registry_ok; then
    echo "Registry reachable: nl-base from debian:bookworm-slim" >&2
    docker tag debian:bookworm-slim nl-base:bookworm
  else
    echo "No registry: building nl-base by debootstrap from $MIRROR" >&2
    command -v debootstrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
    root="${ROOTFS_DIR:-$(mktemp -d /tmp/nl-rootfs.XXXXXX)}"
    if [ ! -x "$root/bin/sh" ]; then
      debootstrap --variant=minbase bookworm "$root" "$MIRROR" >&2
    fi
    tar -C "$root" -c . | docker import -c 'CMD ["/bin/bash"]' - nl-base:bookworm >/dev/null
  fi
fi

if [ "$mode" = auto ]; then
  if registry_ok; then mode=--multistage; else mode=--prebuilt; fi
fi
case "$mode" in
  --multistage)
    docker build -f deploy/Dockerfile --target runtime --build-arg BASE_IMAGE=nl-base:bookworm -t nl:latest . ;;
  --prebuilt)
    # NL_CARGO_PROFILE=dev reuses a debug build (faster on small hosts); default release.
    if [ "${NL_CARGO_PROFILE:-release}" = dev ]; then
      cargo build --locked -p nl && bin="${CARGO_TARGET_DIR:-target}/debug/nl"
    else
      cargo build --release --locked -p nl && bin="${CARGO_TARGET_DIR:-target}/release/nl"
    fi
    # A CARGO_TARGET_DIR outside the repository is not in the build context: stage the binary in deploy/.bin/ (git-ignored).
    if [ "$(realpath "$bin")" != "$(realpath -m target/release/nl)" ]; then
      mkdir -p deploy/.bin && cp "$bin" deploy/.bin/nl && bin=deploy/.bin/nl
    else
      bin=target/release/nl
    fi
    docker build -f deploy/Dockerfile --target runtime-prebuilt --build-arg BASE_IMAGE=nl-base:bookworm \
      --build-arg NL_BIN="$bin" -t nl:latest . ;;
  *) echo "usage: $0 [--prebuilt|--multistage]" >&2; exit 2 ;;
esac

docker build -f deploy/nats.Dockerfile --build-arg BASE_IMAGE=nl-base:bookworm -t nl-nats:latest deploy
echo "Built nl-base:bookworm, nl:latest, nl-nats:latest" >&2
