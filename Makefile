# The two commands: `make up` (start the cluster) and `make test` (the whole suite).
COMPOSE_FILE := docker-compose/docker-compose.yml
COMPOSE ?= docker-compose -f $(COMPOSE_FILE)
VENV := .venv
IMAGES := postgis pgpool barman haproxy prometheus

.PHONY: up down logs status test test-multihost unit e2e bench soak docs goldens docker images secrets venv

up: images secrets
	$(COMPOSE) up -d --no-build
	@scripts/wait-healthy 600 $(COMPOSE)
	@echo "Connect through pgpool (writes reach the primary): PGPASSWORD=\$$(cat docker-compose/secrets/postgres_password) psql -h 127.0.0.1 -p $${PGPOOL_PORT:-5430} -U postgres app"

down:
	$(COMPOSE) down

logs:
	$(COMPOSE) logs --tail=100 -f

docker:
	@scripts/ensure-docker
	@scripts/ensure-base-image

images: docker
	@for image in $(IMAGES); do \
	    echo "Building postgis-cluster/$$image"; \
	    docker build -t postgis-cluster/$$image:latest -f src/$$image/Dockerfile . >.build-$$image.log 2>&1 \
	        || { tail -n 30 .build-$$image.log; exit 1; }; \
	done

secrets:
	@scripts/make-secrets docker-compose/secrets

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

docs: venv
	$(VENV)/bin/pgcluster config doc > doc/CONFIGURATION.md

goldens: venv
	$(VENV)/bin/python -m tests.unit.goldens

unit: venv
	$(VENV)/bin/pytest -q tests/unit

e2e: venv images
	$(VENV)/bin/pytest -v tests/e2e

test: venv images
	$(VENV)/bin/pytest -v -rfE --durations=20 tests --ignore=tests/multihost

# The Swarm stack across three Docker-in-Docker hosts (doc/SWARM.md); .ci/run runs it after `make test`.
test-multihost: venv images
	$(VENV)/bin/pytest -v -rfE --durations=10 tests/multihost

MINUTES ?= 60
MODE ?= strict
SEED ?= $(shell date +%s)

soak: venv images
	$(VENV)/bin/python bench/chaos --minutes $(MINUTES) --mode $(MODE) --seed $(SEED)

bench: venv images
	$(VENV)/bin/python bench/failover --runs 5 --modes eventual,partially_strict,strict
	$(VENV)/bin/python bench/failover --runs 5 --modes eventual --via pgpool
	$(VENV)/bin/python bench/failover --runs 5 --modes eventual --via pgpool --fault pause
	$(VENV)/bin/python bench/failover --runs 5 --modes eventual --via pgpool --fault disconnect
	$(VENV)/bin/python bench/failover --runs 5 --modes eventual --via pgbouncer
	$(VENV)/bin/python bench/failover --runs 5 --modes eventual --via haproxy
	$(VENV)/bin/python bench/switchover --runs 5
	$(VENV)/bin/python bench/router
	$(VENV)/bin/python bench/router --clients 1 --threads 1
	$(VENV)/bin/python bench/backup
	$(VENV)/bin/python bench/chaos --minutes 15 --mode strict --seed 7
	$(VENV)/bin/python bench/startup
	$(VENV)/bin/python bench/idle
