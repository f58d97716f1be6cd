"""deploy/: the compose file and the Kubernetes manifests parse, pass only settings that exist,
keep secrets out of the files, and agree with each other on image, ports, probes and stop time."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from activities.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SECRETS = {"DATABASE_URL", "DUBAN_WEBHOOK_SECRET", "DUBAN_CODEC_KEYS", "DUBAN_SMTP_PASSWORD", "POSTGRES_PASSWORD"}
REQUIRED = {"webhook_secret": "x", "database_url": "postgresql://h/d", "temporal_address": "h:7233"}
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return doc


def manifests() -> list[dict[str, Any]]:
    return [d for p in sorted((DEPLOY / "k8s").glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]


def pod_specs() -> dict[str, dict[str, Any]]:
    out = {}
    for d in manifests():
        if d["kind"] in ("Deployment", "Job"):
            out[d["metadata"]["name"]] = d["spec"]["template"]["spec"]
    return out


def configmap() -> dict[str, str]:
    [cm] = [d for d in manifests() if d["kind"] == "ConfigMap"]
    data: dict[str, str] = cm["data"]
    return data


def setting_names() -> set[str]:
    """Every environment variable Settings reads (DUBAN_ prefix, or an alias)."""
    names = set()
    for name, f in Settings.model_fields.items():
        names.add(f"DUBAN_{name.upper()}")
        if f.validation_alias is not None:
            names.update(str(c) for c in getattr(f.validation_alias, "choices", [f.validation_alias]))
    return names


def duban_env() -> dict[str, str]:
    env: dict[str, str] = compose()["x-duban"]["environment"]
    return env


def test_every_duban_setting_passed_exists() -> None:
    known = setting_names()
    passed = set(duban_env()) | set(configmap())
    passed |= set(re.findall(r"--from-literal=(\w+)=", (DEPLOY / "k8s" / "README.md").read_text()))
    unknown = {n for n in passed if n.startswith("DUBAN_") and n not in known}
    assert not unknown, f"not in Settings: {unknown}"
    assert {"DUBAN_TEMPORAL_ADDRESS", "TEMPORAL_ADDRESS", "DATABASE_URL"} <= known


def test_the_settings_the_files_pass_are_valid() -> None:
    cm = {k.removeprefix("DUBAN_").lower(): v for k, v in configmap().items() if k.startswith("DUBAN_")}
    Settings.model_validate({**cm, **REQUIRED})
    env = {
        k.removeprefix("DUBAN_").lower(): v for k, v in duban_env().items() if k.startswith("DUBAN_") and "${" not in v
    }
    Settings.model_validate({**env, **REQUIRED})


def test_secrets_come_from_the_environment_never_the_files() -> None:
    for k, v in duban_env().items():
        if k in SECRETS:
            assert "${" in v, f"compose: {k} must come from the environment"
    for name, v in compose()["services"]["postgresql"]["environment"].items():
        if name == "POSTGRES_PASSWORD":
            assert v.startswith("${")
    assert not SECRETS & set(configmap()), "secrets belong in the Secret, not the ConfigMap"
    for d in manifests():
        assert d["kind"] != "Secret", "a Secret with values in a file"
    for name, spec in pod_specs().items():
        for c in spec["containers"]:
            refs = {next(iter(r)): next(iter(r.values()))["name"] for r in c.get("envFrom", [])}
            assert refs == {"configMapRef": "duban", "secretRef": "duban"}, name
            assert not {e["name"] for e in c.get("env", [])} & SECRETS, name


def test_one_image_and_release_everywhere() -> None:
    images = {c["image"] for spec in pod_specs().values() for c in spec["containers"]}
    assert len(images) == 1 and next(iter(images)).endswith(f"/duban:{VERSION}"), images
    assert compose()["x-duban"]["image"] == f"duban:{VERSION}"
    for name in ("migrate", "worker", "web"):
        assert compose()["services"][name]["image"] == f"duban:{VERSION}"


def test_ports_and_health_checks_agree() -> None:
    port, sdk = int(configmap()["DUBAN_METRICS_PORT"]), int(configmap()["DUBAN_SDK_METRICS_PORT"])
    assert (int(duban_env()["DUBAN_METRICS_PORT"]), int(duban_env()["DUBAN_SDK_METRICS_PORT"])) == (port, sdk)
    assert configmap()["DUBAN_METRICS_HOST"] == duban_env()["DUBAN_METRICS_HOST"] == "0.0.0.0"
    worker = pod_specs()["duban-worker"]["containers"][0]
    named = {p["name"]: p["containerPort"] for p in worker["ports"]}
    assert named == {"metrics": port, "sdk-metrics": sdk}
    for probe in ("readinessProbe", "livenessProbe"):
        assert worker[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    [svc] = [d for d in manifests() if d["kind"] == "Service" and d["metadata"]["name"] == "duban-worker-metrics"]
    assert {p["port"] for p in svc["spec"]["ports"]} == {port, sdk}
    # compose: the health check and published port are the metrics port; Prometheus scrapes both.
    cw = compose()["services"]["worker"]
    assert f":{port}/metrics" in " ".join(cw["healthcheck"]["test"])
    assert cw["ports"] == [f"127.0.0.1:{port}:{port}"]
    prom = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    targets = {t for job in prom["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    assert {f"worker:{port}", f"worker:{sdk}"} <= targets
    # The web door: one port in its command, its container port, its probe, its service.
    web = pod_specs()["duban-web"]["containers"][0]
    web_port = int(web["command"][web["command"].index("--port") + 1])
    assert web["ports"] == [{"name": "http", "containerPort": web_port}]
    assert web["readinessProbe"]["tcpSocket"]["port"] == "http"
    cweb = compose()["services"]["web"]
    assert cweb["command"][cweb["command"].index("--port") + 1] == str(web_port)
    assert cweb["ports"] == [f"127.0.0.1:{web_port}:{web_port}"]
    assert str(web_port) in " ".join(cweb["healthcheck"]["test"])


@pytest.mark.parametrize("where", ["k8s", "compose", "systemd"])
def test_the_stop_waits_longer_than_the_graceful_period(where: str) -> None:
    grace = float(configmap()["DUBAN_GRACEFUL_SHUTDOWN_SECONDS"])
    assert float(duban_env()["DUBAN_GRACEFUL_SHUTDOWN_SECONDS"]) == grace == Settings().graceful_shutdown_seconds
    if where == "k8s":
        waits = float(pod_specs()["duban-worker"]["terminationGracePeriodSeconds"])
    elif where == "compose":
        waits = float(compose()["services"]["worker"]["stop_grace_period"].removesuffix("s"))
        assert compose()["services"]["worker"]["stop_signal"] == "SIGINT"
    else:
        unit = (DEPLOY / "systemd" / "duban-worker.service").read_text()
        waits = float(re.search(r"^TimeoutStopSec=(\d+)", unit, re.M).group(1))  # type: ignore[union-attr]
    from worker import STOP_SECONDS

    assert waits >= grace + STOP_SECONDS


def test_the_compose_stack_has_what_the_issue_asks() -> None:
    services = compose()["services"]
    assert {"postgresql", "temporal", "temporal-ui", "migrate", "worker", "web", "prometheus"} <= set(services)
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert services["worker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
