# Streamflow DataOps developer targets.
PYTHON ?= .venv/bin/python
BENCH_ARGS ?=

.PHONY: test bench bench-quick drills cluster cluster-down bench-cluster

test:  ## the whole test suite (PostgreSQL half when STREAMFLOW_TEST_POSTGRES_URL is set)
	bash scripts/test.sh

drills:  ## fault drills only (SIGKILL, transient faults, malformed payloads, database loss)
	bash scripts/bootstrap.sh
	$(PYTHON) -m pytest tests/drills -q

bench:  ## benchmarks: prints the tables and writes docs/benchmarks.md (BENCH_ARGS="--only parse" for one part)
	bash scripts/bootstrap.sh
	$(PYTHON) -m bench $(BENCH_ARGS)

bench-quick:  ## a small smoke run of every benchmark (nothing written)
	bash scripts/bootstrap.sh
	$(PYTHON) -m bench --quick

cluster:  ## the compose deployment's processes on this machine (CeleryExecutor, 2 workers, FAB): scripts/cluster.sh up
	bash scripts/bootstrap.sh
	bash scripts/cluster.sh up

cluster-down:  ## stop them and drop their databases
	bash scripts/cluster.sh down --purge

bench-cluster:  ## benchmark 5: 220 stations with 1 vs 2 Celery workers (writes docs/benchmarks.md)
	bash scripts/bootstrap.sh
	$(PYTHON) -m bench --only cluster
