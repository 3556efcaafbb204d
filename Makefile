# qdhcp - the two set-up commands of the README are `make demo` and `make test`.
GO ?= go
export PATH := /usr/local/go/bin:$(PATH)

.PHONY: all build test unit env vet demo bench fuzz clean

all: build

build:
	$(GO) build -o bin/qdhcp-agent ./cmd/qdhcp-agent

# env installs the Debian packages and starts OVS (userspace br-int) and RabbitMQ.
env:
	bash scripts/testenv.sh setup

vet:
	$(GO) vet ./...

# test: everything, on real namespaces, OVS, dnsmasq and RabbitMQ (as root).
test: env vet
	$(GO) test -count=1 -p 1 -timeout 40m ./...

# unit: the tests that need no root and no services.
unit:
	QDHCP_SKIP_ROOT=1 $(GO) test -count=1 ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./dnsmasq/

clean:
	rm -rf bin
