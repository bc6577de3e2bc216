"""deploy/: each file checked as far as this machine allows (no Docker, cluster or Airflow here).

- Kubernetes: every document validated against Kubernetes v1.33's strict JSON schemas (cut
  from the kubernetes-validate wheel into tests/schemas/, see its README), plus what the fleet
  needs: Indexed completions, Forbid, the stores on the claim, the key from a Secret, the shard
  count matching the completions.
- GitHub Actions: validated against the workflow schema check-jsonschema ships.
- Cloud Run job, Airflow DAG (executed with a stand-in ``airflow`` package that records the
  operators), systemd units (configparser) and the Dockerfile: focused structural checks.
- Every ``tracker-sync`` command line in them is parsed by the real CLI.
"""

from __future__ import annotations

import configparser
import json
import re
import runpy
import shlex
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from sync.cli import cli

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S_SCHEMAS = Path(__file__).parent / "schemas" / "kubernetes-v1.33-strict.json"


def k8s_docs() -> list[dict[str, Any]]:
    text = (DEPLOY / "kubernetes" / "cronjob.yaml").read_text(encoding="utf-8")
    return [d for d in yaml.safe_load_all(text) if d]


def k8s_errors(doc: dict[str, Any]) -> list[str]:
    import jsonschema

    defs = json.loads(K8S_SCHEMAS.read_text(encoding="utf-8"))
    group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else "core"
    version = doc["apiVersion"].split("/")[-1]
    name = f"io.k8s.api.{group}.{version}.{doc['kind']}"
    schema = {"$schema": defs["$schema"], "$ref": f"#/$defs/{name}", "$defs": defs["$defs"]}
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


def assert_cli_parses(command: str) -> None:
    """The command's arguments are valid for the real CLI: it gets as far as reading the
    manifest (which does not exist here), never to a usage error."""
    args = shlex.split(command.split(">")[0])
    while args and not args[0].endswith("tracker-sync"):
        args.pop(0)
    assert args, command
    r = CliRunner().invoke(cli, args[1:], env={"JOB_COMPLETION_INDEX": ""})
    assert "Usage:" not in r.output, (command, r.output)
    assert r.exit_code == 2 and "file not found" in r.output, (command, r.output)


# ---------------------------------------------------------------------------- Kubernetes


def test_kubernetes_manifests_match_the_kubernetes_schemas() -> None:
    docs = k8s_docs()
    assert [d["kind"] for d in docs] == ["PersistentVolumeClaim", "CronJob"]
    for doc in docs:
        assert k8s_errors(doc) == [], doc["kind"]


def test_the_schema_check_catches_a_misspelt_field() -> None:
    cron = k8s_docs()[1]
    cron["spec"]["concurencyPolicy"] = cron["spec"].pop("concurrencyPolicy")
    cron["spec"]["jobTemplate"]["spec"]["completions"] = "four"
    errors = " ".join(k8s_errors(cron))
    assert "concurencyPolicy" in errors and "'four' is not of type" in errors


def test_the_cronjob_runs_indexed_shards_one_run_at_a_time_with_stores_and_a_secret() -> None:
    pvc, cron = k8s_docs()
    spec = cron["spec"]
    job = spec["jobTemplate"]["spec"]
    pod = job["template"]["spec"]
    (container,) = pod["containers"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert job["completionMode"] == "Indexed"
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    # Kubernetes sets JOB_COMPLETION_INDEX; the count is ours and must match completions
    assert env["TRACKER_SYNC_SHARD_COUNT"] == str(job["completions"])
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    claim = volumes["stores"]["persistentVolumeClaim"]["claimName"]
    assert claim == pvc["metadata"]["name"] and mounts["stores"] == "/data"
    assert "secretName" in volumes["google"]["secret"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["args"][:2] == ["fleet", "run"]
    assert_cli_parses("tracker-sync " + shlex.join(container["args"]))
    # the stores must be writable: the manifest (a read-only ConfigMap) names a store_dir there
    assert "store_dir: /data/" in (DEPLOY / "kubernetes" / "cronjob.yaml").read_text(
        encoding="utf-8"
    )


def test_cloud_run_job_runs_its_tasks_as_shards() -> None:
    job = yaml.safe_load((DEPLOY / "cloud-run" / "job.yaml").read_text(encoding="utf-8"))
    assert (job["apiVersion"], job["kind"]) == ("run.googleapis.com/v1", "Job")
    execution = job["spec"]["template"]["spec"]
    assert execution["taskCount"] >= 1 and execution["parallelism"] <= execution["taskCount"]
    task = execution["template"]["spec"]
    (container,) = task["containers"]
    mounts = {m["name"] for m in container["volumeMounts"]}
    assert mounts == {v["name"] for v in task["volumes"]}
    assert "secret" in {k for v in task["volumes"] for k in v}
    assert_cli_parses("tracker-sync " + shlex.join(container["args"]))


# ---------------------------------------------------------------------------- GitHub Actions


def test_github_actions_workflow_matches_the_workflow_schema() -> None:
    import importlib.resources

    import jsonschema

    schema = json.loads(
        importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
        .joinpath("github-workflows.json")
        .read_text(encoding="utf-8")
    )
    text = (DEPLOY / "github-actions" / "tracker-sync-fleet.yml").read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    # PyYAML reads the key `on:` as True (YAML 1.1); the schema wants the string
    workflow["on"] = workflow.pop(True)
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(workflow)]
    assert errors == []
    assert workflow["on"]["schedule"][0]["cron"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    runs = [
        s["run"]
        for s in workflow["jobs"]["fleet"]["steps"]
        if "tracker-sync fleet" in s.get("run", "")
    ]
    assert len(runs) == 1
    assert_cli_parses(runs[0])


# ---------------------------------------------------------------------------- Airflow


def test_airflow_dag_maps_one_task_per_shard_in_the_credentials_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[dict[str, Any]] = []

    class DAG:
        def __init__(self, **kwargs: Any) -> None:
            self.kwargs = kwargs
            made.append({"dag": kwargs})

        def __enter__(self) -> DAG:
            return self

        def __exit__(self, *exc: Any) -> None:
            return None

    class Partial:
        def __init__(self, kwargs: dict[str, Any]) -> None:
            self.kwargs = kwargs

        def expand(self, **mapped: Any) -> None:
            made.append({"partial": self.kwargs, "expand": mapped})

    class BashOperator:
        @staticmethod
        def partial(**kwargs: Any) -> Partial:
            return Partial(kwargs)

    for name in (
        "airflow",
        "airflow.sdk",
        "airflow.providers",
        "airflow.providers.standard",
        "airflow.providers.standard.operators",
        "airflow.providers.standard.operators.bash",
    ):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["airflow.sdk"].DAG = DAG  # type: ignore[attr-defined]
    sys.modules["airflow.providers.standard.operators.bash"].BashOperator = BashOperator  # type: ignore[attr-defined]

    module = runpy.run_path(str(DEPLOY / "airflow" / "tracker_sync_fleet.py"))
    dag = made[0]["dag"]
    assert dag["max_active_runs"] == 1 and dag["catchup"] is False and dag["schedule"]
    mapped = [m for m in made if "expand" in m]
    assert len(mapped) == len(module["CREDENTIALS"])
    for m, cred in zip(mapped, module["CREDENTIALS"].values(), strict=True):
        assert m["partial"]["pool"] == cred["pool"]
        commands = m["expand"]["bash_command"]
        assert len(commands) == cred["shards"]
        shards = [re.search(r"--shard (\d+)/(\d+)", c).groups() for c in commands]  # type: ignore[union-attr]
        assert shards == [(str(i), str(cred["shards"])) for i in range(cred["shards"])]
        for c in commands:
            assert_cli_parses(c)


# ---------------------------------------------------------------------------- systemd


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / "systemd" / name, encoding="utf-8")
    return parser


def test_systemd_service_and_timer() -> None:
    service = unit("tracker-sync-fleet.service")
    timer = unit("tracker-sync-fleet.timer")
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["User"] not in ("", "root")
    assert service["Service"]["StateDirectory"]
    assert service["Service"]["LoadCredential"].startswith("bot.json:")
    assert_cli_parses(service["Service"]["ExecStart"])
    assert timer["Timer"]["OnCalendar"] and timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["Unit"] == "tracker-sync-fleet.service"
    assert timer["Install"]["WantedBy"] == "timers.target"


# ---------------------------------------------------------------------------- Dockerfile


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) per instruction, continuation lines joined, comments dropped."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(
        r"\\\n", " ", "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    )
    out = []
    for line in text.splitlines():
        if line.strip():
            op, _, args = line.strip().partition(" ")
            out.append((op.upper(), args.strip()))
    return out


def test_dockerfile_is_slim_non_root_and_installs_the_wheel() -> None:
    steps = dockerfile()
    froms = [a for op, a in steps if op == "FROM"]
    assert froms and all(re.match(r"python:3\.1[1-9]-slim", f) for f in froms)
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    users = [a for op, a in final if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    runs = " ".join(a for op, a in final if op == "RUN")
    assert re.search(r"pip install /wheels/\*\.whl", runs)
    assert "useradd" in runs
    entry = next(json.loads(a) for op, a in final if op == "ENTRYPOINT")
    cmd = next(json.loads(a) for op, a in final if op == "CMD")
    assert entry == ["tracker-sync"]
    assert not any(op == "ADD" for op, _ in steps), "COPY, never ADD (no remote fetches)"
    for op, a in steps:
        if op == "COPY" and not a.startswith("--from"):
            for src in a.split()[:-1]:
                assert (ROOT / src).exists(), f"COPY {src}: not in the checkout"
    assert_cli_parses(shlex.join(["tracker-sync", *cmd]))
