#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian 12 machine, and nothing twice:
# the real Open vSwitch / OVN tools and schemas, a Java runtime for TLC, and .venv/.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v ovsdb-server >/dev/null || need_pkgs+=(openvswitch-common)
[ -f /usr/share/openvswitch/vswitch.ovsschema ] || need_pkgs+=(openvswitch-switch)
command -v ovn-nbctl >/dev/null || need_pkgs+=(ovn-common)
[ -f /usr/share/ovn/ovn-nb.ovsschema ] || need_pkgs+=(ovn-central)
command -v java >/dev/null || need_pkgs+=(openjdk-17-jre-headless)
command -v iptables >/dev/null || need_pkgs+=(iptables)
command -v ip >/dev/null || need_pkgs+=(iproute2)
# Headless Chromium for the report's layout check (make report-shots).
command -v chromium >/dev/null || command -v chromium-headless-shell >/dev/null \
  || need_pkgs+=(chromium-headless-shell)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "ci/bootstrap.sh: missing system packages; as root run:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${need_pkgs[*]}" >&2
    exit 1
  fi
  echo "ci/bootstrap.sh: installing ${need_pkgs[*]}"
  # Keep package scripts from starting the distribution's own ovsdb-server/ovn-northd.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; created_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >/dev/null
  [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  # The packages' services must not hold the default ports or databases.
  for p in ovsdb-server ovs-vswitchd ovn-northd; do pkill -x "$p" 2>/dev/null || true; done
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.crucible-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e '.[test]'
  touch "$stamp"
fi
