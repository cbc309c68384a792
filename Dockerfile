# syntax=docker/dockerfile:1
#
# Container image of ipmi_fleet_exporter: a static binary on distroless (CA certificates, tzdata,
# user nonroot 65532, no shell).
#
#   docker build -t ipmi_fleet_exporter .
#   docker run -p 9290:9290 -v /srv/ipmi_fleet_exporter:/etc/ipmi_fleet_exporter:ro ipmi_fleet_exporter
#
# Configuration: the image reads /etc/ipmi_fleet_exporter/ipmi_fleet_exporter.yml (mount a directory
# holding it there; pass_file paths in it are relative to that directory unless absolute). The user
# 65532 must be able to read the file and every pass_file it names. Extra flags given to `docker run`
# are appended after --config.file.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=unknown
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags="-s -w -X github.com/prometheus/common/version.Version=${VERSION} -X github.com/prometheus/common/version.Revision=${REVISION}" \
      -o /out/ipmi_fleet_exporter . \
 && /out/ipmi_fleet_exporter --help >/dev/null

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ipmi_fleet_exporter /bin/ipmi_fleet_exporter
USER 65532:65532
EXPOSE 9290
ENTRYPOINT ["/bin/ipmi_fleet_exporter", "--config.file=/etc/ipmi_fleet_exporter/ipmi_fleet_exporter.yml"]
