# blossom build and test entry points. `make test` is what CI runs.
GO ?= go
# Packages whose tests exercise heavy concurrency run again under the race detector.
RACE_PKGS = ./internal/identity/... ./internal/transport/... ./internal/caserver/... ./internal/ledger/... ./internal/validator/... ./internal/gateway/... ./internal/client/... ./internal/chaincode/... ./internal/transient/... ./internal/cpugate/...
# The orderer and peer race runs use -short (fewer envelopes in the leader-kill tests).
RACE_SHORT_PKGS = ./internal/orderer/... ./internal/peer/...
# The FIPS 140-3 run covers the cryptographic layers.
FIPS_PKGS = ./internal/pki/... ./internal/identity/... ./internal/transport/... ./internal/policy/... ./internal/protocol/... ./internal/gateway/...

# Chaincodes built to WebAssembly packages (reproducible; see internal/chaincode/ccpackage).
CHAINCODES = kvtest authorization asset

.PHONY: build test deps lint unit race fips generate chaincodes bundle faults

build:
	$(GO) build -trimpath -o bin/blossom ./cmd/blossom

deps:
	./scripts/install-test-deps.sh
	$(GO) mod download
	$(GO) mod verify

lint:
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	BLOSSOM_REQUIRE_HSM=1 $(GO) test -count=1 -timeout 20m ./...

race:
	BLOSSOM_REQUIRE_HSM=1 $(GO) test -race -count=1 -timeout 20m $(RACE_PKGS)
	$(GO) test -race -short -count=1 -timeout 20m $(RACE_SHORT_PKGS)

fips:
	GODEBUG=fips140=only $(GO) test -count=1 -timeout 10m $(FIPS_PKGS)

test: deps lint unit race fips

generate:
	$(GO) generate ./internal/protocol

# bin/chaincodes/<name>.tar.gz for each chaincode/<name>/wasm; prints the package IDs.
chaincodes:
	@for cc in $(CHAINCODES); do \
	  printf '%s\t' $$cc; \
	  $(GO) run ./internal/chaincode/ccpackage/ccbuild -dir ./chaincode/$$cc/wasm -label $$cc -o bin/chaincodes/$$cc.tar.gz || exit 1; \
	done

# bin/blossom with the chaincode packages of `make chaincodes` embedded
# (internal/chaincode/bundled; `blossom chaincode package --bundled NAME`).
bundle: chaincodes
	rm -rf internal/chaincode/bundled/packages && mkdir -p internal/chaincode/bundled/packages
	cp bin/chaincodes/*.tar.gz internal/chaincode/bundled/packages/
	$(GO) build -trimpath -tags bundledchaincodes -o bin/blossom ./cmd/blossom

# The full fault suite (long kill runs, SIGSTOPs, TLS expiry, full disk, partition;
# the disk test mounts a tmpfs and the partition uses ip netns: both need root).
# CI runs the short kill run in `unit`.
faults:
	$(GO) test -tags faults -count=1 -timeout 30m -v ./internal/faults/
