# Tributary's entry points. Every target that talks to Redis or RabbitMQ sources
# .run/env, written by `make services`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
GO ?= go
BIN := bin/tributary
ENV := set -a; [ -f .run/env ] && . .run/env; set +a;
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
TEST_TIMEOUT ?= 40m

.PHONY: help deps services services-down data build test test-rediscluster test-rediscluster-short rediscluster rediscluster-down test-unit lint fuzz demo bench clean cluster cluster-down cluster-status chaos chaos-short infra infra-destroy infra-check infra-secrets eval-elasticity eval-balance eval-cost eval-matrix notebooks

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

deps: ## install what is missing on Debian/Ubuntu (redis-server, rabbitmq-server, npm)
	scripts/deps.sh

services: ## start the private Redis and RabbitMQ under .run/ and write .run/env
	scripts/services.sh up

services-down: ## stop the private Redis and RabbitMQ
	scripts/services.sh down

data: ## fetch vega-datasets@3.2.1 with npm pack into data/ and check its sha256
	scripts/data.sh

build: ## build bin/tributary
	$(GO) build -o $(BIN) ./cmd/tributary

test: deps services data ## the whole test suite against the real services
	$(ENV) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

# The packages whose tests exercise Redis and run against a Redis Cluster too.
REDISCLUSTER_PKGS ?= ./speed/... ./batch/... ./serving/... ./ingest/... ./internal/... ./cmd/... ./scheduler/... ./workers/... ./autoscale/... ./tools/...
REDISCLUSTER_RUN ?= .
# Tests that start a Sentinel set of their own (fixed ports) test Sentinel, not
# the cluster: `make test` runs them.
REDISCLUSTER_SKIP ?= TestViewsExactThroughLossyRedisFailover|TestSwitchLostInFailover|TestFailoverFollowed

rediscluster: ## a local 3-master Redis Cluster under .run/rediscluster/ (ports from TRIBUTARY_REDISCLUSTER_PORT, default 7800-7802)
	scripts/rediscluster.sh up

rediscluster-down: ## stop the local Redis Cluster
	scripts/rediscluster.sh down

test-rediscluster: deps services data rediscluster ## the Redis tests against the local 3-master Redis Cluster (REDISCLUSTER_PKGS)
	$(ENV) . .run/rediscluster/env; $(GO) test -count=1 -p 2 -timeout $(TEST_TIMEOUT) -run '$(REDISCLUSTER_RUN)' -skip '$(REDISCLUSTER_SKIP)' $(REDISCLUSTER_PKGS)

# The packages that own a Redis script (speed flush, leases, archive commit,
# the view's switch, the scheduler's graph and batch scripts), for CI.
REDISCLUSTER_SHORT_PKGS := ./speed/store/... ./batch/archive/... ./batch/view/... ./scheduler/internal/state/... ./scheduler/taskq/... ./internal/lease/... ./internal/membership/...

test-rediscluster-short: ## every Redis script's package against the local Redis Cluster (the CI subset of test-rediscluster, under a minute)
	$(MAKE) test-rediscluster REDISCLUSTER_PKGS='$(REDISCLUSTER_SHORT_PKGS)'

lint: ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

fuzz: ## run every fuzz target for FUZZTIME each (default 30s)
	for t in ingest/wire:FuzzDecodeJSON ingest/wire:FuzzDecodeArrow serving/query:FuzzParseSpan serving/query:FuzzParseAirport serving/query:FuzzParseTop; do \
	  $(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $${FUZZTIME:-30s} ./$${t%%:*} || exit 1; done

demo: deps services data build ## the whole pipeline on this machine
	$(ENV) scripts/demo.sh

bench: deps services data ## the deployed processes vs their references, one table, JSON in bench/results, docs/benchmarks.md (BENCH_QUICK=1: minutes)
	$(ENV) scripts/bench.sh

cluster: deps data build ## a 3-node RabbitMQ, Redis + Sentinels, every role twice behind HAProxy (.run/cluster/, ports from TRIBUTARY_CLUSTER_BASE_PORT, default 7600)
	scripts/cluster.sh up

cluster-down: ## stop everything make cluster started
	scripts/cluster.sh down

cluster-status: ## a JSON list of the cluster's processes: name, kind, address, pid, role
	@scripts/cluster.sh status

chaos: cluster ## every fault scenario during a replay on make cluster, each checked exact (results in .run/chaos/)
	scripts/chaos.sh all

chaos-short: cluster ## the CI subset of make chaos on 100k flights
	scripts/chaos.sh short

infra-check: services build ## offline checks of infra/: terraform validate/plan/test, ansible-lint, yamllint, promtool, amtool, smoke run of the rendered units
	infra/scripts/check.sh

infra-secrets: ## create, once, the ansible-vault file of the cluster's secrets (infra/README.md)
	infra/scripts/secrets.sh

infra: ## deploy on GCP: terraform apply, inventory, playbooks, addresses (infra/README.md)
	GOOS=linux GOARCH=amd64 $(GO) build -o $(BIN) ./cmd/tributary
	infra/scripts/infra.sh up

infra-destroy: ## drain the workers and destroy the GCP deployment
	infra/scripts/infra.sh destroy

clean: services-down ## stop the services and remove .run/ and bin/
	rm -rf .run bin

eval-elasticity: cluster ## the autoscaler under a load profile (MODE=short: ~2.5 min, full: ~8 min, day: ~15 min) -> bench/elasticity/
	scripts/eval-elasticity.sh $(or $(MODE),short)

eval-balance: cluster ## events, partitions and CPU per speed worker on make cluster, plus the exact shares from the data set -> bench/balance/
	$(GO) run ./tools/evalbalance > bench/balance/balance-static.json
	scripts/eval-balance.sh $(or $(ROWS),300000)

eval-matrix: cluster ## throughput under configurations (speed/batch workers, partitions, flush, Arrow/JSON), ~12-15 min; MATRIX_QUICK=1: 3 small cells, ~3 min -> bench/matrix/
	scripts/eval-matrix.sh

eval-cost: ## cost per size, per million events and the autoscaler's saving, from infra's price table -> bench/cost/cost.json
	python3 scripts/eval-cost.py > bench/cost/cost.json

notebooks: ## execute the notebooks (Debian's Jupyter) on the committed result files
	for nb in notebooks/*.ipynb; do /usr/bin/python3 -m jupyter nbconvert --to notebook --execute --inplace "$$nb" || exit 1; done
