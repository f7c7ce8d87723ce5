"""docker-compose.yml, validated without a Docker engine: structure, CLI commands, settings,
health checks, Prometheus targets, and the infrastructure-only route that pytest-docker uses."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.deploy.contract import (
    ALL_INTERFACES,
    REPO,
    check_environment,
    check_streams_command,
    load_documents,
    web_port,
)

pytestmark = pytest.mark.unit

COMPOSE = REPO / "docker-compose.yml"
PROMETHEUS = REPO / "deploy" / "prometheus" / "prometheus.yml"
INFRASTRUCTURE = {"kafka", "schema-registry", "postgres"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    (document,) = load_documents(COMPOSE)
    return document


def _streams_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("build", {}).get("dockerfile") == "deploy/Dockerfile"
    }


def test_every_streams_service_runs_a_real_cli_command_with_known_settings(
    compose: dict[str, Any],
) -> None:
    services = _streams_services(compose)

    commands = {name: check_streams_command(s["command"]).command for name, s in services.items()}
    for service in services.values():
        check_environment(service["environment"])

    assert sorted(set(commands.values())) == ["connect", "sink", "topics", "worker"]
    assert (REPO / "deploy" / "Dockerfile").is_file()


def test_the_full_stack_has_connectors_workers_sinks_and_prometheus(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    roles = [check_streams_command(s["command"]) for s in _streams_services(compose).values()]

    venues = {args.venue for args in roles if args.command == "connect"}
    sinks = {args.target for args in roles if args.command == "sink"}
    assert len(venues) >= 2
    assert sinks == {"postgres", "parquet"}
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert "prometheus" in services
    assert set(services) >= INFRASTRUCTURE


def test_scaled_workers_do_not_outnumber_the_partitions(compose: dict[str, Any]) -> None:
    services = compose["services"]
    partitions = check_streams_command(services["topics"]["command"]).partitions
    worker = check_streams_command(services["worker"]["command"])

    assert services["worker"]["deploy"]["replicas"] <= partitions
    assert worker.partitions == partitions


def test_depends_on_names_real_services_with_valid_conditions(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert dependency != name, f"{name} depends on itself"
            assert rule["condition"] in CONDITIONS
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
            if rule["condition"] == "service_completed_successfully":
                assert services[dependency].get("restart") == "no"


def test_long_running_roles_have_a_healthcheck_on_their_own_health_port(
    compose: dict[str, Any],
) -> None:
    for name, service in _streams_services(compose).items():
        args = check_streams_command(service["command"])
        if args.command == "topics":
            assert service["restart"] == "no"
            continue
        port = web_port(args)
        probe = " ".join(service["healthcheck"]["test"])
        assert port is not None, f"{name} serves no health endpoint"
        assert args.web_host == ALL_INTERFACES, f"{name}: Prometheus cannot reach 127.0.0.1"
        assert f"127.0.0.1:{port}/healthz" in probe, f"{name}: healthcheck on another port"


def test_infrastructure_alone_is_what_a_plain_up_starts_for_pytest_docker(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    without_profile = {name for name, s in services.items() if not s.get("profiles")}

    # tests/fixtures/kafka.py: `docker compose up` then port_for("kafka", 9092)
    assert without_profile == INFRASTRUCTURE
    assert "9092:9092" in services["kafka"]["ports"]
    listeners = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert "EXTERNAL://localhost:9092" in listeners


def test_prometheus_scrapes_every_role_on_its_health_port(compose: dict[str, Any]) -> None:
    (config,) = load_documents(PROMETHEUS)
    targets: set[str] = set()
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            targets.update(static["targets"])
        for dns in job.get("dns_sd_configs", []):
            targets.update(f"{name}:{dns['port']}" for name in dns["names"])

    expected = set()
    for name, service in _streams_services(compose).items():
        args = check_streams_command(service["command"])
        if args.command != "topics":
            expected.add(f"{name}:{web_port(args)}")
    assert expected <= targets
    mounted = " ".join(compose["services"]["prometheus"]["volumes"])
    for path in re.findall(r"\./(deploy/\S+?):", mounted):
        assert (REPO / path).is_file()
