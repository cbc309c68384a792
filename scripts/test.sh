#!/usr/bin/env bash
# Runs the whole test suite, installing the real IPMI peers and the
# Prometheus stack the integration and end-to-end tests talk to.
# Run it as root on Debian (it uses apt-get), or with the tools already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

# tool -> Debian package
declare -A packages=(
  [ipmi_sim]=openipmi
  [sdrcomp]=openipmi
  [ipmitool]=ipmitool
  [ipmi-sensors]=freeipmi-tools
  [promtool]=prometheus
  [prometheus]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager
  [prometheus-ipmi-exporter]=prometheus-ipmi-exporter
)
missing=()
for tool in "${!packages[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${packages[$tool]}")
done
# pyghmi's BMC server (interop tests) is a Python module for Debian's python3.
/usr/bin/python3 -c 'import pyghmi.ipmi.bmc' >/dev/null 2>&1 || missing+=(python3-pyghmi)
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "test.sh: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: need root for apt-get (or install: ${missing[*]})" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian prometheus package starts nothing here (no systemd), but make
# sure no packaged daemon holds the ports the end-to-end test uses.

# bougou/go-ipmi's reference BMC (interop tests), built outside this
# module's go.mod so it never becomes a dependency of the product.
goipmi_version=v0.9.1
gobin="$(go env GOPATH | cut -d: -f1)/bin"
export PATH="$gobin:$PATH"
if ! go version -m "$gobin/goipmi-server" 2>/dev/null | grep -q "github.com/bougou/go-ipmi[[:space:]]*$goipmi_version[[:space:]]"; then
  echo "test.sh: installing goipmi-server $goipmi_version"
  (cd / && GOBIN="$gobin" go install "github.com/bougou/go-ipmi/cmd/goipmi-server@$goipmi_version")
fi

echo "test.sh: gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" $unformatted >&2
  exit 1
fi
echo "test.sh: go vet"
go vet ./...
echo "test.sh: go test -race"
go test -race -count=1 -timeout 15m ./... 2>&1 | tee /tmp/ipmi_fleet_exporter-test.log
status=${PIPESTATUS[0]}
exit "$status"
