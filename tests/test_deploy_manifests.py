"""The manifests in deploy/ (KServe and Seldon Core v2), checked offline: each document against the
schema of its kind (tests/deploy_schemas.py), the `fastdet serve` command line of the KServe
runtime against fastdet's own parser, the model-settings.json of the Seldon models against
MLServer's ModelSettings and fastdet's settings readers, and every policy against fastdet's
policy reader. They were not run on a cluster here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
jsonschema = pytest.importorskip("jsonschema")

from deploy_schemas import SCHEMAS  # noqa: E402

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def _docs() -> list[tuple[str, dict]]:
    out = []
    for path in sorted(DEPLOY.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                out.append((f"{path.relative_to(DEPLOY)}:{doc.get('kind')}/{doc['metadata']['name']}", doc))
    return out


DOCS = _docs()


def test_manifests_present():
    kinds = {(d["apiVersion"], d["kind"]) for _, d in DOCS}
    assert {("serving.kserve.io/v1alpha1", "ServingRuntime"), ("serving.kserve.io/v1beta1", "InferenceService"),
            ("mlops.seldon.io/v1alpha1", "Server"), ("mlops.seldon.io/v1alpha1", "Model")} <= kinds


@pytest.mark.parametrize("name, doc", DOCS, ids=[n for n, _ in DOCS])
def test_each_document_matches_its_kind(name, doc):
    schema = SCHEMAS.get((doc["apiVersion"], doc["kind"]))
    assert schema is not None, f"{name}: no schema for {doc['apiVersion']} {doc['kind']}"
    jsonschema.validate(doc, schema)


def test_a_misplaced_field_is_caught():
    _, runtime = next((n, d) for n, d in DOCS if d["kind"] == "ServingRuntime")
    bad = json.loads(json.dumps(runtime))
    bad["spec"]["container"] = bad["spec"].pop("containers")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMAS[(bad["apiVersion"], bad["kind"])])


def test_kserve_runtime_runs_a_valid_fastdet_serve(tmp_path, capsys):
    from fastdet.cli import build_parser, main

    runtime = next(d for _, d in DOCS if d["kind"] == "ServingRuntime")
    container = runtime["spec"]["containers"][0]
    assert container["command"] == ["fastdet"]
    args = build_parser().parse_args(container["args"])
    assert (args.command, args.host, args.port) == ("serve", "0.0.0.0", 8080)
    assert container["ports"][0]["containerPort"] == args.port == container["readinessProbe"]["httpGet"]["port"]
    isvc = next(d for _, d in DOCS if d["kind"] == "InferenceService")
    assert isvc["metadata"]["annotations"]["prometheus.io/port"] == str(args.metrics_port)
    assert isvc["spec"]["predictor"]["model"]["runtime"] == runtime["metadata"]["name"]
    assert isvc["spec"]["predictor"]["model"]["modelFormat"]["name"] == runtime["spec"]["supportedModelFormats"][0]["name"]
    # The same command line, on a tiny model instead of /mnt/models, with the manifest's policy.
    import numpy as np

    from tiny_models import yolov8_like

    model = yolov8_like(tmp_path / "model.onnx", np.array([[8, 8, 4, 4]], np.float32), np.ones((1, 1), np.float32))
    policy = tmp_path / "policy.toml"
    secret = next(d for n, d in DOCS if d["kind"] == "Secret" and n.startswith("kserve"))
    policy.write_text(secret["stringData"]["policy.toml"])
    argv = [str(model) if a == "/mnt/models/model.onnx" else a for a in container["args"]]
    argv = [f"--policy={policy}" if a.startswith("--policy=") else a for a in argv] + ["--dry-run"]
    assert main(argv) == 0
    files = json.loads(capsys.readouterr().out)
    assert files["settings.json"]["grpc_port"] == 9000
    readiness = container["readinessProbe"]["httpGet"]["path"].split("/")[3]
    assert f"{readiness}/model-settings.json" in files


def test_seldon_model_settings_load_in_mlserver_and_fastdet():
    pytest.importorskip("mlserver")
    from mlserver.settings import ModelSettings

    from fastdet.serving.options import DetectorOptions, RouterOptions

    models = {d["metadata"]["name"]: d for _, d in DOCS if d["kind"] == "Model"}
    server = next(d for _, d in DOCS if d["kind"] == "Server")
    for name, model in models.items():
        assert model["spec"]["server"] == server["metadata"]["name"]
        assert set(model["spec"]["requirements"]) <= set(server["spec"]["extraCapabilities"])
        settings = ModelSettings.parse_file(str(DEPLOY / "seldon" / "artifacts" / name / "model-settings.json"))
        assert settings.name == name
        reader = RouterOptions if settings.implementation_ == "fastdet.serving.FastdetRouter" else DetectorOptions
        options = reader.from_settings(settings)
        if reader is RouterOptions:
            assert options.detector in models and options.extra_headers["seldon-model"] == options.detector
    mounts = server["spec"]["podSpec"]["containers"][0]["volumeMounts"]
    assert any(m["mountPath"] == "/etc/fastdet" for m in mounts)


def test_policies_in_manifests_parse():
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    from fastdet.serving.policy import parse

    secrets = [d for _, d in DOCS if d["kind"] == "Secret"]
    assert secrets
    for s in secrets:
        policy = parse(tomllib.loads(s["stringData"]["policy.toml"]))
        assert policy.clients
