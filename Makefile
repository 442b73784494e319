GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/pageshot/pageshot/internal/cli.Version=$(VERSION) \
           -X github.com/pageshot/pageshot/internal/cli.Commit=$(COMMIT)
ARGS    ?=
# An execution count, not a duration: Go 1.26's fuzz coordinator can report a
# spurious "context deadline exceeded" when a -fuzztime duration runs out
# (golang/go#75804); a count never arms that deadline.
FUZZTIME ?= 150000x
# How long make soak runs its load.
SOAK_DURATION ?= 30m
SOAK_ARGS     ?=

.PHONY: setup build run test check race fuzz bench soak clean

## setup: install Chromium and fonts when missing (Debian/Ubuntu)
setup:
	@./scripts/setup.sh

## build: build bin/pageshot
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/pageshot ./cmd/pageshot

## run: set up, build and run the server on 127.0.0.1:8080 (ARGS="..." adds flags)
run: setup build
	./bin/pageshot serve $(ARGS)

## check: gofmt and go vet
check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## test: set up, check, run every test, then the fuzzers briefly
test: setup check
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory fuzz

## race: every test under the race detector (slower)
race: setup
	$(GO) test -race -count=1 -timeout 30m ./...

## fuzz: run each fuzz target for FUZZTIME executions
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzClassify$$' -fuzztime=$(FUZZTIME) ./internal/egress/
	$(GO) test -run='^$$' -fuzz='^FuzzParseHost$$' -fuzztime=$(FUZZTIME) ./internal/egress/
	$(GO) test -run='^$$' -fuzz='^FuzzCheckURL$$' -fuzztime=$(FUZZTIME) ./internal/egress/
	$(GO) test -run='^$$' -fuzz='^FuzzParseOptions$$' -fuzztime=$(FUZZTIME) .
	$(GO) test -run='^$$' -fuzz='^FuzzHandler$$' -fuzztime=$(FUZZTIME) ./internal/httpapi/
	$(GO) test -run='^$$' -fuzz='^FuzzInflate$$' -fuzztime=$(FUZZTIME) ./internal/browser/

## bench: the Go benchmarks of the request path, then pageshot against a
## minimal chromedp program on the same page, then the request path under
## load against a bare handler (pageshot-bench load)
bench: setup build
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=2s ./internal/tenancy/ ./internal/limit/ ./internal/httpapi/
	$(GO) build -o bin/pageshot-bench ./cmd/pageshot-bench
	./bin/pageshot-bench -bin bin/pageshot -o bench-latest.md
	./bin/pageshot-bench load -bin bin/pageshot -o bench-load-latest.md

## soak: the real server under mixed captures, browser kills and overload
## bursts for SOAK_DURATION (30m), a sample a minute; fails on growth or on
## any 500 (not part of make test)
soak: setup build
	$(GO) run ./cmd/pageshot-soak -bin bin/pageshot -duration $(SOAK_DURATION) $(SOAK_ARGS)

clean:
	rm -rf bin pageshot-data bench-latest.md
