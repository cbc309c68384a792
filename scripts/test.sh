#!/usr/bin/env bash
# Runs the whole test suite, installing the real IPMI peers and the
# Prometheus stack the integration and end-to-end tests talk to.
# Run it as root on Debian (it uses apt-get), or with the tools already installed.
#
#   ./scripts/test.sh          everything, as CI runs it
#   ./scripts/test.sh -short   quick mode for development: go test -short (long soak, fleet and
#                              end-to-end cases skip themselves, each saying so in the summary)
#
# At the end it prints how many tests ran and every skipped test with its reason. The full
# `go test -json` stream is kept in /tmp/ipmi_fleet_exporter-test.json.
set -euo pipefail
cd "$(dirname "$0")/.."

short=()
for arg in "$@"; do
  case "$arg" in
    -short|--short) short=(-short) ;;
    *) echo "usage: $0 [-short]" >&2; exit 2 ;;
  esac
done

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

# The in-band VM test (e2e/inband): QEMU, a static busybox and Debian's
# kernel (downloaded once, cached in ~/.cache/ipmi_fleet_exporter/vm). It
# prints the cache directory on its last line; only its errors matter here.
echo "test.sh: preparing the in-band test VM (scripts/vm/prepare.sh)"
scripts/vm/prepare.sh >/dev/null

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
echo "test.sh: go test -race ${short[*]}"
# Build the summarizer first: a failure to build it must not look like a test failure.
summary=$(mktemp -d)/testsummary
trap 'rm -rf "$(dirname "$summary")"' EXIT
go build -o "$summary" scripts/testsummary.go
set +e
go test -race -count=1 -timeout 15m "${short[@]}" -json ./... 2>&1 |
  tee /tmp/ipmi_fleet_exporter-test.json | "$summary" | tee /tmp/ipmi_fleet_exporter-test.log
statuses=("${PIPESTATUS[@]}")
set -e
# go test's status decides; a broken summarizer or tee fails the run too.
for s in "${statuses[@]}"; do
  if [ "$s" -ne 0 ]; then
    [ "${statuses[0]}" -ne 0 ] && exit "${statuses[0]}"
    exit "$s"
  fi
done
exit 0
