# syntax=docker/dockerfile:1
#
# Parley in a container: a static binary on an empty base (FROM scratch),
# running as uid 65532, its data under /data. No ffmpeg: video and audio
# uploads fail (images are processed in Go); deploy/docker/Dockerfile.ffmpeg
# is the variant with ffmpeg. docs/OPERATIONS.md, "Deploying", says how to
# build and run it.
#
#   docker build -t parley .
#   docker build -t parley --build-arg VERSION=v1.4.0 --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg DATE=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ) .
#   docker run -p 8080:8080 -v parley-data:/data parley
#
# The build stage's tag follows go.mod's go line (1.26.8): golang:1.26 is
# the newest 1.26 patch release. The golang images set GOTOOLCHAIN=local,
# so an image older than go.mod's line fails the build ("go.mod requires
# go >= 1.26.8") rather than downloading a toolchain: build with --pull if a
# cached golang:1.26 is older.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, in a layer of their own, so that a source change does not
# download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION, COMMIT and DATE are what scripts/release.sh passes: `parley
# version` and the start-up line print them. The linker ignores -X for a
# variable that does not exist, so they are harmless on a tree without
# internal/buildinfo; left empty, the binary says "dev" and "unknown".
# -buildvcs=false: .dockerignore leaves .git out.
ARG VERSION=
ARG COMMIT=
ARG DATE=
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/parleychat/parley/internal/buildinfo.version=${VERSION} -X github.com/parleychat/parley/internal/buildinfo.commit=${COMMIT} -X github.com/parleychat/parley/internal/buildinfo.date=${DATE}" \
      -o /out/parley ./cmd/parley
# What the empty final stage needs besides the binary: a user for uid
# 65532 (so that logs and `ps` name it), the data dir it owns, and a /tmp
# (media processing writes temporary files there).
RUN mkdir -p /out/data /out/tmp && chown 65532:65532 /out/data && chmod 0700 /out/data && chmod 1777 /out/tmp \
 && echo 'parley:x:65532:65532:parley:/data:/sbin/nologin' > /out/passwd \
 && echo 'parley:x:65532:' > /out/group

FROM scratch
# CA certificates: Web Push services, push relays, bots' webhooks and S3
# over https all need them (Go reads /etc/ssl/certs/ca-certificates.crt).
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/passwd /etc/passwd
COPY --from=build /out/group /etc/group
COPY --from=build /out/tmp /tmp
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/parley /parley
USER 65532:65532
# Listen on every interface of the container (the binary's default is
# loopback, which nothing outside the container could reach).
ENV PARLEY_DATA_DIR=/data PARLEY_ADDR=0.0.0.0:8080
VOLUME /data
EXPOSE 8080
# No HEALTHCHECK: it would need a shell or a client program, and scratch
# has neither. Let the orchestrator probe GET /healthz (liveness) and
# GET /readyz (readiness) over HTTP instead.
# SIGTERM is the clean stop; give the container more than --shutdown-grace
# (10 s) to exit: docker stop -t 30, or stop_grace_period in compose.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/parley"]
CMD ["serve"]
