"""The Helm chart, validated offline with the real tools, and its design held as facts.

Every values file renders and passes helm lint --strict, kubeconform -strict (Kubernetes
and operator CRD schemas), kube-score and checkov; deliberately broken values and
resources fail them; the rendered CronJob, docs server, NetworkPolicies and data stores
say what k8s/README.md promises.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s_helpers import (
    BROKEN_VALUES,
    CHART,
    KUBE_VERSION,
    ROOT,
    TEST_VALUES,
    Tools,
    by_kind,
    documents,
    helm_args,
    one,
)

VALUES_CASES = [pytest.param([], id="defaults")] + [pytest.param([f], id=f.stem) for f in TEST_VALUES]
# Renders for the linters: every values file, and values under which the chart needs no kube-score ignore of its own.
LINT_CASES = [(case.id or "defaults", case.values[0], []) for case in VALUES_CASES] + [
    ("pull-always", [], ["image.pullPolicy=Always"]),
]


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)


def write(tmp_path: Path, name: str, manifests: str | list[dict[str, Any]]) -> Path:
    path = tmp_path / name
    text = manifests if isinstance(manifests, str) else yaml.safe_dump_all(manifests, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def pod_spec(cronjob: dict[str, Any]) -> dict[str, Any]:
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def run_cronjob(manifests: str) -> dict[str, Any]:
    """The daily run's CronJob (the other one is the weekly deep reconciliation)."""
    return one(manifests, "CronJob", "-outings-data-platform")


def pipeline_pods(manifests: str) -> list[dict[str, Any]]:
    """The pod specs of every pipeline CronJob (the run and the reconciliation)."""
    return [pod_spec(doc) for doc in by_kind(manifests, "CronJob")]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container["env"]}


def kube_score_findings(ci_output: str) -> list[str]:
    """The CRITICAL and WARNING lines of kube-score's `ci` output."""
    return re.findall(r"^\[(?:CRITICAL|WARNING)\].*$", ci_output, re.M)


def kube_score_checks(tools: Tools) -> dict[str, str]:
    """kube-score's checks: id -> 'default' or 'optional'."""
    listed = run([tools.kube_score, "list"])
    assert listed.returncode == 0, listed.stderr
    return {
        row.split(",")[0]: row.rsplit(",", 1)[1] for row in listed.stdout.splitlines() if row.count(",") >= 3
    }


def kube_score_ignores(manifests: str) -> list[tuple[str, list[str], dict[str, str]]]:
    """Per kube-score/ignore annotation: the resource, the checks ignored, and the reasons
    given in the `# check-id: reason` comment lines just above it."""
    found = []
    for text in re.split(r"^---$", manifests, flags=re.M):
        lines = text.splitlines()
        for i, line in enumerate(lines):
            match = re.fullmatch(r"\s*kube-score/ignore: (.+)", line)
            if not match:
                continue
            reasons, j = {}, i - 1
            while j >= 0 and lines[j].lstrip().startswith("#"):
                if comment := re.fullmatch(r"\s*# ([a-z0-9-]+): (.+)", lines[j]):
                    reasons[comment.group(1)] = comment.group(2)
                j -= 1
            kind, name = (re.search(rf"^{field} (\S+)", text, re.M) for field in ("kind:", "  name:"))
            where = f"{kind.group(1) if kind else '?'} {name.group(1) if name else '?'}"
            found.append((where, [c.strip() for c in match.group(1).split(",")], reasons))
    return found


# ---------------------------------------------------------------------------
# every values file: lint, render, kubeconform
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("values", VALUES_CASES)
def test_values_render_and_validate(tools: Tools, values: list[Path], tmp_path: Path) -> None:
    lint = run(helm_args(tools, "lint", values))
    assert lint.returncode == 0, lint.stdout + lint.stderr
    rendered = run(helm_args(tools, "template", values))
    assert rendered.returncode == 0, rendered.stderr
    kinds = {doc["kind"] for doc in documents(rendered.stdout)}
    assert {"CronJob", "ServiceAccount"} <= kinds
    check = run(tools.kubeconform_cmd(write(tmp_path, "rendered.yaml", rendered.stdout)))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Invalid: 0, Errors: 0, Skipped: 0" in check.stdout


def test_linters_are_clean_on_every_render(tools: Tools, render: Any, tmp_path: Path) -> None:
    for name, values, sets in LINT_CASES:
        path = write(tmp_path, f"{name}.yaml", render(*values, sets=sets))
        # One render at a time: its NetworkPolicies and Service must match its own pods.
        score = run(tools.kube_score_cmd(path))
        assert score.returncode == 0 and not kube_score_findings(score.stdout), (
            f"{name}:\n" + "\n".join(kube_score_findings(score.stdout)) + score.stderr
        )
        assert "[OK]" in score.stdout, f"kube-score scored nothing in {name}"
    checkov = run(
        [tools.checkov, "-d", str(tmp_path), "--framework", "kubernetes", "--skip-download", "--compact"]
    )
    assert checkov.returncode == 0, checkov.stdout[-4000:]
    assert "Failed checks: 0" in checkov.stdout


def test_every_disabled_finding_says_why(tools: Tools, render: Any) -> None:
    """kube-score and checkov findings are disabled one by one on their resource, each with a reason;
    validate.sh turns no kube-score check off for everything."""
    checks = kube_score_checks(tools)
    assert {"container-security-context-privileged", "pod-networkpolicy"} <= set(checks)
    ignored = set()
    for name, values, sets in LINT_CASES:
        manifests = render(*values, sets=sets)
        for doc in documents(manifests):
            annotations = doc["metadata"].get("annotations") or {}
            for key, value in annotations.items():
                if key.startswith("checkov.io/skip"):
                    check, _, reason = value.partition("=")
                    assert re.fullmatch(r"CKV2?_K8S_\d+", check) and len(reason.split()) >= 5, value
            for check in annotations.get("kube-score/enable", "").split(","):
                assert not check or checks.get(check.strip()) == "optional", f"kube-score/enable: {check}"
        for where, ids, reasons in kube_score_ignores(manifests):
            for check in ids:
                assert check in checks, f"{where}: kube-score has no check {check}"
                assert len(reasons.get(check, "").split()) >= 5, (
                    f"{where} ({name}): '# {check}: <reason>' missing"
                )
                ignored.add(check)
            assert set(reasons) <= set(ids), f"{where} ({name}): a reason for a check not ignored"
    assert "pod-networkpolicy" in ignored  # only where networkPolicy.enabled is false
    script = (ROOT / "k8s" / "validate.sh").read_text()
    assert "--ignore-test" not in script and "--ignore-container" not in script


# ---------------------------------------------------------------------------
# deliberately broken values and resources fail
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("broken", BROKEN_VALUES, ids=[p.stem for p in BROKEN_VALUES])
def test_broken_values_fail_at_install_time(tools: Tools, broken: Path) -> None:
    expected = re.search(r"^# expect: (.+)$", broken.read_text(), re.M)
    assert expected, f"{broken.name} lacks its '# expect: ...' line"
    rendered = run(helm_args(tools, "template", [broken]))
    assert rendered.returncode != 0, f"helm template accepted {broken.name}"
    assert expected.group(1) in rendered.stderr, rendered.stderr
    lint = run(helm_args(tools, "lint", [broken]))
    assert expected.group(1) in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    if "# lint: info" not in broken.read_text():  # helm lint reports a template's `fail` as INFO only
        assert lint.returncode != 0, f"helm lint accepted {broken.name}"


def _misspell(doc: dict[str, Any], path: list[str], new_key: str) -> None:
    node = doc
    for key in path[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[new_key] = node.pop(path[-1])


BROKEN_RESOURCES = {
    # The original design's typo, and its like in the other custom resource.
    "postgresql numberofInstances": ("postgresql", ["spec", "numberOfInstances"], "numberofInstances"),
    "K8ssandraCluster softPodAntiaffinity": (
        "K8ssandraCluster",
        ["spec", "cassandra", "softPodAntiAffinity"],
        "softPodAntiaffinity",
    ),
    "K8ssandraCluster datacenter sise": (
        "K8ssandraCluster",
        ["spec", "cassandra", "datacenters", "0", "size"],
        "sise",
    ),
    "CronJob concurrencypolicy": ("CronJob", ["spec", "concurrencyPolicy"], "concurrencypolicy"),
    "CronJob readOnlyRootFileSystem": (
        "CronJob",
        [
            "spec",
            "jobTemplate",
            "spec",
            "template",
            "spec",
            "containers",
            "0",
            "securityContext",
            "readOnlyRootFilesystem",
        ],
        "readOnlyRootFileSystem",
    ),
    "NetworkPolicy policytypes": ("NetworkPolicy", ["spec", "policyTypes"], "policytypes"),
}


@pytest.mark.parametrize("case", BROKEN_RESOURCES, ids=list(BROKEN_RESOURCES))
def test_kubeconform_rejects_a_misspelt_field(tools: Tools, render: Any, tmp_path: Path, case: str) -> None:
    kind, path, wrong = BROKEN_RESOURCES[case]
    docs = documents(render())
    target = next(doc for doc in docs if doc["kind"] == kind)
    _misspell(target, path, wrong)
    done = run(tools.kubeconform_cmd(write(tmp_path, "broken.yaml", docs)))
    assert done.returncode != 0, done.stdout
    assert wrong in done.stdout, done.stdout


def test_kubeconform_rejects_a_wrong_type(tools: Tools, render: Any, tmp_path: Path) -> None:
    docs = documents(render())
    next(doc for doc in docs if doc["kind"] == "CronJob")["spec"]["jobTemplate"]["spec"]["backoffLimit"] = (
        "two"
    )
    next(doc for doc in docs if doc["kind"] == "postgresql")["spec"]["postgresql"]["version"] = "9.6"
    done = run(tools.kubeconform_cmd(write(tmp_path, "broken.yaml", docs)))
    assert done.returncode != 0
    assert "backoffLimit" in done.stdout and "/spec/postgresql/version" in done.stdout, done.stdout


def test_linters_reject_a_weakened_pod(tools: Tools, render: Any, tmp_path: Path) -> None:
    docs = documents(render())
    cronjob = next(doc for doc in docs if doc["kind"] == "CronJob")
    container = pod_spec(cronjob)["containers"][0]
    container["securityContext"].update(
        readOnlyRootFilesystem=False, allowPrivilegeEscalation=True, privileged=True, runAsUser=0
    )
    del container["resources"]["limits"]
    path = write(tmp_path, "weak.yaml", docs)
    ci = run(tools.kube_score_cmd(path))
    assert ci.returncode != 0
    assert any("CronJob" in line for line in kube_score_findings(ci.stdout)), ci.stdout
    scored = run(tools.kube_score_cmd(path, output="json"))
    failed = {
        check["check"]["id"]
        for obj in json.loads(scored.stdout)
        if obj["type_meta"]["kind"] == "CronJob"
        for check in obj["checks"]
        if not check["skipped"] and check["grade"] <= 5  # 1 CRITICAL, 5 WARNING
    }
    assert {
        "container-security-context-readonlyrootfilesystem",
        "container-security-context-privileged",
        "container-security-context-user-group-id",
        "container-resources",
    } <= failed, failed
    checkov = run(
        [tools.checkov, "-f", str(path), "--framework", "kubernetes", "--skip-download", "--compact"]
    )
    assert checkov.returncode != 0
    for check in ("CKV_K8S_22", "CKV_K8S_20", "CKV_K8S_16", "CKV_K8S_11"):
        assert check in checkov.stdout, checkov.stdout[-3000:]


# ---------------------------------------------------------------------------
# the design, as rendered with the defaults
# ---------------------------------------------------------------------------
def test_cronjob_runs_the_whole_job_as_one_writer(render: Any) -> None:
    cronjob = run_cronjob(render())
    spec = cronjob["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["schedule"] == "30 2 * * *" and spec["timeZone"] == "Europe/Paris"
    assert spec["startingDeadlineSeconds"] > 0
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] >= 1 and job["activeDeadlineSeconds"] >= 3600
    rules = job["podFailurePolicy"]["rules"]
    assert {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [2]}} in rules
    assert {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]} in rules
    pod = pod_spec(cronjob)
    assert pod["restartPolicy"] == "Never"
    assert pod["terminationGracePeriodSeconds"] >= 600
    assert "initContainers" not in pod
    (container,) = pod["containers"]
    assert container["command"] == ["loaders", "run"]


def _assert_restricted(pod: dict[str, Any]) -> None:
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod.get("initContainers", []) + pod["containers"]:
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["runAsUser"] >= 10000
        assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), (container["name"], kind)


def test_pods_meet_the_restricted_pod_security_standard(render: Any) -> None:
    manifests = render()
    for pod in pipeline_pods(manifests):
        _assert_restricted(pod)
    _assert_restricted(one(manifests, "Job", "-database-roles")["spec"]["template"]["spec"])
    _assert_restricted(one(manifests, "Deployment", "-docs")["spec"]["template"]["spec"])
    sa = one(manifests, "ServiceAccount")
    assert sa["automountServiceAccountToken"] is False


def test_job_writes_only_to_the_claim_and_tmp(render: Any) -> None:
    manifests = render()
    pod = pod_spec(run_cronjob(manifests))
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert (
        volumes["data"]["persistentVolumeClaim"]["claimName"]
        == one(manifests, "PersistentVolumeClaim")["metadata"]["name"]
    )
    assert "sizeLimit" in volumes["tmp"]["emptyDir"]
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert set(mounts) == {"/data", "/tmp"}
    env = env_of(pod["containers"][0])
    assert env["WAREHOUSE_PATH"]["value"].startswith("/data/")
    assert env["DLT_DATA_DIR"]["value"].startswith("/data/")
    assert env["PUBLISHED_DIR"]["value"].startswith("/data/")
    for name in ("HOME", "DBT_LOG_PATH"):
        assert env[name]["value"].startswith("/tmp"), name
    # dbt's target (partial_parse.msgpack) outlives the pod: the next run parses only what changed
    assert env["DBT_TARGET_PATH"]["value"].startswith("/data/")
    assert env["PROJECT_DIR"]["value"] == "/app"
    pvc = one(manifests, "PersistentVolumeClaim")
    assert pvc["spec"]["storageClassName"] == "local-path" and pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_credentials_come_from_the_operators_secrets_over_tls(render: Any) -> None:
    env = env_of(pod_spec(run_cronjob(render()))["containers"][0])
    pg_secret = "loader.outings-pg.credentials.postgresql.acid.zalan.do"
    assert env["PGUSER"]["valueFrom"]["secretKeyRef"] == {"name": pg_secret, "key": "username"}
    assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": pg_secret, "key": "password"}
    # POSTGRES_DSN as the loaders read it (user from $(PGUSER), sslmode=require): test_k8s_settings_contract
    assert env["PGSSLMODE"]["value"] == "require"
    for name, key in (("CASSANDRA_USERNAME", "username"), ("CASSANDRA_PASSWORD", "password")):
        # the chart's own loader role (SELECT on the keyspace), never the operator's superuser
        assert env[name]["valueFrom"]["secretKeyRef"] == {
            "name": "projet-m1-outings-data-platform-cassandra-loader",
            "key": key,
        }
    assert env["PUBLISH_PSEUDONYM_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "projet-m1-outings-data-platform-pseudonym-key",
        "key": "key",
    }
    assert not {"PGSSLROOTCERT", "CASSANDRA_SSL_CA_FILE", "CASSANDRA_SSL_HOSTNAME_CHECK"} & set(
        env
    )  # no CA configured
    assert env["CASSANDRA_HOSTS"]["value"] == "outings-cassandra-dc1-service.projet-m1.svc:9042"
    assert env["CASSANDRA_LOCAL_DC"]["value"] == "dc1"
    # no literal secret anywhere in the environment
    assert all("valueFrom" in item or "password" not in item["value"].lower() for item in env.values())


def test_docs_server_reads_the_published_docs_only(render: Any) -> None:
    manifests = render()
    deployment = one(manifests, "Deployment", "-docs")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == [
        "loaders",
        "serve",
        "--dir",
        "/data/published",
        "--port",
        "8080",
        "--bind",
        "0.0.0.0",
    ]
    assert pod["volumes"][0]["persistentVolumeClaim"]["readOnly"] is True
    # only the published folder of the claim, read-only, where the job publishes it
    assert container["volumeMounts"] == [
        {"name": "data", "mountPath": "/data/published", "subPath": "published", "readOnly": True}
    ]
    assert container["readinessProbe"]["httpGet"] == {"path": "/metrics", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    service = one(manifests, "Service", "-docs")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    # The claim is ReadWriteOnce: the job runs on the docs server's node.
    affinity = pod_spec(run_cronjob(manifests))["affinity"]["podAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert affinity[0]["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_network_policies_fence_the_pipeline(render: Any) -> None:
    manifests = render()
    pipeline = one(manifests, "NetworkPolicy", "-pipeline")["spec"]
    assert pipeline["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "pipeline"
    assert set(pipeline["policyTypes"]) == {"Ingress", "Egress"} and pipeline["ingress"] == []
    ports = sorted((p["port"], p["protocol"]) for rule in pipeline["egress"] for p in rule["ports"])
    assert ports == [(53, "TCP"), (53, "UDP"), (5432, "TCP"), (9042, "TCP")]
    peers = [peer for rule in pipeline["egress"] for peer in rule["to"]]
    assert all("ipBlock" not in peer for peer in peers)  # in-cluster stores: pods only, no CIDR
    docs = one(manifests, "NetworkPolicy", "-docs")["spec"]
    assert docs["egress"] == [] and set(docs["policyTypes"]) == {"Ingress", "Egress"}
    # by default, the docs server is reached from its own namespace only
    (rule,) = docs["ingress"]
    assert rule["from"] == [{"podSelector": {}}]


def test_data_stores_as_designed(render: Any) -> None:
    manifests = render()
    pg = one(manifests, "postgresql")
    assert pg["apiVersion"] == "acid.zalan.do/v1" and pg["metadata"]["name"] == "outings-pg"
    spec = pg["spec"]
    assert spec["numberOfInstances"] == 2 and spec["postgresql"]["version"] == "17"
    assert spec["users"] == {"app_owner": [], "loader": []} and spec["databases"] == {"app": "app_owner"}
    assert spec["volume"]["storageClass"] == "local-path"
    k8c = one(manifests, "K8ssandraCluster")
    cassandra = k8c["spec"]["cassandra"]
    assert cassandra["serverVersion"].startswith("5.0.")
    assert cassandra["softPodAntiAffinity"] is True
    assert len(cassandra["datacenters"]) == 1
    jvm = cassandra["config"]["jvmOptions"]
    assert jvm["heap_initial_size"] == jvm["heap_max_size"] == "1G"
    assert cassandra["resources"]["limits"]["memory"] == "2Gi"


def test_external_databases_replace_the_operators(render: Any) -> None:
    manifests = render(ROOT / "k8s" / "test-values" / "external-databases.yaml")
    assert not by_kind(manifests, "postgresql") and not by_kind(manifests, "K8ssandraCluster")
    env = env_of(pod_spec(run_cronjob(manifests))["containers"][0])
    assert env["POSTGRES_DSN"]["value"].startswith("host=pg.db.example.internal port=5432 dbname=app")
    assert env["POSTGRES_DSN"]["value"].endswith(
        "sslmode=verify-full sslrootcert=/etc/outings/tls/postgresql/ca.crt"
    )
    assert env["PGUSER"]["valueFrom"]["secretKeyRef"] == {"name": "app-postgres-loader", "key": "user"}
    assert env["CASSANDRA_USERNAME"]["valueFrom"]["secretKeyRef"]["name"] == "app-cassandra-loader"
    assert env["CASSANDRA_LOCAL_DC"]["value"] == "dc-paris"
    egress = one(manifests, "NetworkPolicy", "-pipeline")["spec"]["egress"]
    cidrs = sorted(peer["ipBlock"]["cidr"] for rule in egress for peer in rule["to"] if "ipBlock" in peer)
    assert cidrs == ["10.20.0.10/32", "10.20.0.11/32", "10.20.1.0/28"]


def test_steps_from_values_run_in_order_in_one_pod(render: Any) -> None:
    manifests = render(ROOT / "k8s" / "test-values" / "stores-mixed-docs-off.yaml")
    cronjob = run_cronjob(manifests)
    pod = pod_spec(cronjob)
    assert [c["name"] for c in pod["initContainers"]] == ["load"]
    assert [c["name"] for c in pod["containers"]] == ["build"]
    assert pod["initContainers"][0]["command"] == ["loaders", "load"]
    assert pod["containers"][0]["command"] == ["loaders", "run", "--skip", "load"]
    assert pod["containers"][0]["image"].endswith("@sha256:" + "0123456789abcdef" * 4)
    assert "affinity" not in pod  # ReadWriteMany and no docs server: no co-scheduling
    assert not by_kind(manifests, "Deployment") and not by_kind(manifests, "NetworkPolicy")
    assert not by_kind(manifests, "PersistentVolumeClaim")  # the existing claim is used
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "outings-warehouse"
    assert cronjob["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"][
        "values"
    ] == [2, 3]


def test_schema_rejects_unknown_keys_everywhere() -> None:
    schema = yaml.safe_load((CHART / "values.schema.json").read_text())

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node.get("additionalProperties") is False, f"{where} accepts unknown keys"
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(schema, "#")


def test_notes_tell_what_was_installed_and_how_to_run_now(tools: Tools, tmp_path: Path) -> None:
    # helm template does not render NOTES.txt: render it through a copy of the chart.
    chart = tmp_path / "chart"
    subprocess.run(["cp", "-r", str(CHART), str(chart)], check=True)
    (chart / "notes.txt").write_text((CHART / "templates" / "NOTES.txt").read_text())
    (chart / "templates" / "notes-preview.yaml").write_text(
        'notes: |\n{{ tpl (.Files.Get "notes.txt") . | indent 2 }}\n'
    )
    done = run(
        [
            tools.helm,
            "template",
            "projet-m1",
            str(chart),
            "-n",
            "projet-m1",
            "--kube-version",
            KUBE_VERSION,
            "--show-only",
            "templates/notes-preview.yaml",
        ]
    )
    assert done.returncode == 0, done.stderr
    notes = yaml.safe_load(done.stdout)["notes"]
    for expected in (
        "CronJob projet-m1-outings-data-platform",
        "kubectl -n projet-m1 create job --from=cronjob/projet-m1-outings-data-platform",
        "port-forward svc/projet-m1-outings-data-platform-docs",
        "loader.outings-pg.credentials.postgresql.acid.zalan.do",
        "projet-m1-outings-data-platform-cassandra-loader",
        "CronJob projet-m1-outings-data-platform-reconcile",
        "create job --from=cronjob/projet-m1-outings-data-platform-reconcile",
    ):
        assert expected in notes, expected


# ---------------------------------------------------------------------------
# least privilege: the loaders' roles, and no superuser for the pipeline
# ---------------------------------------------------------------------------
SUPERUSER_SECRETS = (
    "outings-cassandra-superuser",
    "events-superuser",
    "postgres.outings-pg.credentials.postgresql.acid.zalan.do",
)
TLS_MONITORING = ROOT / "k8s" / "test-values" / "tls-monitoring.yaml"
EXTERNAL = ROOT / "k8s" / "test-values" / "external-databases.yaml"


def secret_names_of(pod: dict[str, Any]) -> set[str]:
    """Every Secret a pod can read: env secretKeyRefs, envFrom, Secret and projected volumes."""
    names = set()
    for container in pod.get("initContainers", []) + pod["containers"]:
        for item in container.get("env", []):
            if ref := item.get("valueFrom", {}).get("secretKeyRef"):
                names.add(ref["name"])
        names |= {src["secretRef"]["name"] for src in container.get("envFrom", []) if "secretRef" in src}
    for volume in pod.get("volumes", []):
        if "secret" in volume:
            names.add(volume["secret"]["secretName"])
        for source in volume.get("projected", {}).get("sources", []):
            if "secret" in source:
                names.add(source["secret"]["name"])
    return names


@pytest.mark.parametrize("values", VALUES_CASES)
def test_no_superuser_secret_reaches_the_pipeline(render: Any, values: list[Path]) -> None:
    manifests = render(*values)
    pods = pipeline_pods(manifests)
    assert len(pods) == 2  # the run and the deep reconciliation
    for pod in pods:
        secrets = secret_names_of(pod)
        assert secrets and not any(s.endswith("-superuser") or s.startswith("postgres.") for s in secrets), (
            secrets
        )
        assert not set(SUPERUSER_SECRETS) & secrets
    deployment = by_kind(manifests, "Deployment")
    for docs in deployment:  # the docs server reads no Secret at all
        assert secret_names_of(docs["spec"]["template"]["spec"]) == set()


def test_roles_hook_sets_up_least_privilege_with_the_superusers_as_files(render: Any) -> None:
    manifests = render()
    job = one(manifests, "Job", "-database-roles")
    annotations = job["metadata"]["annotations"]
    # after the install made the stores and their superuser Secrets; again after each upgrade
    assert annotations["helm.sh/hook"] == "post-install,post-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    pod = job["spec"]["template"]["spec"]
    assert secret_names_of(pod) == {
        "postgres.outings-pg.credentials.postgresql.acid.zalan.do",
        "loader.outings-pg.credentials.postgresql.acid.zalan.do",
        "outings-cassandra-superuser",
        "projet-m1-outings-data-platform-cassandra-loader",
    }
    containers = {c["name"]: c for c in pod["containers"]}
    assert set(containers) == {"postgresql", "cassandra"}
    for name, container in containers.items():
        assert container["command"] == ["python", "/etc/outings/database-roles/database_roles.py", name]
        # secrets only as read-only files: none in the environment or the command line
        assert all("valueFrom" not in item for item in container["env"]), container["env"]
        assert all(m["readOnly"] is True for m in container["volumeMounts"])
    env = {item["name"]: item["value"] for item in containers["cassandra"]["env"]}
    assert env["CASSANDRA_KEYSPACE"] == "app" and env["CASSANDRA_REPLICATION_FACTOR"] == "1"
    assert env["CASSANDRA_HOST"] == "outings-cassandra-dc1-service.projet-m1.svc"
    secret_volumes = [v["secret"] for v in pod["volumes"] if "secret" in v]
    assert all(v["defaultMode"] == 0o400 for v in secret_volumes)
    assert pod["securityContext"]["fsGroup"] == 10001  # so that the 0400 files are the non-root user's
    # the script it runs is the chart's file, as is
    config = one(manifests, "ConfigMap", "-database-roles")
    assert config["data"]["database_roles.py"] == (CHART / "files" / "database_roles.py").read_text()
    # it reaches the two stores (and DNS) only
    egress = one(manifests, "NetworkPolicy", "-database-roles")["spec"]["egress"]
    assert sorted(p["port"] for rule in egress for p in rule["ports"]) == [53, 53, 5432, 9042]


def test_roles_hook_only_for_stores_in_the_release(render: Any) -> None:
    assert not [
        doc for doc in documents(render(EXTERNAL)) if doc["metadata"]["name"].endswith("-database-roles")
    ]
    mixed = render(ROOT / "k8s" / "test-values" / "stores-mixed-docs-off.yaml")
    (container,) = one(mixed, "Job", "-database-roles")["spec"]["template"]["spec"]["containers"]
    assert container["name"] == "cassandra"
    # the user's own loader Secret: the hook gives that role its grants; the chart generates none
    assert "cassandra-loader" in secret_names_of(
        one(mixed, "Job", "-database-roles")["spec"]["template"]["spec"]
    )
    assert not [s for s in by_kind(mixed, "Secret") if s["metadata"]["name"].endswith("-cassandra-loader")]
    assert not by_kind(render(sets=["databaseRoles.enabled=false"]), "Job")


def test_generated_secrets_are_random_and_kept(render: Any) -> None:
    import base64

    manifests = render()
    secrets = {s["metadata"]["name"]: s for s in by_kind(manifests, "Secret")}
    loader = secrets["projet-m1-outings-data-platform-cassandra-loader"]
    key = secrets["projet-m1-outings-data-platform-pseudonym-key"]
    for secret in (loader, key):
        assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert base64.b64decode(loader["data"]["username"]) == b"loader"
    password = base64.b64decode(loader["data"]["password"]).decode()
    assert len(password) == 32 and password.isalnum()
    pseudonym_key = base64.b64decode(key["data"]["key"]).decode()
    assert len(pseudonym_key) == 64 and pseudonym_key.isalnum()
    again = {s["metadata"]["name"]: s for s in by_kind(render(), "Secret")}
    assert again[key["metadata"]["name"]]["data"] != key["data"]  # random, not a constant of the chart
    # a Secret of the user's own: none generated, the pipeline reads it
    external = render(EXTERNAL)
    assert not by_kind(external, "Secret")
    env = env_of(pod_spec(run_cronjob(external))["containers"][0])
    assert env["PUBLISH_PSEUDONYM_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "warehouse-pseudonym-key",
        "key": "hmac-key",
    }


def _load_roles_script() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("database_roles", CHART / "files" / "database_roles.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_roles_script_grants_select_on_the_keyspace_only() -> None:
    roles = _load_roles_script()
    statements = roles.cassandra_statements("app", "loader", "dc1", 3, role_exists=False)
    assert statements[0] == (
        'CREATE KEYSPACE IF NOT EXISTS "app" WITH replication = '
        "{'class': 'NetworkTopologyStrategy', 'dc1': 3}"
    )
    assert 'GRANT SELECT ON KEYSPACE "app" TO "loader"' in statements
    assert not any("ALL KEYSPACES" in s or "SUPERUSER = true" in s for s in statements)
    # the password is a bound parameter: never formatted into a statement; one change per run
    assert [s.count("%s") for s in statements if "PASSWORD" in s] == [1]
    assert statements[1].startswith(
        'CREATE ROLE IF NOT EXISTS "loader" WITH LOGIN = true AND SUPERUSER = false'
    )
    existing = roles.cassandra_statements("app", "loader", "dc1", 0, role_exists=True)
    assert existing[0] == 'ALTER ROLE "loader" WITH LOGIN = true AND SUPERUSER = false AND PASSWORD = %s'
    assert roles.cql_name('we"ird') == '"we""ird"'
    assert roles.is_the_grant("<keyspace app>", "SELECT", "app")
    assert not roles.is_the_grant("<keyspace app>", "MODIFY", "app")
    assert not roles.is_the_grant("<all keyspaces>", "SELECT", "app")
    assert (
        roles.revoke_statement("<all keyspaces>", "SELECT", "loader")
        == 'REVOKE SELECT ON all keyspaces FROM "loader"'
    )
    assert (
        roles.revoke_statement("<table app.users>", "MODIFY", "loader")
        == 'REVOKE MODIFY ON table app.users FROM "loader"'
    )
    assert roles.revoke_statement("<mbean org.apache.cassandra.db:type=Tables>", "SELECT", "loader") == (
        "REVOKE SELECT ON MBEAN 'org.apache.cassandra.db:type=Tables' FROM \"loader\""
    )


# ---------------------------------------------------------------------------
# verified TLS, when configured
# ---------------------------------------------------------------------------
def _ca_volume(pod: dict[str, Any], name: str) -> dict[str, Any]:
    return next(v for v in pod["volumes"] if v["name"] == name)


def test_tls_is_verified_against_the_configured_cas(render: Any) -> None:
    manifests = render(TLS_MONITORING)
    for pod in pipeline_pods(manifests):
        (container,) = pod["containers"]
        env = env_of(container)
        # what the loaders make of POSTGRES_DSN and the CASSANDRA_SSL_* settings: test_k8s_settings_contract;
        # here what libpq reads by itself (dbt's connections too) and the CA files' mounts
        assert env["PGSSLMODE"]["value"] == "verify-full"  # a CA given: require becomes verify-full
        assert env["PGSSLROOTCERT"]["value"] == "/etc/outings/tls/postgresql/ca.crt"
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        for store in ("postgresql", "cassandra"):
            assert mounts[f"/etc/outings/tls/{store}"]["readOnly"] is True
        pg_ca = _ca_volume(pod, "postgresql-ca")["secret"]
        assert pg_ca == {
            "secretName": "outings-pg-tls",
            "defaultMode": 0o444,
            "items": [{"key": "ca.crt", "path": "ca.crt"}],
        }
        # the in-release cluster's stores Secret holds ca.crt as well (a cert-manager Certificate's)
        assert _ca_volume(pod, "cassandra-ca")["secret"]["secretName"] == "outings-cassandra-tls"
    cassandra = one(manifests, "K8ssandraCluster")["spec"]["cassandra"]
    assert cassandra["config"]["cassandraYaml"]["client_encryption_options"] == {
        "enabled": True,
        "optional": False,
        "store_type": "JKS",
    }
    stores = cassandra["clientEncryptionStores"]
    assert stores["keystoreSecretRef"] == {"name": "outings-cassandra-tls", "key": "keystore.jks"}
    assert stores["truststoreSecretRef"] == {"name": "outings-cassandra-tls", "key": "truststore.jks"}
    assert stores["keystorePasswordSecretRef"] == {
        "name": "outings-cassandra-tls-password",
        "key": "password",
    }
    assert one(manifests, "postgresql")["spec"]["tls"] == {
        "secretName": "outings-pg-tls",
        "caSecretName": "outings-pg-tls",
        "caFile": "ca.crt",
    }
    assert one(manifests, "postgresql")["spec"]["spiloFSGroup"] == 103  # the key readable by postgres
    # the roles hook verifies the same way
    hook = {
        c["name"]: env_of(c)
        for c in one(manifests, "Job", "-database-roles")["spec"]["template"]["spec"]["containers"]
    }
    assert hook["postgresql"]["PG_SSLMODE"]["value"] == "verify-full"
    assert hook["postgresql"]["PG_SSLROOTCERT"]["value"] == "/etc/outings/tls/postgresql/ca.crt"
    assert hook["postgresql"]["PG_LOADER_EXTRA_ROLES"]["value"] == "pg_read_all_stats"
    assert hook["cassandra"]["CASSANDRA_SSL_CA_FILE"]["value"] == "/etc/outings/tls/cassandra/ca.crt"


def test_external_stores_verified_with_their_cas(render: Any) -> None:
    pod = pod_spec(run_cronjob(render(EXTERNAL)))
    # CASSANDRA_SSL_HOSTNAME_CHECK=false as the loaders read it: test_k8s_settings_contract
    assert _ca_volume(pod, "postgresql-ca")["secret"]["items"] == [{"key": "ca.pem", "path": "ca.crt"}]
    assert _ca_volume(pod, "cassandra-ca")["secret"]["secretName"] == "app-cassandra-ca"


def test_no_tls_settings_without_a_ca(render: Any) -> None:
    manifests = render()
    assert "clientEncryptionStores" not in one(manifests, "K8ssandraCluster")["spec"]["cassandra"]
    assert "tls" not in one(manifests, "postgresql")["spec"]
    for pod in pipeline_pods(manifests):
        assert {v["name"] for v in pod["volumes"]} == {"data", "tmp"}


# ---------------------------------------------------------------------------
# the databases' fence
# ---------------------------------------------------------------------------
def test_database_pods_admit_the_pipeline_and_the_operators_only(render: Any) -> None:
    manifests = render()
    labels = run_cronjob(manifests)["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "pipeline"
    for store, selector, port, operator_ns, operator_ports in (
        (
            "postgresql",
            {"application": "spilo", "cluster-name": "outings-pg"},
            5432,
            "postgres-operator",
            [5432, 8008],
        ),
        (
            "cassandra",
            {"cassandra.datastax.com/cluster": "outings-cassandra"},
            9042,
            "k8ssandra-operator",
            [8080, 9042],
        ),
    ):
        policy = one(manifests, "NetworkPolicy", f"-{store}")["spec"]
        assert policy["podSelector"] == {"matchLabels": selector}
        assert policy["policyTypes"] == ["Ingress"]
        clients, peers, operators = policy["ingress"]
        (client,) = clients["from"]
        assert clients["ports"] == [{"port": port, "protocol": "TCP"}]
        assert client["podSelector"]["matchLabels"] == {
            k: labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance")
        }
        assert client["podSelector"]["matchExpressions"] == [
            {"key": "app.kubernetes.io/component", "operator": "In", "values": ["pipeline", "database-roles"]}
        ]
        assert peers == {"from": [{"podSelector": {"matchLabels": selector}}]}  # the cluster's own members
        assert operators["from"] == [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": operator_ns}}}
        ]
        assert [p["port"] for p in operators["ports"]] == operator_ports
    # more clients (the app) only when the values name them
    extra = render(TLS_MONITORING)
    clients = one(extra, "NetworkPolicy", "-cassandra")["spec"]["ingress"][0]["from"]
    assert clients[1] == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "outings-app"}}
    }
    # no fence for stores outside the release
    assert not [
        p
        for p in by_kind(render(EXTERNAL), "NetworkPolicy")
        if p["metadata"]["name"].endswith(("-postgresql", "-cassandra"))
    ]


# ---------------------------------------------------------------------------
# monitoring, only when enabled
# ---------------------------------------------------------------------------
MONITORING_KINDS = {"PodMonitor", "ServiceMonitor", "PrometheusRule"}
METRICS = (
    "outings_job_last_run_success",
    "outings_job_last_run_timestamp_seconds",
    "outings_table_freshness_status",
    "outings_reconciliation_difference_rows",
    "outings_anomalies_open",
    "outings_dbt_nodes_retried",
)


def test_monitoring_resources_only_when_enabled(render: Any) -> None:
    assert not MONITORING_KINDS & {doc["kind"] for doc in documents(render())}
    only_rules = render(sets=["monitoring.rules.enabled=true"])
    assert MONITORING_KINDS & {doc["kind"] for doc in documents(only_rules)} == {"PrometheusRule"}


def test_pod_monitor_scrapes_the_docs_servers_metrics(render: Any) -> None:
    manifests = render(TLS_MONITORING)
    monitor = one(manifests, "PodMonitor")
    deployment = one(manifests, "Deployment", "-docs")
    assert monitor["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    assert endpoint["port"] in {
        p["name"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    assert not by_kind(manifests, "ServiceMonitor")
    # Prometheus (its namespace) may reach the docs server's port
    peers = one(manifests, "NetworkPolicy", "-docs")["spec"]["ingress"][0]["from"]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    } in peers
    assert {"namespaceSelector": {}} in peers  # docs.allowedFrom of the values file


def test_service_monitor_and_alerts(render: Any) -> None:
    manifests = render(EXTERNAL)
    monitor = one(manifests, "ServiceMonitor")
    service = one(manifests, "Service", "-docs")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert set(monitor["spec"]["selector"]["matchLabels"].items()) <= set(
        service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    rule = one(manifests, "PrometheusRule")
    alerts = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    assert {
        "OutingsJobFailed",
        "OutingsTableStale",
        "OutingsReconciliationMismatch",
        "OutingsAnomalyOpen",
        "OutingsBuildOutOfMemory",
    } <= set(alerts)
    exprs = " ".join(r["expr"] for r in alerts.values())
    for metric in METRICS:
        assert metric + '{namespace="projet-m1"}' in exprs, metric
    assert "> 7200" in alerts["OutingsJobMissing"]["expr"]
    assert all(
        r["for"] == "5m" and r["labels"]["severity"] in {"warning", "critical"} for r in alerts.values()
    )
    # Prometheus's own templates pass through Helm untouched
    assert "{{ $labels.source }}" in alerts["OutingsTableStale"]["annotations"]["description"]


def test_kubeconform_rejects_a_misspelt_monitoring_field(tools: Tools, render: Any, tmp_path: Path) -> None:
    docs = documents(render(TLS_MONITORING))
    _misspell(
        next(d for d in docs if d["kind"] == "PodMonitor"),
        ["spec", "podMetricsEndpoints"],
        "podMetricEndpoints",
    )
    _misspell(
        next(d for d in docs if d["kind"] == "PrometheusRule"),
        ["spec", "groups", "0", "rules", "0", "expr"],
        "expression",
    )
    done = run(tools.kubeconform_cmd(write(tmp_path, "broken.yaml", docs)))
    assert done.returncode != 0
    assert "podMetricEndpoints" in done.stdout and "expression" in done.stdout, done.stdout


# ---------------------------------------------------------------------------
# the weekly deep reconciliation
# ---------------------------------------------------------------------------
def test_reconcile_cronjob_shares_the_runs_pod_and_lock(render: Any) -> None:
    manifests = render()
    run_job = run_cronjob(manifests)
    reconcile = one(manifests, "CronJob", "-reconcile")
    spec = reconcile["spec"]
    assert spec["schedule"] == "30 4 * * 0" and spec["timeZone"] == run_job["spec"]["timeZone"]
    assert spec["suspend"] is False and spec["concurrencyPolicy"] == "Forbid"
    pod, run_pod = pod_spec(reconcile), pod_spec(run_job)
    (container,) = pod["containers"]
    assert container["command"] == ["loaders", "reconcile", "--deep", "--wait"]  # waits for a run's lock
    (run_container,) = run_pod["containers"]
    # same environment, mounts, volumes (the claim: the loaders' lock file), security and node
    for key in ("env", "volumeMounts", "securityContext", "resources", "image"):
        assert container[key] == run_container[key], key
    for key in (
        "volumes",
        "securityContext",
        "affinity",
        "serviceAccountName",
        "automountServiceAccountToken",
    ):
        assert pod[key] == run_pod[key], key
    labels = spec["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "pipeline"  # the pipeline's NetworkPolicy applies
    assert {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]} in (
        spec["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]
    )
    suspended = one(render(TLS_MONITORING), "CronJob", "-reconcile")["spec"]
    assert suspended["suspend"] is True and suspended["schedule"] == "0 5 * * 6"
    assert not [
        c
        for c in by_kind(render(sets=["reconcile.enabled=false"]), "CronJob")
        if c["metadata"]["name"].endswith("-reconcile")
    ]


def test_docs_put_no_password_on_a_command_line() -> None:
    """k8s/README.md and the NOTES show no `cqlsh -p …`, `--password …` or `--from-literal=password=…`."""
    for path in (ROOT / "k8s" / "README.md", CHART / "templates" / "NOTES.txt"):
        text = path.read_text(encoding="utf-8")
        for pattern in (
            r"cqlsh[^\n]*\s-p\s",
            r"--from-literal=[a-z-]*password",
            r"--password[ =]",
            r"PGPASSWORD=",
        ):
            assert not re.search(pattern, text), f"{path.name}: {pattern}"
    readme = (ROOT / "k8s" / "README.md").read_text(encoding="utf-8")
    assert "--from-file=password=" in readme  # the way shown instead
    assert "pod-security.kubernetes.io/enforce=restricted" in readme


def test_names_fit_the_apis_limits_with_a_long_release_name(tools: Tools) -> None:
    """A CronJob's name has at most 52 characters (its Jobs add 11), a Job's and a Service's 63, the rest 253."""
    release = "a-very-long-release-name-that-fills-helms-limit-of-53"  # Helm's longest: 53 characters
    done = run(
        [tools.helm, "template", release, str(CHART), "--namespace", "ns", "--kube-version", KUBE_VERSION]
    )
    assert done.returncode == 0, done.stderr
    docs = documents(done.stdout)
    limits = {"CronJob": 52, "Job": 63, "Service": 63}
    for doc in docs:
        name = doc["metadata"]["name"]
        assert len(name) <= limits.get(doc["kind"], 253), (doc["kind"], name)
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name), name
    names = sorted(doc["metadata"]["name"] for doc in docs if doc["kind"] == "CronJob")
    assert len(set(names)) == 2 and names[1].endswith("-reconcile"), names


def test_alerts_use_the_metrics_the_job_writes(render: Any) -> None:
    """Every metric of the PrometheusRule is one `loaders.ops.metrics` documents, grouped by its own labels."""
    from loaders.ops import metrics

    documented = {
        match.group(1): set(filter(None, (match.group(2) or "").split(",")))
        for match in re.finditer(r"^\s+(outings_[a-z_]+)(?:\{([a-z_,]+)\})?\s", metrics.__doc__ or "", re.M)
    }
    assert {"outings_job_last_run_success", "outings_anomalies_open"} <= set(documented), documented
    rule = one(render(sets=["monitoring.rules.enabled=true"]), "PrometheusRule")
    for alert in (r for group in rule["spec"]["groups"] for r in group["rules"]):
        expr = alert["expr"]
        used = set(re.findall(r"\b(outings_[a-z_]+)\b", expr))
        assert used and used <= set(documented), (alert["alert"], used - set(documented))
        grouped = set().union(
            *(set(g.replace(" ", "").split(",")) for g in re.findall(r"by \(([^)]*)\)", expr))
        )
        for metric in used:
            assert grouped - {"namespace"} <= documented[metric], (alert["alert"], metric, grouped)
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr
