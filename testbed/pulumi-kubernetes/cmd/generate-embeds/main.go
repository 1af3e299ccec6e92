// Writes the two files the provider's main package embeds, as the provider's own generate.go does
// (provider/v4/cmd/pulumi-resource-kubernetes/generate.go): the schema with its version set, and the terraform
// mapping, both re-marshalled compactly.
//
//	go run ./cmd/generate-embeds VERSION FROM_DIR TO_DIR
//
// FROM_DIR holds the provider's schema.json and terraform-mapping.json (its cmd/pulumi-resource-kubernetes in the
// module cache); TO_DIR gets schema-embed.json and terraform-mapping-embed.json.
package main

import (
	"encoding/json"
	"log"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

func main() {
	if len(os.Args) != 4 {
		log.Fatal("usage: generate-embeds VERSION FROM_DIR TO_DIR")
	}
	version, from, to := os.Args[1], os.Args[2], os.Args[3]

	var packageSpec schema.PackageSpec
	readJSON(filepath.Join(from, "schema.json"), &packageSpec)
	packageSpec.Version = version
	writeJSON(filepath.Join(to, "schema-embed.json"), packageSpec)

	var mapping interface{}
	readJSON(filepath.Join(from, "terraform-mapping.json"), &mapping)
	writeJSON(filepath.Join(to, "terraform-mapping-embed.json"), mapping)
}

func readJSON(path string, into interface{}) {
	contents, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(contents, into); err != nil {
		log.Fatalf("cannot deserialize %s: %v", path, err)
	}
}

func writeJSON(path string, value interface{}) {
	contents, err := json.Marshal(value)
	if err != nil {
		log.Fatalf("cannot reserialize %s: %v", path, err)
	}
	if err := os.WriteFile(path, contents, 0o644); err != nil {
		log.Fatal(err)
	}
}
