// The provider's own main package (provider/v4/cmd/pulumi-resource-kubernetes) cannot be built from the module
// cache: it embeds schema-embed.json and terraform-mapping-embed.json, which its `go generate` step writes and
// which are not in the module zip. This is the same program. The two files are not here either:
// testbed/pulumi-kubernetes.sh writes them into $BERTH_CACHE with ../generate-embeds and hands them to
// `go build -overlay` as if they lay beside this file.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

var providerName = "kubernetes"

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve(providerName, version.Version, pulumiSchema, terraformMapping)
}
