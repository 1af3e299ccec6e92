#!/usr/bin/env bash
# Pulumi's Kubernetes resource provider for the test bed: builds pulumi-resource-kubernetes from Go modules
# (testbed/pulumi-kubernetes, wrapping github.com/pulumi/pulumi-kubernetes/provider/v4) into
# $BERTH_CACHE/pulumi-kubernetes-vX/bin, reporting the version of the @pulumi/kubernetes npm package Berth uses.
# With PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true the CLI runs a pulumi-resource-kubernetes found on PATH
# (an ambient plugin) instead of downloading one. Prints the bin directory to put on PATH.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

version="$PULUMI_KUBERNETES_VERSION"
dir="$BERTH_CACHE/pulumi-kubernetes-v$version"
bin="$dir/bin"

npm_version="$(node -p 'require(process.argv[1]).packages["node_modules/@pulumi/kubernetes"]?.version ?? ""' \
  "$BERTH_ROOT/package-lock.json")"
[ "$npm_version" = "$version" ] \
  || die "package-lock.json has @pulumi/kubernetes '$npm_version' but testbed/lib.sh pins the provider at $version"

if [ ! -x "$bin/pulumi-resource-kubernetes" ]; then
  command -v go >/dev/null || die "Go is needed to build the Kubernetes provider; install Go 1.25 or newer"
  cd "$BERTH_ROOT/testbed/pulumi-kubernetes"
  log "building pulumi-resource-kubernetes v$version from Go modules (cold: ~11 min on 2 cores; cached afterwards)"
  mkdir -p "$bin" "$dir/embed"

  # The provider's main package embeds its schema (with the version set) and terraform mapping, which its
  # `go generate` step derives from schema.json and terraform-mapping.json; the module zip has only those two.
  module="github.com/pulumi/pulumi-kubernetes/provider/v4"
  go mod download "$module"
  from="$(go list -m -f '{{.Dir}}' "$module")/cmd/pulumi-resource-kubernetes"
  go run ./cmd/generate-embeds "$version" "$from" "$dir/embed"
  # -overlay lays the generated files beside cmd/pulumi-resource-kubernetes/main.go for this build only.
  main_dir="$PWD/cmd/pulumi-resource-kubernetes"
  cat >"$dir/embed/overlay.json" <<OVERLAY
{"Replace": {
  "$main_dir/schema-embed.json": "$dir/embed/schema-embed.json",
  "$main_dir/terraform-mapping-embed.json": "$dir/embed/terraform-mapping-embed.json"
}}
OVERLAY

  ldflags="-s -w -X $module/pkg/version.Version=$version"
  go build -trimpath -overlay "$dir/embed/overlay.json" -ldflags "$ldflags" \
    -o "$bin/pulumi-resource-kubernetes.tmp" ./cmd/pulumi-resource-kubernetes
  mv "$bin/pulumi-resource-kubernetes.tmp" "$bin/pulumi-resource-kubernetes"
  rm -rf "$dir/embed"
else
  log "pulumi-resource-kubernetes v$version cached at $bin"
fi

echo "$bin"
