"""Deployment artefacts: the Helm chart, docker-compose.yml and the files they mount.

The chart is linted and rendered in-process by helm-python-sdk (Helm's Go SDK, bundled in the
wheel: no helm binary, no cluster, no network). Every manifest is checked against the
Kubernetes schemas that kubernetes-validate ships, then against the platform's own rules.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate  # type: ignore[import-untyped]  # ships no type information
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "switchboard"
COMPOSE = ROOT / "docker-compose.yml"
CREATE_TOPICS = ROOT / "deploy" / "kafka" / "create-topics.sh"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"

SERVICES = ("gateway", "conversation", "campaigns", "billing", "metrics")
HTTP_PORTS = {
    "gateway": 8080,
    "conversation": 8081,
    "campaigns": 8082,
    "billing": 8083,
    "metrics": 8084,
}
WORKER_PORTS = {
    "gateway": 9080,
    "conversation": 9081,
    "campaigns": 9082,
    "billing": 9083,
    "metrics": 9084,
}
SERVICE_UID = 10001
DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?"

# Custom resources: no schema ships for them, so they get a structural check instead.
CUSTOM_KINDS = {"ServiceMonitor": "monitoring.coreos.com/", "KafkaTopic": "kafka.strimzi.io/"}
# The chart's kubeVersion floor and the newest schemas kubernetes-validate has.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())

RELEASE = "switchboard"
NAMESPACE = "switchboard"

VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "strimzi-cnpg": {
        "kafka": {"strimzi": {"enabled": True, "clusterName": "events", "namespace": "kafka"}},
        "postgres": {"cnpg": {"enabled": True, "clusterName": "switchboard-pg"}},
        "secrets": {"existingSecret": "switchboard-keys"},
    },
    "all-features": {
        "image": {"repository": "registry.example.com/switchboard", "tag": "1.2.3"},
        "imagePullSecrets": [{"name": "regcred"}],
        "serviceAccountName": "switchboard",
        "config": {"otlpEndpoint": "http://otel-collector.observability:4318"},
        "postgres": {"url": "postgresql+asyncpg://switchboard:pw@db:5432/switchboard"},
        "secrets": {"extra": {"SWITCHBOARD_BILLING_STRIPE_API_KEY": "sk_test_123"}},
        "defaults": {"http": {"autoscaling": {"enabled": True}}},
        "services": {
            "gateway": {
                "env": {"SWITCHBOARD_GATEWAY_PUBLIC_URL": "https://sms.example.com"},
                "image": {"digest": "sha256:" + "a" * 64},
            },
            "billing": {
                "secretEnv": ["SWITCHBOARD_BILLING_STRIPE_API_KEY"],
                "envFromSecrets": ["billing-extra"],
                "worker": {"autoscaling": {"enabled": True, "maxReplicas": 4}},
            },
            "metrics": {"http": {"podDisruptionBudget": {"enabled": False}}},
        },
        "networkPolicy": {
            "enabled": True,
            "httpFrom": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}}}
            ],
        },
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    },
}

Manifest = dict[str, Any]


@functools.cache
def render(value_set: str) -> tuple[Manifest, ...]:
    """The chart's manifests for one value set, as `helm install` would create them."""
    with helm.Chart.load(CHART) as chart:
        files = chart.render(
            VALUE_SETS[value_set], name=RELEASE, namespace=NAMESPACE, is_install=True
        )
    return tuple(
        document
        for path, text in sorted(files.items())
        if path.endswith((".yaml", ".yml"))
        for document in yaml.safe_load_all(text)
        if document
    )


def of_kind(manifests: tuple[Manifest, ...], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def named(manifests: tuple[Manifest, ...], kind: str, name: str) -> Manifest:
    [manifest] = [m for m in of_kind(manifests, kind) if m["metadata"]["name"] == name]
    return manifest


def pod_spec(workload: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Manifest) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def workloads(manifests: tuple[Manifest, ...]) -> list[Manifest]:
    return [m for m in manifests if m["kind"] in ("Deployment", "Job")]


def hook_events(manifest: Manifest) -> set[str]:
    annotations = manifest["metadata"].get("annotations") or {}
    return set(filter(None, annotations.get("helm.sh/hook", "").split(",")))


def hook_weight(manifest: Manifest) -> int:
    return int(manifest["metadata"]["annotations"].get("helm.sh/hook-weight", "0"))


def image_tag(image: str) -> str | None:
    """The tag of `registry:port/name:tag@digest`, or None when the image has none."""
    reference = image.split("@", 1)[0]
    last_segment = reference.rsplit("/", 1)[-1]
    return last_segment.rsplit(":", 1)[1] if ":" in last_segment else None


def secret_refs(workload: Manifest) -> set[str]:
    """Names of the Secrets a workload's containers read."""
    names = set()
    for container in containers(workload):
        for entry in container.get("env", []):
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                names.add(ref["name"])
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                names.add(source["secretRef"]["name"])
    return names


def config_map_refs(workload: Manifest) -> set[str]:
    names = set()
    for container in containers(workload):
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                names.add(source["configMapRef"]["name"])
    return names


def env_value_from(container: dict[str, Any], name: str) -> dict[str, Any]:
    [entry] = [e for e in container.get("env", []) if e["name"] == name]
    value_from: dict[str, Any] = entry["valueFrom"]
    return value_from


value_sets = pytest.mark.parametrize("value_set", list(VALUE_SETS))


class TestChartRenders:
    @value_sets
    def test_lint_finds_no_warnings(self, value_set: str) -> None:
        report = helm.lint(CHART, VALUE_SETS[value_set], strict=True, namespace=NAMESPACE)

        findings = [m for m in report["messages"] if m["severity"] >= 2]
        assert report["errors"] == []
        assert findings == []

    @value_sets
    def test_values_match_the_schema(self, value_set: str) -> None:
        with helm.Chart.load(CHART) as chart:
            chart.validate_schema(VALUE_SETS[value_set])

    @pytest.mark.parametrize(
        "values",
        [
            {"image": {"tag": "latest"}},
            {"services": {"gateway": {"image": {"tag": "latest"}}}},
        ],
    )
    def test_a_latest_image_tag_is_refused(self, values: dict[str, Any]) -> None:
        # The schema refuses it first; the templates refuse it too, should the schema be skipped.
        with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmError, match="image/tag"):
            chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)

    def test_default_tag_is_the_app_version(self) -> None:
        with helm.Chart.load(CHART) as chart:
            app_version = chart.metadata["appVersion"]

        images = {c["image"] for w in workloads(render("defaults")) for c in containers(w)}

        assert images == {f"ghcr.io/switchboard/{name}:{app_version}" for name in SERVICES}


class TestManifestsAreValidKubernetes:
    @value_sets
    @pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
    def test_built_in_kinds_match_the_api_schema(self, value_set: str, version: str) -> None:
        errors = []
        for manifest in render(value_set):
            if manifest["kind"] in CUSTOM_KINDS:
                continue
            try:
                kubernetes_validate.validate(manifest, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                path = ".".join(str(p) for p in error.path)
                name = f"{manifest['kind']}/{manifest['metadata']['name']}"
                errors.append(f"{name} at {path}: {error.message[:300]}")

        assert errors == []

    @value_sets
    def test_custom_resources_are_well_formed(self, value_set: str) -> None:
        for manifest in render(value_set):
            group = CUSTOM_KINDS.get(manifest["kind"])
            if group is None:
                continue
            assert manifest["apiVersion"].startswith(group)
            assert re.fullmatch(DNS_SUBDOMAIN, manifest["metadata"]["name"])
            assert isinstance(manifest["spec"], dict)
            assert manifest["spec"]

    @value_sets
    def test_names_are_unique_per_kind(self, value_set: str) -> None:
        keys = [(m["kind"], m["metadata"]["name"]) for m in render(value_set)]

        assert len(keys) == len(set(keys))


class TestWorkloadPolicy:
    @value_sets
    def test_images_are_tagged_and_never_latest(self, value_set: str) -> None:
        for workload in workloads(render(value_set)):
            for container in containers(workload):
                tag = image_tag(container["image"])
                assert tag is not None, container["image"]
                assert tag != "latest", container["image"]

    @value_sets
    def test_containers_have_requests_and_limits(self, value_set: str) -> None:
        for workload in workloads(render(value_set)):
            for container in containers(workload):
                resources = container["resources"]
                assert set(resources["requests"]) >= {"cpu", "memory"}, workload["metadata"]
                assert set(resources["limits"]) >= {"cpu", "memory"}, workload["metadata"]

    @value_sets
    def test_long_running_containers_have_liveness_and_readiness_probes(
        self, value_set: str
    ) -> None:
        for deployment in of_kind(render(value_set), "Deployment"):
            for container in containers(deployment):
                assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"

    @value_sets
    def test_pods_run_as_the_image_user_on_a_read_only_root(self, value_set: str) -> None:
        for workload in workloads(render(value_set)):
            spec = pod_spec(workload)
            assert spec["securityContext"]["runAsNonRoot"] is True
            assert spec["securityContext"]["runAsUser"] == SERVICE_UID
            assert spec["automountServiceAccountToken"] is False
            for container in containers(workload):
                context = container["securityContext"]
                assert context["runAsNonRoot"] is True
                assert context["readOnlyRootFilesystem"] is True
                assert context["allowPrivilegeEscalation"] is False
                assert "ALL" in context["capabilities"]["drop"]

    @value_sets
    def test_tmp_is_the_one_writable_directory(self, value_set: str) -> None:
        for workload in workloads(render(value_set)):
            volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
            for container in containers(workload):
                [mount] = container["volumeMounts"]
                assert mount["mountPath"] == "/tmp"
                assert "emptyDir" in volumes[mount["name"]]


class TestChartLayout:
    def test_every_service_gets_http_worker_services_and_a_migration(self) -> None:
        manifests = render("defaults")

        for name in SERVICES:
            http = named(manifests, "Deployment", f"{RELEASE}-{name}-http")
            worker = named(manifests, "Deployment", f"{RELEASE}-{name}-worker")
            migrate = named(manifests, "Job", f"{RELEASE}-{name}-migrate")
            assert containers(http)[0]["args"] == ["http"]
            assert containers(worker)[0]["args"] == ["worker"]
            assert containers(migrate)[0]["args"] == ["migrate"]
            assert containers(http)[0]["ports"][0]["containerPort"] == HTTP_PORTS[name]
            assert containers(worker)[0]["ports"][0]["containerPort"] == WORKER_PORTS[name]
            http_service = named(manifests, "Service", f"{RELEASE}-{name}")
            assert http_service["spec"]["ports"][0]["name"] == "http"
            worker_service = named(manifests, "Service", f"{RELEASE}-{name}-worker")
            assert worker_service["spec"]["ports"][0]["name"] == "metrics"

    @value_sets
    def test_selectors_keep_http_worker_and_migration_pods_apart(self, value_set: str) -> None:
        manifests = render(value_set)
        deployments = of_kind(manifests, "Deployment")

        for deployment in deployments:
            selector = deployment["spec"]["selector"]["matchLabels"].items()
            selected = [
                w["metadata"]["name"]
                for w in workloads(manifests)
                if selector <= w["spec"]["template"]["metadata"]["labels"].items()
            ]
            assert selected == [deployment["metadata"]["name"]]

    @value_sets
    def test_migrations_run_after_everything_they_read(self, value_set: str) -> None:
        manifests = render(value_set)
        rendered = {(m["kind"], m["metadata"]["name"]): m for m in manifests}

        for job in of_kind(manifests, "Job"):
            assert hook_events(job) == {"pre-install", "pre-upgrade"}
            # A Secret the chart renders must be an earlier hook; one it does not render
            # already exists (existingSecret, CloudNativePG).
            for name in secret_refs(job):
                secret = rendered.get(("Secret", name))
                if secret is not None:
                    assert {"pre-install", "pre-upgrade"} <= hook_events(secret)
                    assert hook_weight(secret) < hook_weight(job)
            # The ConfigMaps are ordinary resources, created after pre-install hooks.
            assert config_map_refs(job) == set()

    def test_generated_keys_are_usable(self) -> None:
        secret = named(render("defaults"), "Secret", RELEASE)

        data = {k: base64.b64decode(v) for k, v in secret["data"].items()}

        assert len(data["SWITCHBOARD_ADMIN_KEY"]) >= 32
        # A Fernet key: 32 bytes in URL-safe base64.
        fernet_key = data["SWITCHBOARD_GATEWAY_CREDENTIALS_KEY"]
        assert len(base64.urlsafe_b64decode(fernet_key)) == 32
        assert re.fullmatch(rb"[A-Za-z0-9_-]{43}=", fernet_key)

    def test_only_the_gateway_reads_the_credentials_key(self) -> None:
        for deployment in of_kind(render("defaults"), "Deployment"):
            names = {e["name"] for e in containers(deployment)[0]["env"]}
            component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
            assert ("SWITCHBOARD_GATEWAY_CREDENTIALS_KEY" in names) is (component == "gateway")

    def test_database_url_comes_from_the_existing_secret_by_default(self) -> None:
        http = named(render("defaults"), "Deployment", f"{RELEASE}-gateway-http")

        ref = env_value_from(containers(http)[0], "SWITCHBOARD_DATABASE_URL")["secretKeyRef"]

        assert ref == {"name": "switchboard-postgres", "key": "url"}

    def test_a_database_url_goes_into_the_chart_secret(self) -> None:
        manifests = render("all-features")
        secret = named(manifests, "Secret", RELEASE)
        http = named(manifests, "Deployment", f"{RELEASE}-billing-http")

        ref = env_value_from(containers(http)[0], "SWITCHBOARD_DATABASE_URL")["secretKeyRef"]

        assert ref == {"name": RELEASE, "key": "SWITCHBOARD_DATABASE_URL"}
        stored = base64.b64decode(secret["data"]["SWITCHBOARD_DATABASE_URL"]).decode()
        assert stored == VALUE_SETS["all-features"]["postgres"]["url"]

    def test_cloudnativepg_supplies_the_database_url(self) -> None:
        manifests = render("strimzi-cnpg")

        for workload in workloads(manifests):
            ref = env_value_from(containers(workload)[0], "SWITCHBOARD_DATABASE_URL")
            assert ref["secretKeyRef"] == {"name": "switchboard-pg-app", "key": "uri"}
        # Keys come from the existing Secret, so the chart renders none.
        assert of_kind(manifests, "Secret") == []

    def test_strimzi_declares_every_topic_and_its_dead_letters(self) -> None:
        manifests = render("strimzi-cnpg")
        topics = {t["spec"]["topicName"]: t for t in of_kind(manifests, "KafkaTopic")}

        expected = chart_topics() | {f"{name}.dlq": "delete" for name in chart_topics()}
        assert {n: t["spec"]["config"]["cleanup.policy"] for n, t in topics.items()} == expected
        for topic in topics.values():
            assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "events"
            assert topic["metadata"]["namespace"] == "kafka"
            assert topic["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
            assert topic["spec"]["partitions"] == 8
        config = named(manifests, "ConfigMap", f"{RELEASE}-gateway")["data"]
        bootstrap = config["SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS"]
        assert bootstrap == "events-kafka-bootstrap.kafka.svc:9092"

    def test_optional_resources_are_off_by_default(self) -> None:
        kinds = {m["kind"] for m in render("defaults")}

        assert kinds.isdisjoint(
            {"HorizontalPodAutoscaler", "NetworkPolicy", "ServiceMonitor", "KafkaTopic"}
        )

    def test_optional_resources_follow_their_flags(self) -> None:
        manifests = render("all-features")

        autoscalers = of_kind(manifests, "HorizontalPodAutoscaler")
        scaled = {h["spec"]["scaleTargetRef"]["name"] for h in autoscalers}
        expected = {f"{RELEASE}-{name}-http" for name in SERVICES} | {f"{RELEASE}-billing-worker"}
        assert scaled == expected
        for deployment in of_kind(manifests, "Deployment"):
            is_scaled = deployment["metadata"]["name"] in scaled
            assert ("replicas" in deployment["spec"]) is not is_scaled
        budgets = {p["metadata"]["name"] for p in of_kind(manifests, "PodDisruptionBudget")}
        assert f"{RELEASE}-metrics-http" not in budgets
        assert len(budgets) == 2 * len(SERVICES) - 1
        assert len(of_kind(manifests, "NetworkPolicy")) == 2 * len(SERVICES)
        monitors = of_kind(manifests, "ServiceMonitor")
        assert len(monitors) == len(SERVICES)
        for monitor in monitors:
            assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
            assert {e["port"] for e in monitor["spec"]["endpoints"]} == {"http", "metrics"}

    def test_a_disabled_service_renders_nothing(self) -> None:
        with helm.Chart.load(CHART) as chart:
            files = chart.render(
                {"services": {"metrics": {"enabled": False}}}, name=RELEASE, namespace=NAMESPACE
            )
        manifests = [
            document
            for path, text in files.items()
            if path.endswith(".yaml")
            for document in yaml.safe_load_all(text)
            if document
        ]

        components = {m["metadata"]["labels"].get("app.kubernetes.io/component") for m in manifests}
        assert "metrics" not in components
        assert "gateway" in components


# --- docker-compose.yml ------------------------------------------------------------------------

# Their images have no shell or HTTP client to run a check with; nothing waits on them healthy.
NO_HEALTHCHECK_POSSIBLE = {"otel-collector", "jaeger"}


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def resolve_defaults(text: str) -> str:
    """Substitute `${VAR:-default}` with its default, as compose does with VAR unset."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", text)


def compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    docker = shutil.which("docker")
    if docker is None:
        return None
    plugin = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
    return [docker, "compose"] if plugin.returncode == 0 else None


def one_shot_jobs(services: dict[str, Any]) -> set[str]:
    """Services others wait for to complete successfully."""
    return {
        name
        for service in services.values()
        for name, condition in (service.get("depends_on") or {}).items()
        if condition["condition"] == "service_completed_successfully"
    }


class TestCompose:
    def test_compose_accepts_the_file(self) -> None:
        command = compose_command()
        if command is None:
            pytest.skip("neither docker-compose nor the docker compose plugin is installed")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}

        result = subprocess.run(
            [*command, "-f", str(COMPOSE), "config", "--quiet"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )

        assert result.returncode == 0, result.stderr

    def test_every_long_running_service_has_a_healthcheck(self) -> None:
        services = compose()["services"]
        jobs = one_shot_jobs(services)

        for name, service in services.items():
            if name in jobs:
                assert service["restart"] == "no", name
            elif name in NO_HEALTHCHECK_POSSIBLE:
                assert service["healthcheck"] == {"disable": True}, name
            else:
                assert service["healthcheck"]["test"], name

    def test_dependencies_wait_on_conditions_their_targets_can_meet(self) -> None:
        services = compose()["services"]

        for name, service in services.items():
            for target, condition in (service.get("depends_on") or {}).items():
                if condition["condition"] == "service_healthy":
                    assert services[target]["healthcheck"].get("test"), (name, target)
                elif condition["condition"] == "service_completed_successfully":
                    assert services[target]["restart"] == "no", (name, target)
                else:
                    assert condition["condition"] == "service_started", (name, target)

    def test_every_process_starts_after_its_migration_and_the_topics(self) -> None:
        services = compose()["services"]

        for name in SERVICES:
            for role in ("http", "worker"):
                depends_on = services[f"{name}-{role}"]["depends_on"]
                for job in (f"{name}-migrate", "kafka-init"):
                    assert depends_on[job] == {"condition": "service_completed_successfully"}
                for infra in ("postgres", "kafka"):
                    assert depends_on[infra] == {"condition": "service_healthy"}

    def test_images_are_pinned(self) -> None:
        for name, service in compose()["services"].items():
            tag = image_tag(resolve_defaults(service["image"]))
            assert tag is not None, name
            assert tag != "latest", name

    def test_switchboard_containers_are_hardened(self) -> None:
        services = compose()["services"]

        for name, service in services.items():
            if "build" not in service:
                continue
            assert service["build"]["args"]["SERVICE"] == name.rsplit("-", 1)[0]
            assert service["read_only"] is True, name
            assert service["tmpfs"] == ["/tmp"], name
            assert service["cap_drop"] == ["ALL"], name

    def test_secrets_have_overridable_defaults(self) -> None:
        text = COMPOSE.read_text()

        for variable in ("SWITCHBOARD_ADMIN_KEY", "SWITCHBOARD_GATEWAY_CREDENTIALS_KEY"):
            assert re.search(rf"{variable}: \$\{{{variable}:-[^}}]+\}}", text), variable
        credentials_key = compose()["services"]["gateway-http"]["environment"][
            "SWITCHBOARD_GATEWAY_CREDENTIALS_KEY"
        ]
        assert len(base64.urlsafe_b64decode(resolve_defaults(credentials_key))) == 32

    def test_only_the_gateway_gets_the_credentials_key(self) -> None:
        for name, service in compose()["services"].items():
            env = service.get("environment") or {}
            has_key = "SWITCHBOARD_GATEWAY_CREDENTIALS_KEY" in env
            assert has_key is name.startswith("gateway-"), name

    def test_service_ports_match_the_conventions(self) -> None:
        services = compose()["services"]

        for name in SERVICES:
            env = services[f"{name}-http"]["environment"]
            prefix = f"SWITCHBOARD_{name.upper()}_"
            assert env[f"{prefix}HTTP_PORT"] == HTTP_PORTS[name]
            assert env[f"{prefix}WORKER_PORT"] == WORKER_PORTS[name]
            for role, port in (("http", HTTP_PORTS[name]), ("worker", WORKER_PORTS[name])):
                check = " ".join(services[f"{name}-{role}"]["healthcheck"]["test"])
                assert f"127.0.0.1:{port}/readyz" in check


class TestObservabilityConfig:
    def test_prometheus_scrapes_every_process(self) -> None:
        config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
        [job] = [j for j in config["scrape_configs"] if j["job_name"] == "switchboard"]
        services = compose()["services"]

        targets = {t for group in job["static_configs"] for t in group["targets"]}

        expected = {f"{name}-http:{port}" for name, port in HTTP_PORTS.items()}
        expected |= {f"{name}-worker:{port}" for name, port in WORKER_PORTS.items()}
        assert targets == expected
        assert {t.split(":")[0] for t in targets} <= set(services)

    def test_grafana_reads_prometheus(self) -> None:
        provisioning = ROOT / "deploy" / "grafana" / "provisioning" / "datasources"
        sources = [
            s
            for path in sorted(provisioning.glob("*.yaml"))
            for s in yaml.safe_load(path.read_text())["datasources"]
        ]

        [default] = [s for s in sources if s.get("isDefault")]
        assert default["type"] == "prometheus"
        assert default["url"] == "http://prometheus:9090"

    def test_collector_forwards_otlp_traces_to_jaeger(self) -> None:
        config = yaml.safe_load((ROOT / "deploy" / "otel-collector.yaml").read_text())
        pipeline = config["service"]["pipelines"]["traces"]
        services = compose()["services"]

        assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "0.0.0.0:4318"
        for section in ("receivers", "processors", "exporters"):
            assert set(pipeline[section]) <= set(config[section]), section
        assert pipeline["processors"][0] == "memory_limiter"
        [exporter] = pipeline["exporters"]
        assert config["exporters"][exporter]["endpoint"] == "jaeger:4317"
        platform_env = services["metrics-http"]["environment"]
        assert platform_env["SWITCHBOARD_OTLP_ENDPOINT"] == "http://otel-collector:4318"


# --- Kafka topics ------------------------------------------------------------------------------


def chart_topics() -> dict[str, str]:
    """Topic name -> cleanup policy, from the chart's values."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    return {
        t["name"]: "compact" if t.get("compacted") else "delete" for t in values["kafka"]["topics"]
    }


def script_topics() -> dict[str, str]:
    """Topic name -> cleanup policy, from the compose topic script."""
    block = re.search(r'^TOPICS="\n(.*?)^"', CREATE_TOPICS.read_text(), re.M | re.S)
    assert block is not None
    return dict(line.split(":") for line in block.group(1).split())


class TestTopics:
    def test_compose_and_chart_create_the_same_topics(self) -> None:
        assert script_topics() == chart_topics()

    def test_topics_match_the_contracts(self) -> None:
        topics = pytest.importorskip("switchboard.contracts.topics")

        contracts = {t.value: "compact" if t.compacted else "delete" for t in topics.Topic}

        assert chart_topics() == contracts

    @pytest.fixture
    def fake_kafka_topics(self, tmp_path: Path) -> Path:
        """A kafka-topics.sh that lists `existing` and logs each creation to `calls`."""
        (tmp_path / "existing").write_text("messages.inbound\n__consumer_offsets\n")
        script = tmp_path / "kafka-topics.sh"
        script.write_text(
            "#!/bin/sh\n"
            f'case " $* " in *" --list "*) cat "{tmp_path}/existing"; exit 0;; esac\n'
            f'case " $* " in *" broken "*) exit 3;; esac\n'
            f'echo "$*" >> "{tmp_path}/calls"\n'
        )
        script.chmod(0o755)
        return script

    def run_script(self, fake: Path) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ["PATH"], "KAFKA_TOPICS_BIN": str(fake)}
        return subprocess.run(
            ["/bin/sh", str(CREATE_TOPICS)], env=env, capture_output=True, text=True, timeout=60
        )

    def test_script_creates_missing_topics_with_their_policy(self, fake_kafka_topics: Path) -> None:
        result = self.run_script(fake_kafka_topics)

        assert result.returncode == 0, result.stderr
        calls = (fake_kafka_topics.parent / "calls").read_text().splitlines()
        created = {}
        for call in calls:
            args = call.split()
            assert args[args.index("--partitions") + 1] == "8"
            assert "--if-not-exists" in args
            policy = args[args.index("--config") + 1].removeprefix("cleanup.policy=")
            created[args[args.index("--topic") + 1]] = policy
        expected = chart_topics() | {f"{name}.dlq": "delete" for name in chart_topics()}
        del expected["messages.inbound"]
        assert created == expected

    def test_script_fails_when_a_creation_fails(self, fake_kafka_topics: Path) -> None:
        text = CREATE_TOPICS.read_text().replace("\nusage:delete\n", "\nbroken:delete\n")
        broken = fake_kafka_topics.parent / "create-topics.sh"
        broken.write_text(text)
        env = {"PATH": os.environ["PATH"], "KAFKA_TOPICS_BIN": str(fake_kafka_topics)}

        result = subprocess.run(
            ["/bin/sh", str(broken)], env=env, capture_output=True, text=True, timeout=60
        )

        assert result.returncode == 1


# --- Dockerfile --------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (parts[0].upper(), parts[1] if len(parts) > 1 else "")
        for line in lines
        if line and not line.startswith("#")
        for parts in [line.split(None, 1)]
    ]


class TestDockerfile:
    def test_base_images_are_pinned(self) -> None:
        args = dict(
            a.split("=", 1) for i, a in dockerfile_instructions() if i == "ARG" and "=" in a
        )

        assert image_tag(args["PYTHON_IMAGE"]) not in (None, "latest")
        assert re.fullmatch(r"\d+\.\d+\.\d+", image_tag(args["UV_IMAGE"]) or "")

    def test_runtime_stage_runs_the_service_as_the_unprivileged_user(self) -> None:
        instructions = dockerfile_instructions()
        last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
        runtime = instructions[last_from:]

        assert ("USER", f"{SERVICE_UID}:{SERVICE_UID}") in runtime
        entrypoint = json.loads(dict(runtime)["ENTRYPOINT"])
        assert 'python -m "switchboard.${SWITCHBOARD_SERVICE}"' in " ".join(entrypoint)
        assert json.loads(dict(runtime)["CMD"]) == ["http"]
        env = dict(runtime)["ENV"]
        assert "PYTHONDONTWRITEBYTECODE=1" in env
        assert "SWITCHBOARD_SERVICE=${SERVICE}" in env

    def test_dependencies_install_from_the_lock_without_dev_tools(self) -> None:
        syncs = [a for i, a in dockerfile_instructions() if i == "RUN" and "uv sync" in a]

        assert syncs
        flags = ("--frozen", "--no-dev", "--no-editable", '--package "switchboard-${SERVICE}"')
        for sync in syncs:
            assert all(flag in sync for flag in flags), sync


# --- settings named by the deployment files ----------------------------------------------------

# Read by the images and the entry point, not by a settings class.
NOT_SETTINGS = {"SWITCHBOARD_SERVICE", "SWITCHBOARD_IMAGE_TAG"}


def known_settings() -> set[str]:
    """Every environment variable a settings class reads (prefix + field name)."""
    from switchboard.billing.config import BillingSettings
    from switchboard.campaigns.config import CampaignsSettings
    from switchboard.common.settings import PlatformSettings
    from switchboard.conversation.config import ConversationSettings
    from switchboard.gateway.config import GatewaySettings
    from switchboard.metrics.config import MetricsSettings

    classes = (
        PlatformSettings, GatewaySettings, ConversationSettings, CampaignsSettings,
        BillingSettings, MetricsSettings,
    )  # fmt: skip
    return {
        (str(settings.model_config.get("env_prefix", "")) + field).upper()
        for settings in classes
        for field in settings.model_fields
    }


def chart_env_names(value_set: str) -> set[str]:
    return {
        env["name"]
        for workload in workloads(render(value_set))
        for container in containers(workload)
        for env in container.get("env", [])
    }


def compose_env_names() -> set[str]:
    names = set(compose().get("x-common-env", {}) or {})
    for service in compose()["services"].values():
        names |= set(service.get("environment") or {})
    return names


class TestSettingsNames:
    """A misspelt variable is ignored by the settings (they allow extras): it must not ship."""

    # `all-features` passes made-up variables of its own (a future Stripe key) through the chart.
    @pytest.mark.parametrize("value_set", ["defaults", "strimzi-cnpg"])
    def test_the_chart_sets_only_real_settings(self, value_set: str) -> None:
        names = {n for n in chart_env_names(value_set) if n.startswith("SWITCHBOARD_")}
        assert names - NOT_SETTINGS - known_settings() == set()

    def test_compose_sets_only_real_settings(self) -> None:
        names = {n for n in compose_env_names() if n.startswith("SWITCHBOARD_")}
        assert names
        assert names - NOT_SETTINGS - known_settings() == set()
