//go:build tools

// The binary the test bed builds from this module; the import keeps `go mod tidy` from dropping it.
package tools

import _ "go.etcd.io/etcd/server/v3"
