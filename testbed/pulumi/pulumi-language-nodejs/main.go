// Command pulumi-language-nodejs is the test bed's Node.js language host for the Pulumi CLI.
//
// Pulumi's own host lives in a Go module with no tags of its own, and the module proxy these machines
// reach does not serve it at any version. This host speaks the same gRPC LanguageRuntime protocol, from
// the pinned github.com/pulumi/pulumi/sdk/v3, and does the one thing `preview`, `up`, `refresh` and
// `destroy` need: it starts the real `@pulumi/pulumi/cmd/run` entry point of the program's own
// node_modules with the flags and environment that entry point documents. Plugin discovery answers
// "none required", so the CLI never tries to download a plugin.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// version is set by the build (-ldflags -X main.version=...) to the pinned Pulumi version.
var version = "0.0.0-dev"

// exitCodeErrorReported is what @pulumi/pulumi/cmd/run exits with once it has already shown the user the error.
const exitCodeErrorReported = 32

type nodeLanguageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
}

func (h *nodeLanguageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *nodeLanguageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	programDir := req.GetPwd()
	entryPoint := req.GetProgram()
	if info := req.GetInfo(); info != nil {
		programDir, entryPoint = info.GetProgramDirectory(), info.GetEntryPoint()
	}
	options := runtimeOptions(req.GetInfo())

	runScript, err := resolveFrom(programDir, "@pulumi/pulumi/cmd/run")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	env, err := runEnv(req, options)
	if err != nil {
		return nil, err
	}

	args := append(strings.Fields(options.nodeArgs), runScript)
	args = append(args,
		"--monitor="+req.GetMonitorAddress(),
		"--project="+req.GetProject(),
		"--stack="+req.GetStack(),
		"--pwd="+programDir,
		"--parallel="+strconv.Itoa(int(req.GetParallel())),
	)
	if engine := engineAddress(); engine != "" {
		args = append(args, "--engine="+engine)
	}
	if org := req.GetOrganization(); org != "" {
		args = append(args, "--organization="+org)
	}
	if root := req.GetInfo().GetRootDirectory(); root != "" {
		args = append(args, "--root-directory="+root)
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	args = append(args, entryPoint)
	args = append(args, req.GetArgs()...)

	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = programDir
	cmd.Env = env
	// The engine turns this plugin's output into diagnostics, which is how console output reaches the user.
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitCodeErrorReported {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not start node: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// InstallDependencies runs `npm install` in the program's directory, as Pulumi's own host does for a project without
// a yarn or pnpm lockfile: `pulumi new` and `pulumi install` call it, and the CLI shows npm's output as it comes.
func (h *nodeLanguageHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	dir := req.GetDirectory()
	if info := req.GetInfo(); info != nil {
		dir = info.GetProgramDirectory()
	}
	out := &installOutput{server: server}
	cmd := exec.CommandContext(server.Context(), "npm", "install", "--loglevel=error")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out.writer(false), out.writer(true)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm install in %s: %w", dir, err)
	}
	return nil
}

// installOutput sends npm's stdout and stderr to the CLI; exec copies each from its own goroutine, and a gRPC
// stream takes one Send at a time.
type installOutput struct {
	mu     sync.Mutex
	server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse]
}

type installWriter struct {
	out    *installOutput
	stderr bool
}

func (o *installOutput) writer(stderr bool) installWriter {
	return installWriter{out: o, stderr: stderr}
}

func (w installWriter) Write(p []byte) (int, error) {
	chunk := append([]byte(nil), p...)
	resp := &pulumirpc.InstallDependenciesResponse{Stdout: chunk}
	if w.stderr {
		resp = &pulumirpc.InstallDependenciesResponse{Stderr: chunk}
	}
	w.out.mu.Lock()
	defer w.out.mu.Unlock()
	if err := w.out.server.Send(resp); err != nil {
		return 0, err
	}
	return len(p), nil
}

type nodeOptions struct {
	typescript bool
	tsconfig   string
	nodeArgs   string
}

// runtimeOptions reads the `runtime.options` of Pulumi.yaml; TypeScript is on unless switched off, as in Pulumi's host.
func runtimeOptions(info *pulumirpc.ProgramInfo) nodeOptions {
	opts := nodeOptions{typescript: true}
	fields := info.GetOptions().GetFields()
	if v, ok := fields["typescript"]; ok {
		opts.typescript = v.GetBoolValue()
	}
	if v, ok := fields["tsconfig"]; ok {
		opts.tsconfig = v.GetStringValue()
	}
	if v, ok := fields["nodeargs"]; ok {
		opts.nodeArgs = v.GetStringValue()
	}
	return opts
}

func runEnv(req *pulumirpc.RunRequest, opts nodeOptions) ([]string, error) {
	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("encoding config: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secrets, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("encoding config secret keys: %w", err)
	}
	env := append(os.Environ(),
		"PULUMI_CONFIG="+string(config),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secrets),
		"PULUMI_NODEJS_TYPESCRIPT="+strconv.FormatBool(opts.typescript),
	)
	if opts.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}
	return env, nil
}

// resolveFrom asks node itself where a module is, so resolution follows node's rules from the program's directory.
func resolveFrom(dir, module string) (string, error) {
	cmd := exec.Command("node", "-e", "process.stdout.write(require.resolve(process.argv[1]))", module)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("cannot find %s from %s: is @pulumi/pulumi installed (npm install)? %v",
			module, filepath.Clean(dir), err)
	}
	return string(out), nil
}

// engineAddress is the one positional argument the CLI starts a language plugin with; flags may precede it.
func engineAddress() string {
	for _, arg := range os.Args[1:] {
		if !strings.HasPrefix(arg, "-") {
			return arg
		}
	}
	return ""
}

func main() {
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, &nodeLanguageHost{})
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "fatal: %v\n", err)
		os.Exit(1)
	}
	// The CLI reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "fatal: %v\n", err)
		os.Exit(1)
	}
}
