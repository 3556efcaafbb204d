# qdhcp - the README's two set-up commands are `make demo` and `make test`.
GO ?= go
export PATH := /usr/local/go/bin:$(PATH)
# make test fuzzes each target for a number of executions (a few seconds
# each here): a -fuzztime duration races Go 1.26's fuzz coordinator, which
# then fails with "context deadline exceeded" when the machine is busy
# (golang/go#75804). FUZZTIME (e.g. 10m) overrides the counts for longer runs.
FUZZTIME ?=
fuzztime = $(if $(FUZZTIME),$(FUZZTIME),$(1))

.PHONY: all build demo test env vet unit fuzz bench bench-neutron clean

all: build

build:
	$(GO) build -o bin/qdhcp-agent ./cmd/qdhcp-agent

# demo: install what is needed, start OVS, run the agent on testdata/networks
# with a client namespace that obtains a lease (Ctrl-C stops and cleans up).
demo:
	bash scripts/demo.sh

# env installs the Debian packages and starts OVS (userspace br-int) and RabbitMQ.
env:
	bash scripts/testenv.sh setup

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

# test: everything, as root, on real namespaces, OVS, dnsmasq and RabbitMQ,
# including the ovs-vswitchd and RabbitMQ restart tests (packages run one at
# a time: those restarts must not hit another package's test), then short
# fuzz runs of every fuzz target.
test: env vet
	QDHCP_OVS_RESTART_TEST=1 QDHCP_RABBIT_RESTART_TEST=1 $(GO) test -count=1 -p 1 -timeout 30m ./...
	$(MAKE) fuzz

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzRender$$' -fuzztime $(call fuzztime,100000x) ./dnsmasq/
	$(GO) test -run '^$$' -fuzz '^FuzzParseLeases$$' -fuzztime $(call fuzztime,300000x) ./dnsmasq/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeNetwork$$' -fuzztime $(call fuzztime,100000x) ./model/
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(call fuzztime,30000x) ./dhcpagent/config/

# unit: the tests that need neither root nor services.
unit:
	QDHCP_SKIP_ROOT=1 $(GO) test -count=1 ./...

# bench: the Go benchmarks, then `qdhcp-agent bench` (as root, on OVS):
# one JSON line per scenario (render, floor, cold sync with internal ports
# and with veths, restart sync, event latency, storm, RSS). Extra flags: make bench BENCH_ARGS="--networks 200".
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./dnsmasq/ ./procmon/ ./source/filesource/
	WITH_RABBITMQ=0 bash scripts/testenv.sh setup
	./bin/qdhcp-agent bench $(BENCH_ARGS)

# bench-neutron: neutron's own neutron-dhcp-agent and qdhcp-agent, one after
# the other, against the same stand-in neutron server (real oslo.messaging on
# RabbitMQ) and the same networks: one JSON line per agent, then the ratio.
# Extra flags: make bench-neutron NBENCH_ARGS="--networks 50 --ports 20".
bench-neutron: build
	bash scripts/testenv.sh setup
	/usr/bin/python3 scripts/bench_neutron.py $(NBENCH_ARGS)

clean:
	rm -rf bin
