#!/usr/bin/env bash
# npm run setup:lavapipe — installs a CPU Vulkan driver (Mesa's lavapipe) that Dawn accepts, so the
# engine's `webgpu` backend has an adapter on a machine without a GPU (CI, laptops without Vulkan).
#
# Dawn needs the shaderUniform/Storage*ArrayDynamicIndexing features, which Debian 12's own lavapipe
# (Mesa 22.3.6) lacks; Mesa 25 from bookworm-backports has them. So on Debian 12 the script enables
# bookworm-backports (pinned at priority 100 by Debian: nothing else is ever taken from it unless
# asked for by name) and installs mesa-vulkan-drivers + libvulkan1 from there; elsewhere it takes
# the distribution's own packages. It first simulates the install and refuses if apt would remove
# any package, and it checks the result with Dawn itself. Already working: nothing is installed.
#
# Needs root and apt-get. Exit status 0 only when Dawn then finds a Vulkan adapter.
set -euo pipefail
cd "$(dirname "$0")/.."

probe() { timeout 120 node scripts/probe-vulkan-adapter.mjs 2>/dev/null; }

if msg=$(probe); then
  echo "setup:lavapipe: already present — $msg"
  exit 0
fi
echo "setup:lavapipe: ${msg:-probe failed}"
if [ "$(id -u)" != 0 ]; then
  echo "setup:lavapipe: needs root to install Debian packages (run: sudo npm run setup:lavapipe)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup:lavapipe: no apt-get here; install Mesa >= 23 lavapipe (mesa-vulkan-drivers) and libvulkan1 with your package manager" >&2
  exit 1
fi

# shellcheck disable=SC1091
. /etc/os-release
target=()
if [ "${ID:-}" = debian ] && [ "${VERSION_CODENAME:-}" = bookworm ]; then
  src=/etc/apt/sources.list.d/bookworm-backports.sources
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "setup:lavapipe: enabling bookworm-backports ($src)"
    cat >"$src" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  target=(-t bookworm-backports)
fi

apt_opts=(-o Acquire::http::Timeout=60 -o Acquire::Retries=2 -o DPkg::Lock::Timeout=300)
timeout 900 apt-get "${apt_opts[@]}" update -qq
pkgs=(mesa-vulkan-drivers libvulkan1)
plan=$(apt-get "${apt_opts[@]}" install -s --no-install-recommends "${target[@]}" "${pkgs[@]}")
if grep -q '^Remv ' <<<"$plan"; then
  echo "setup:lavapipe: refusing — installing ${pkgs[*]} would remove packages:" >&2
  grep '^Remv ' <<<"$plan" >&2
  exit 1
fi
echo "setup:lavapipe: installing ${pkgs[*]} ${target[*]} ($(grep -c '^Inst ' <<<"$plan") packages, none removed)"
DEBIAN_FRONTEND=noninteractive timeout 1200 apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${target[@]}" "${pkgs[@]}"

if msg=$(probe); then
  echo "setup:lavapipe: done — $msg"
else
  echo "setup:lavapipe: installed, but Dawn still finds no Vulkan adapter: ${msg:-probe failed}" >&2
  exit 1
fi
