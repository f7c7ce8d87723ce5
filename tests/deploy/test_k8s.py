"""deploy/k8s validated offline: every document against the Kubernetes JSON schemas (strict: an
unknown or misspelt field fails), then what the schemas cannot know: commands and options exist in
the CLI, settings parse, probes hit the role's own pages, workers never outnumber partitions."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from streams.venues.registry import venue_names
from tests.deploy.contract import (
    ALL_INTERFACES,
    KNOWN_VARIABLES,
    REPO,
    check_environment,
    check_streams_command,
    load_documents,
    web_port,
)

pytestmark = pytest.mark.unit

K8S = REPO / "deploy" / "k8s"
# Oldest Kubernetes release still supported upstream when this was written; the HPA, PDB and
# probe fields used here exist unchanged in every later one (checked below against the newest).
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
DEPLOYMENTS = {"worker", "connector", "sink"}


def _documents() -> list[tuple[Path, dict[str, Any]]]:
    (kustomization,) = load_documents(K8S / "kustomization.yaml")
    return [
        (K8S / name, document)
        for name in kustomization["resources"]
        for document in load_documents(K8S / name)
    ]


def _by_kind(kind: str) -> list[dict[str, Any]]:
    return [document for _, document in _documents() if document["kind"] == kind]


def _containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = document["spec"]["template"]["spec"]["containers"]
    return containers


def _settings_environment() -> dict[str, str]:
    (config_map,) = _by_kind("ConfigMap")
    (secret,) = _by_kind("Secret")
    return {**config_map["data"], **secret["stringData"]}


def test_kustomization_lists_every_manifest_file() -> None:
    (kustomization,) = load_documents(K8S / "kustomization.yaml")
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}

    assert set(kustomization["resources"]) == files


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_validates_against_the_kubernetes_schemas(version: str) -> None:
    documents = _documents()
    for path, document in documents:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            raise AssertionError(f"{path.name} {document['kind']}: {error.message}") from error
    kinds = Counter(document["kind"] for _, document in documents)
    assert kinds["Deployment"] == 5
    assert kinds["PodDisruptionBudget"] == 2
    assert kinds["HorizontalPodAutoscaler"] == 1


def test_the_validator_rejects_a_misspelt_field() -> None:
    (worker,) = [d for d in _by_kind("Deployment") if d["metadata"]["name"] == "streams-worker"]
    broken = {**worker, "spec": {**worker["spec"], "replica": 3}}

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_every_container_runs_a_real_cli_command() -> None:
    workloads = _by_kind("Deployment") + _by_kind("Job")
    commands = Counter()
    for workload in workloads:
        for container in _containers(workload):
            assert "command" not in container, "keep the image's ENTRYPOINT (`streams`)"
            commands[check_streams_command(container["args"]).command] += 1

    assert commands == {"connect": 3, "worker": 1, "sink": 1, "topics": 1}


def test_config_map_and_secret_hold_only_real_settings_and_parse() -> None:
    environment = _settings_environment()
    (secret,) = _by_kind("Secret")

    settings = check_environment(environment)

    assert set(environment) <= KNOWN_VARIABLES
    assert settings.security_protocol == "SASL_SSL"
    assert settings.sasl_password is not None
    assert {"KAFKA_SASL_PASSWORD", "POSTGRES_DSN"} <= set(secret["stringData"])
    for workload in _by_kind("Deployment") + _by_kind("Job"):
        for container in _containers(workload):
            sources = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
            assert sources == {"streams-config", "streams-secrets"}
            assert "env" not in container, "settings come from the ConfigMap and the Secret"


def test_connectors_one_per_venue_single_replica_recreated() -> None:
    connectors = [
        d for d in _by_kind("Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == "connector"
    ]  # fmt: skip
    venues = [check_streams_command(_containers(d)[0]["args"]).venue for d in connectors]

    assert len(venues) == len(set(venues)) == 3
    assert set(venues) <= set(venue_names())
    for connector in connectors:
        assert connector["spec"]["replicas"] == 1  # two would publish every delta twice
        assert connector["spec"]["strategy"]["type"] == "Recreate"


def test_probes_resources_and_metrics_annotations_point_at_the_role_pages() -> None:
    for deployment in _by_kind("Deployment"):
        template = deployment["spec"]["template"]
        assert (
            deployment["spec"]["selector"]["matchLabels"].items()
            <= template["metadata"]["labels"].items()
        )
        assert template["metadata"]["labels"]["app.kubernetes.io/component"] in DEPLOYMENTS
        for container in _containers(deployment):
            args = check_streams_command(container["args"])
            port = web_port(args)
            assert args.web_host == ALL_INTERFACES
            assert container["ports"] == [{"name": "http", "containerPort": port}]
            assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
            assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
            assert template["metadata"]["annotations"]["prometheus.io/port"] == str(port)
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"])
            assert "memory" in resources["limits"]


def test_pods_run_unprivileged_on_a_read_only_root() -> None:
    for workload in _by_kind("Deployment") + _by_kind("Job"):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        mounts = {m["name"]: m["mountPath"] for c in pod["containers"] for m in c["volumeMounts"]}
        volumes = {v["name"] for v in pod["volumes"]}
        assert set(mounts) <= volumes
        assert "/tmp" in mounts.values()
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False


def test_workers_never_outnumber_the_partitions() -> None:
    (job,) = _by_kind("Job")
    partitions = check_streams_command(_containers(job)[0]["args"]).partitions
    (worker,) = [d for d in _by_kind("Deployment") if d["metadata"]["name"] == "streams-worker"]
    (autoscaler,) = _by_kind("HorizontalPodAutoscaler")

    assert worker["spec"]["replicas"] <= partitions
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == "streams-worker"
    assert autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"] <= partitions
    assert check_streams_command(_containers(worker)[0]["args"]).partitions == partitions


def test_disruption_budgets_select_a_deployment_with_more_than_one_replica() -> None:
    deployments = _by_kind("Deployment")
    for budget in _by_kind("PodDisruptionBudget"):
        selector = budget["spec"]["selector"]["matchLabels"].items()
        selected = [
            d for d in deployments
            if selector <= d["spec"]["template"]["metadata"]["labels"].items()
        ]  # fmt: skip
        assert len(selected) == 1, f"{budget['metadata']['name']} selects {len(selected)}"
        assert selected[0]["spec"]["replicas"] > budget["spec"]["maxUnavailable"]
