# Load tests and benchmarks (`javumbo-load`). Included from the root Makefile:
#     include tests/load/load.mk
# `make bench` measures the standard set and writes bench/REPORT.md (committed); each run's
# full report (JSON, HTML, markdown, SVG) stays in bench/runs/<name>/. Every --spawn-local run
# also records the server's RSS (it and its container processes); memory-100 checks the
# "100 users, 1 container, < 300 MB" target. bench-lambda packages the six Lambda functions
# (`make package`, shared/storage-aws/aws.mk) and times each bootstrap's cold start against a
# local Lambda Runtime API; REPORT.md also lists the zips' sizes.

LOAD_TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
LOAD_BIN        := $(LOAD_TARGET_DIR)/release/javumbo-load
LOAD_SERVER     := $(LOAD_TARGET_DIR)/release/javumbo-local
BENCH_RUNS      := bench/runs
# Common flags: no think time (saturation), quiet logs, the release server.
LOAD_FLAGS      := --quiet --think-ms 0 --seed 42 --server-bin $(LOAD_SERVER)
# Fault mix of the fault run: a container SIGKILLed every 5 s; the bus drops, duplicates and
# delays flush messages; 1% of store calls fail, 0.5% fail after taking effect (a timeout).
LOAD_FAULTS     := --kill-every 5 --fault-bus-drop 0.05 --fault-bus-dup 0.05 \
                   --fault-bus-delay-ms 50 --fault-store-fail 0.01 --fault-store-ambiguous 0.005

# Cold starts per function (each a fresh process), after one discarded warm-up start.
LAMBDA_COLD_RUNS ?= 20

.PHONY: bench bench-build bench-runs bench-micro bench-emulator bench-lambda bench-aws-service

bench-build: deps-build
	$(CARGO) build --release --locked -p javumbo-local -p javumbo-load

# Runs that fail their audit exit non-zero; the `-` keeps going so REPORT.md shows the failure.
bench-runs: bench-build
	rm -rf $(BENCH_RUNS) && mkdir -p $(BENCH_RUNS)
	-$(LOAD_BIN) $(LOAD_FLAGS) --spawn-local 1 --users 1 --iterations 40 --scenario mix \
	  --title "single user, 1 container (embedded adapters)" --report $(BENCH_RUNS)/single-user
	-$(LOAD_BIN) $(LOAD_FLAGS) --spawn-local 1 --users 200 --duration 30 --scenario study --reviews 50 \
	  --title "saturation, 1 container, 200 users" --report $(BENCH_RUNS)/saturation-1
	-$(LOAD_BIN) $(LOAD_FLAGS) --spawn-local 1 --users 100 --duration 30 --scenario mix \
	  --title "memory, 1 container, 100 users" --report $(BENCH_RUNS)/memory-100
	-$(LOAD_BIN) $(LOAD_FLAGS) --spawn-local 8 --users 200 --duration 30 --scenario study --reviews 50 \
	  --title "saturation, 8 containers, 200 users" --report $(BENCH_RUNS)/saturation-8
	-$(LOAD_BIN) $(LOAD_FLAGS) --spawn-local 8 --users 200 --duration 900 --max-requests 100000 \
	  --scenario mix $(LOAD_FAULTS) \
	  --title "fault run, 8 containers, 200 users" --report $(BENCH_RUNS)/fault-8

bench-micro: deps-build
	$(CARGO) bench --locked -p javumbo-load

# The same kind of load on the AWS adapters, when `make emulator-up` left a stack running
# (deploy it with JAVUMBO_COMPACT_AFTER=64 for production settings). Few users: ministack starts
# one function process per concurrent invocation and adds ~50 ms to every call, so this run
# measures the AWS path's behaviour and audit, not AWS's speed.
bench-emulator: bench-build
	@if [ -f .emulator/url ] && curl -fsS -o /dev/null "$$(cat .emulator/endpoint)/_ministack/health"; then \
	  $(LOAD_BIN) $(LOAD_FLAGS) --target "$$(cat .emulator/url)" --users 4 --duration 30 --scenario mix \
	    --title "AWS adapters on the emulator stack (ministack), 4 users" --report $(BENCH_RUNS)/emulator || true; \
	else echo "no emulator stack running (make emulator-up): skipping the AWS-adapter run"; fi

# The packaged (release, `lambda` profile) bootstraps, each unpacked from its zip by
# javumbo-load into a temporary directory. Failed runs are reported, not fatal (as above).
bench-lambda: package bench-build
	rm -rf $(BENCH_RUNS)/cold-start
	-$(LOAD_BIN) cold-start --runs $(LAMBDA_COLD_RUNS) --out $(BENCH_RUNS)/cold-start \
	  $(foreach b,$(LAMBDA_BINS),$(LAMBDA_DIR)/$(b)/bootstrap.zip)

# javumbo-local --stores aws on the emulator stack's stores (when `make emulator-up` left one):
# the API process on the AWS adapters without API Gateway/Lambda in front, and DynamoDB write
# units per acknowledged write from the adapter's counters (tests/load/aws-service.sh).
bench-aws-service: bench-build
	-tests/load/aws-service.sh $(LOAD_SERVER) $(LOAD_BIN) $(BENCH_RUNS)/aws-service \
	  --quiet --think-ms 0 --seed 42 --users 20 --duration 30 --scenario mix \
	  --title "javumbo-local --stores aws on the emulator's stores, 20 users"

# bench-lambda last: bench-runs starts by emptying $(BENCH_RUNS).
bench: bench-runs bench-emulator bench-aws-service bench-micro bench-lambda
	$(LOAD_BIN) bench-report --out bench/REPORT.md --criterion $(LOAD_TARGET_DIR)/criterion \
	  --cold-start $(BENCH_RUNS)/cold-start --lambda-dir $(LAMBDA_DIR) \
	  $(BENCH_RUNS)/single-user $(BENCH_RUNS)/saturation-1 $(BENCH_RUNS)/memory-100 \
	  $(BENCH_RUNS)/saturation-8 $(BENCH_RUNS)/fault-8 \
	  $$(test -d $(BENCH_RUNS)/emulator && echo $(BENCH_RUNS)/emulator) \
	  $$(test -d $(BENCH_RUNS)/aws-service && echo $(BENCH_RUNS)/aws-service)
	@echo "wrote bench/REPORT.md"
