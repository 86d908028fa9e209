#!/bin/sh
# scripts/release.sh — build a release binary of parley into dist/.
#
#   scripts/release.sh                      # for this machine
#   GOOS=linux GOARCH=arm64 scripts/release.sh
#   VERSION=v1.4.0 scripts/release.sh       # default: git describe
#
# The binary is static (CGO_ENABLED=0: SQLite is pure Go), carries no
# local paths (-trimpath), and has its version, commit and build date set
# with -ldflags (`parley version`, the parley_build_info metric, the
# start-up log line). The build date is the commit's time, not the clock's,
# so two builds of one commit with one Go toolchain are byte-identical:
# compare `sha256sum dist/*` of two builds. A work tree with uncommitted
# changes is refused (its build would not be the commit's) unless
# ALLOW_DIRTY=1.
set -eu
cd "$(dirname "$0")/.."

if [ -n "$(git status --porcelain --untracked-files=no)" ] && [ "${ALLOW_DIRTY:-}" != 1 ]; then
	echo "release.sh: the work tree has uncommitted changes; commit them, or set ALLOW_DIRTY=1" >&2
	exit 1
fi
commit=$(git rev-parse HEAD)
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	commit="$commit-dirty"
fi
version=${VERSION:-$(git describe --tags --always --dirty)}
date=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ)
goos=${GOOS:-$(go env GOOS)}
goarch=${GOARCH:-$(go env GOARCH)}
out=dist/parley-$version-$goos-$goarch
pkg=github.com/parleychat/parley/internal/buildinfo

mkdir -p dist
CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build \
	-trimpath -buildvcs=false -mod=readonly \
	-ldflags "-s -w -buildid= -X $pkg.version=$version -X $pkg.commit=$commit -X $pkg.date=$date" \
	-o "$out" ./cmd/parley
echo "$out"
