package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// agentBin is the qdhcp-agent binary TestMain builds for this run.
var agentBin string

// TestMain builds cmd/qdhcp-agent into a temporary directory, so every
// test runs the agent exactly as an operator would: a separate process
// with its own configuration file. Without root (or with
// QDHCP_SKIP_ROOT=1) nothing is built and the tests skip.
func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if os.Geteuid() != 0 || os.Getenv("QDHCP_SKIP_ROOT") == "1" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "qdhcp-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	agentBin = filepath.Join(dir, "qdhcp-agent")
	build := exec.Command("go", "build", "-o", agentBin, "qdhcp/cmd/qdhcp-agent")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go build qdhcp-agent:", err)
		return 1
	}
	return m.Run()
}
