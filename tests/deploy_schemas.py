"""JSON Schemas of the Kubernetes kinds fastdet's manifests in deploy/ use, written for fastdet
from the fields KServe's (serving.kserve.io) and Seldon Core v2's (mlops.seldon.io) API references
document: not their CRD files (Seldon's are under the Business Source License, and neither is at
hand offline). They cover the fields the manifests use and refuse any other at those levels, so a
misspelt or misplaced field fails."""

from __future__ import annotations

from typing import Any


def _obj(props: dict[str, Any], required: tuple[str, ...] = (), closed: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, "required": list(required)}
    if closed:
        schema["additionalProperties"] = False
    return schema


STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
STRS = {"type": "array", "items": STR}
QUANTITY = {"type": ["string", "integer"]}
METADATA = _obj({"name": STR, "namespace": STR, "labels": {"type": "object"}, "annotations": {"type": "object"}},
                ("name",))
ENV = {"type": "array", "items": _obj({"name": STR, "value": STR}, ("name", "value"))}
RESOURCES = _obj({"requests": {"type": "object", "additionalProperties": QUANTITY},
                  "limits": {"type": "object", "additionalProperties": QUANTITY}})
PROBE = _obj({"httpGet": _obj({"path": STR, "port": {"type": ["integer", "string"]}}, ("port",)),
              "initialDelaySeconds": INT, "periodSeconds": INT, "timeoutSeconds": INT, "failureThreshold": INT})
CONTAINER = _obj({
    "name": STR, "image": STR, "command": STRS, "args": STRS, "env": ENV, "resources": RESOURCES,
    "ports": {"type": "array", "items": _obj({"containerPort": INT, "name": STR, "protocol": {"enum": ["TCP", "UDP"]}},
                                             ("containerPort",))},
    "readinessProbe": PROBE, "livenessProbe": PROBE,
    "volumeMounts": {"type": "array", "items": _obj({"name": STR, "mountPath": STR, "readOnly": BOOL},
                                                    ("name", "mountPath"))},
}, ("name",))
VOLUMES = {"type": "array", "items": _obj({"name": STR, "secret": _obj({"secretName": STR}, ("secretName",)),
                                           "configMap": _obj({"name": STR}, ("name",))}, ("name",))}


def _kind(api: str, kind: str, spec: dict[str, Any] | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"apiVersion": {"const": api}, "kind": {"const": kind}, "metadata": METADATA}
    required = ["apiVersion", "kind", "metadata"]
    if spec is not None:
        props["spec"] = spec
        required.append("spec")
    props.update(extra or {})
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False}


SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("serving.kserve.io/v1alpha1", "ServingRuntime"): _kind("serving.kserve.io/v1alpha1", "ServingRuntime", _obj({
        "supportedModelFormats": {"type": "array", "minItems": 1, "items": _obj(
            {"name": STR, "version": STR, "autoSelect": BOOL, "priority": INT}, ("name",))},
        "protocolVersions": {"type": "array", "items": {"enum": ["v1", "v2", "grpc-v1", "grpc-v2"]}},
        "containers": {"type": "array", "minItems": 1, "items": CONTAINER},
        "volumes": VOLUMES, "multiModel": BOOL, "disabled": BOOL,
    }, ("supportedModelFormats", "containers"))),
    ("serving.kserve.io/v1beta1", "InferenceService"): _kind("serving.kserve.io/v1beta1", "InferenceService", _obj({
        "predictor": _obj({
            "minReplicas": INT, "maxReplicas": INT, "scaleTarget": INT, "scaleMetric": STR,
            "model": _obj({"modelFormat": _obj({"name": STR, "version": STR}, ("name",)), "runtime": STR,
                           "protocolVersion": {"enum": ["v1", "v2", "grpc-v2"]}, "storageUri": STR,
                           "resources": RESOURCES, "env": ENV}, ("modelFormat",)),
        }, ("model",)),
    }, ("predictor",))),
    ("mlops.seldon.io/v1alpha1", "Server"): _kind("mlops.seldon.io/v1alpha1", "Server", _obj({
        "serverConfig": STR, "replicas": INT, "minReplicas": INT, "maxReplicas": INT,
        "capabilities": STRS, "extraCapabilities": STRS,
        "podSpec": _obj({"containers": {"type": "array", "items": CONTAINER}, "volumes": VOLUMES}),
    }, ("serverConfig",))),
    ("mlops.seldon.io/v1alpha1", "Model"): _kind("mlops.seldon.io/v1alpha1", "Model", _obj({
        "storageUri": STR, "requirements": STRS, "server": STR, "replicas": INT, "minReplicas": INT,
        "maxReplicas": INT, "memory": QUANTITY, "artifactVersion": INT,
    }, ("storageUri",))),
    ("v1", "Secret"): _kind("v1", "Secret", None, {
        "type": STR, "stringData": {"type": "object", "additionalProperties": STR},
        "data": {"type": "object", "additionalProperties": STR}}),
}
