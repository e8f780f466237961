"""The business rules on their own: API keys, the policy file, routing, token buckets shared
between processes, image items and request tensors. The same rules against a real server are in
test_serving_server.py."""

from __future__ import annotations

import io
import multiprocessing
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mlserver")

from mlserver.types import InferenceRequest  # noqa: E402

from fastdet.serving import keys, policy, routing  # noqa: E402
from fastdet.serving.errors import BadRequest, Forbidden, TooLarge  # noqa: E402
from fastdet.serving.images import ENVELOPE, decode_item, item_size, npy_array, unwrap, wrap  # noqa: E402
from fastdet.serving.rate_limit import SharedBuckets  # noqa: E402
from fastdet.serving.tensors import batch_inputs, router_input  # noqa: E402


def test_keys_are_stored_hashed_and_found_by_hash():
    a, b = keys.new_key(), keys.new_key()
    assert a != b and a.startswith(keys.PREFIX) and len(a) > 40
    stored = [("alice", bytes.fromhex(keys.key_sha256(a))), ("bob", bytes.fromhex(keys.key_sha256(b)))]
    assert keys.match(a, stored) == "alice" and keys.match(b, stored) == "bob"
    assert keys.match(a[:-1], stored) is None and keys.match("", stored) is None
    with pytest.raises(ValueError, match="64 lowercase hex"):
        keys.check_hash(a, "clients.x.key_sha256")  # the key itself, not its hash


def test_key_from_headers():
    assert keys.key_from_headers({"Authorization": "Bearer k1"}) == "k1"
    assert keys.key_from_headers({"authorization": "bearer  k2 "}) == "k2"
    assert keys.key_from_headers({"x-api-key": "k3"}) == "k3"
    assert keys.key_from_headers({"content-type": "application/json"}) is None
    assert keys.key_from_headers(None) is None
    with pytest.raises(ValueError, match="Bearer"):
        keys.key_from_headers({"authorization": "Basic dXNlcjpwdw=="})


def _policy(text: str, tmp_path: Path) -> policy.Policy:
    path = tmp_path / "policy.toml"
    path.write_text(textwrap.dedent(text))
    return policy.load(path)


HASH = "0" * 64


@pytest.mark.parametrize("text, message", [
    ("[clients.a]\nmodels = ['m']\n", "key_sha256 is missing"),
    ("[clients.a]\nkey_sha256 = 'abc'\n", "64 lowercase hex"),
    (f"[clients.a]\nkey_sha256 = '{HASH}'\nrate = -1\n", "clients.a.rate"),
    (f"[clients.a]\nkey_sha256 = '{HASH}'\nburst = 3\n", "burst needs a rate"),
    (f"[clients.a]\nkey_sha256 = '{HASH}'\nmodel = ['m']\n", "unknown entries \\['model'\\]"),
    (f"[clients.a]\nkey_sha256 = '{HASH}'\n[clients.b]\nkey_sha256 = '{HASH}'\n", "share one key_sha256"),
    ("[routing.m]\nchallenger_share = 0.5\n", "need a challenger"),
    ("[routing.m]\nchallenger = 'v2'\nchallenger_share = 1.5\n", "share from 0.0 to 1.0"),
    ("[routing.m]\nchallenger = 'v2'\nchallenger_clients = ['ghost']\n", "not clients"),
    ("[clients\n", "not valid TOML"),
])
def test_bad_policies_name_the_entry(tmp_path, text, message):
    with pytest.raises(policy.PolicyError, match=message):
        _policy(text, tmp_path)


def test_a_raw_key_pasted_as_its_hash_is_not_echoed(tmp_path):
    key = keys.new_key()
    with pytest.raises(policy.PolicyError) as e:
        _policy(f"[clients.a]\nkey_sha256 = '{key}'\n", tmp_path)
    assert key not in str(e.value) and key[:12] not in str(e.value)
    assert "not its hash" in str(e.value) and f"{len(key)} characters" in str(e.value)


def test_unknown_versions_leave_no_load_gates_behind(tmp_path, two_class_model):
    from fastdet.quality.registry import Registry
    from fastdet.serving.detectors import Detectors
    from fastdet.serving.options import DetectorOptions

    model = two_class_model
    registry = Registry(tmp_path / "registry")
    registry.add("line", model)
    detectors = Detectors(DetectorOptions(registry="line", registry_root=registry.root, threads=1))
    for i in range(50):
        with pytest.raises(BadRequest):
            detectors.get(f"nope{i}")
    assert detectors._loading == {}
    assert detectors.get(None)[0] == registry.champion("line")["version"]
    assert detectors._loading == {}


def test_policy_file_reloads_on_change_and_keeps_the_last_good_one(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(f"[clients.a]\nkey_sha256 = '{HASH}'\nmodels = ['m']\n")
    pf = policy.PolicyFile(path)
    assert list(pf.current().clients) == ["a"]
    path.write_text(f"[clients.b]\nkey_sha256 = '{HASH}'\nmodels = ['m']\n")
    assert list(pf.current().clients) == ["b"]
    path.write_text("[clients.c]\n")  # broken: no key
    assert list(pf.current().clients) == ["b"]


def test_client_permissions():
    c = policy.Client("c", models=("m1", "m2:v2"))
    assert c.allows("m1") and c.allows("m1", "v9") and c.allows("m2", "v2")
    assert not c.allows("m2", "v1") and not c.allows("m3")
    assert policy.Client("all", models=("*",)).allows("anything", "v1")


def test_routing_shares_are_deterministic_per_key_and_near_the_share():
    rules = policy.Routing(challenger="v2", challenger_share=0.25, key="camera")
    client = policy.Client("c", models=("m",))
    picks = [routing.decide("m", rules, client, "v1", key=f"cam-{i}").version for i in range(4000)]
    share = picks.count("v2") / len(picks)
    assert abs(share - 0.25) < 0.03  # 4000 keys: the binomial sd is 0.007
    again = [routing.decide("m", rules, client, "v1", key=f"cam-{i}").version for i in range(4000)]
    assert again == picks


def test_routing_rules_in_order_and_permissions():
    rules = policy.Routing(challenger="v2", challenger_share=1.0, challenger_clients=("lab",), shadow_share=0.5)
    lab = policy.Client("lab", models=("m",))
    assert routing.decide("m", rules, lab, "v1").rule == "challenger_clients"
    assert routing.decide("m", rules, policy.Client("x", models=("m",)), "v1").rule == "challenger_share"
    only_v1 = policy.Client("old", models=("m:v1",))
    r = routing.decide("m", rules, only_v1, "v1", draw=0.0)
    assert (r.version, r.route, r.shadow) == ("v1", "champion", "v2")  # shadow runs, its answer is never returned
    assert routing.decide("m", rules, only_v1, "v1", draw=0.9).shadow is None
    assert routing.decide("m", rules, only_v1, "v1", pinned="v1").route == "pinned"
    with pytest.raises(Forbidden):
        routing.decide("m", rules, only_v1, "v1", pinned="v2")
    with pytest.raises(Forbidden):
        routing.decide("other", rules, only_v1, "v1")


def _take_many(folder: str, n: int, out: "multiprocessing.Queue[int]") -> None:
    buckets = SharedBuckets(Path(folder))
    out.put(sum(buckets.take("a", rate=1e-6, burst=25) == 0.0 for _ in range(n)))


def test_token_bucket_is_shared_by_processes(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_take_many, args=(str(tmp_path / "rate"), 20, out)) for _ in range(3)]
    for p in procs:
        p.start()
    granted = sum(out.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(60)
    assert granted == 25  # 60 tries, a burst of 25, no refill worth a token
    b = SharedBuckets(tmp_path / "rate")
    assert b.take("b", rate=1e-6, burst=1) == 0.0  # another client's bucket is untouched
    assert b.take("a", rate=1e-6, burst=25) > 1000  # spent: a token in 1e6 seconds


def test_token_bucket_refills_at_its_rate(tmp_path):
    b = SharedBuckets(tmp_path)
    assert [b.take("a", 10.0, 2, now=100.0) for _ in range(3)][:2] == [0.0, 0.0]
    assert b.take("a", 10.0, 2, now=100.0) == pytest.approx(0.1)
    assert b.take("a", 10.0, 2, now=100.1) == 0.0  # one token back after 1/rate


def test_editing_the_policy_refills_no_bucket(tmp_path):
    """Buckets are kept per client name: adding or removing other clients changes nobody's."""
    from fastdet.serving.errors import RateLimited
    from fastdet.serving.router import FastdetRouter

    router = FastdetRouter.__new__(FastdetRouter)
    router._buckets = None
    path = tmp_path / "policy.toml"
    base = f"[clients.carol]\nkey_sha256 = '{HASH}'\nrate = 0.001\nburst = 2\n"
    path.write_text(base)
    live = policy.PolicyFile(path)

    def tries(n: int) -> list[int]:
        out = []
        for _ in range(n):
            p = live.current()
            try:
                router._take_token(p, p.clients["carol"])
                out.append(200)
            except RateLimited:
                out.append(429)
        return out

    try:
        assert tries(3) == [200, 200, 429]
        path.write_text(base + f"[clients.dave]\nkey_sha256 = '{'1' * 64}'\n")
        assert len(live.current().clients) == 2
        assert tries(2) == [429, 429]
        path.write_text(base)
        assert len(live.current().clients) == 1
        assert tries(2) == [429, 429]
    finally:
        import shutil

        router._buckets.close()
        shutil.rmtree(router._buckets.folder, ignore_errors=True)


def _png(h: int, w: int, value: int = 255) -> bytes:
    import cv2

    return cv2.imencode(".png", np.full((h, w, 3), value, np.uint8))[1].tobytes()


def test_items_sized_from_the_header_before_decoding():
    import cv2

    big = cv2.imencode(".png", np.zeros((10000, 10000), np.uint8))[1].tobytes()  # 100 megapixels, ~100 KB
    assert item_size(big) == (10000, 10000)
    with pytest.raises(TooLarge, match="100.0 megapixels"):
        decode_item(big, 40_000_000)
    frame = decode_item(_png(30, 40), 1_000_000)
    assert frame.pixels.shape == (30, 40, 3)
    with pytest.raises(BadRequest, match="cannot decode"):
        decode_item(b"\xff\xd8\xff\xe0" + b"\x00garbage" * 20, 1_000_000)
    with pytest.raises(BadRequest, match="empty"):
        decode_item(b"", 1_000_000)


def test_npy_frames_read_without_pickle_or_copy():
    a = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    buf = io.BytesIO()
    np.save(buf, a)
    data = buf.getvalue()
    assert np.array_equal(npy_array(data), a) and item_size(data) == (2, 3)
    buf = io.BytesIO()
    np.save(buf, a.astype(np.float32))
    with pytest.raises(BadRequest, match="uint8"):
        npy_array(buf.getvalue())
    buf = io.BytesIO()
    np.save(buf, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(BadRequest):
        npy_array(buf.getvalue())
    with pytest.raises(BadRequest, match="promises"):
        npy_array(data[:-1])


def _npy_claiming(shape) -> bytes:
    header = f"{{'descr': '|u1', 'fortran_order': False, 'shape': {tuple(shape)}, }}"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()


@pytest.mark.parametrize("shape", [(2 ** 62, 4, 3), (2 ** 63, 2 ** 63, 3), (2, 2), (1, 2, 2, 3)])
def test_npy_headers_with_impossible_shapes_are_bad_requests(shape):
    with pytest.raises(BadRequest):
        npy_array(_npy_claiming(shape))
    with pytest.raises(BadRequest):
        decode_item(_npy_claiming(shape), 1_000_000)


def test_uint8_shapes_are_counted_without_wrapping():
    with pytest.raises(BadRequest, match="needs"):
        router_input(_request([{"name": "image", "datatype": "UINT8", "shape": [2 ** 62, 4, 3], "data": []}]))
    with pytest.raises(BadRequest, match="needs"):
        batch_inputs(_request([{"name": "images", "datatype": "UINT8", "shape": [1, 2 ** 62, 4, 3], "data": []}]))


def test_envelope_carries_the_version_and_lets_only_the_router_through():
    key = b"k" * 32
    data, version = unwrap(wrap(b"img", key, "v2"), key)
    assert (bytes(data), version) == (b"img", "v2")
    data, version = unwrap(wrap(b"img", None, None), None)
    assert (bytes(data), version) == (b"img", None)
    assert bytes(unwrap(b"img", None)[0]) == b"img"  # no key: a plain image is served as the default version
    for item in (b"img", wrap(b"img", b"x" * 32, "v1"), ENVELOPE + b"v1\nshort"):
        with pytest.raises(Forbidden, match="router"):
            unwrap(item, key)
    with pytest.raises(BadRequest, match="envelope"):
        unwrap(ENVELOPE + b"v" * 100, None)


def _request(inputs: list[dict]) -> InferenceRequest:
    return InferenceRequest.model_validate({"inputs": inputs})


def test_batch_inputs_checks_names_types_and_shapes():
    items = batch_inputs(_request([{"name": "images", "datatype": "BYTES", "shape": [2], "data": ["aGk=", "aGk="]}]))
    assert items == [b"hi", b"hi"]
    nested = batch_inputs(_request([{"name": "images", "datatype": "BYTES", "shape": [2, 1],
                                     "data": [["aGk="], ["aGk="]]}]))
    assert nested == [b"hi", b"hi"]
    frames = batch_inputs(_request([{"name": "images", "datatype": "UINT8", "shape": [1, 2, 2, 3],
                                     "data": list(range(12))}]))
    assert frames.shape == (1, 2, 2, 3)
    for inputs, message in [
        ([{"name": "img", "datatype": "BYTES", "shape": [1], "data": ["aGk="]}], "inputs"),
        ([{"name": "images", "datatype": "BYTES", "shape": [1], "data": ["aGk="]},
          {"name": "version", "datatype": "BYTES", "shape": [1], "data": ["v1"]}], "one input"),
        ([{"name": "images", "datatype": "FP32", "shape": [1], "data": [1.0]}], "datatype"),
        ([{"name": "images", "datatype": "BYTES", "shape": [2], "data": ["aGk="]}], "promises 2"),
        ([{"name": "images", "datatype": "BYTES", "shape": [1], "data": ["not base64!"]}], "base64"),
        ([{"name": "images", "datatype": "UINT8", "shape": [1, 2, 2, 4], "data": list(range(16))}], "B, H, W, 3"),
        ([{"name": "images", "datatype": "UINT8", "shape": [1, 2, 2, 3], "data": list(range(11))}], "needs 12"),
        ([{"name": "images", "datatype": "UINT8", "shape": [1, 1, 1, 3], "data": [1, 2, 300]}], "0-255"),
    ]:
        with pytest.raises(BadRequest, match=message):
            batch_inputs(_request(inputs))


def test_router_takes_one_image():
    assert router_input(_request([{"name": "image", "datatype": "BYTES", "shape": [1], "data": ["aGk="]}])) == b"hi"
    frame = router_input(_request([{"name": "image", "datatype": "UINT8", "shape": [2, 2, 3], "data": [0] * 12}]))
    assert frame.shape == (2, 2, 3)
    with pytest.raises(BadRequest, match="one image per request"):
        router_input(_request([{"name": "image", "datatype": "BYTES", "shape": [2], "data": ["aGk=", "aGk="]}]))


def test_a_policy_other_users_could_write_is_refused(tmp_path):
    text = f"[clients.a]\nkey_sha256 = '{HASH}'\n"
    path = tmp_path / "policy.toml"
    path.write_text(text)
    assert list(policy.load(path).clients) == ["a"]
    path.chmod(0o666)
    with pytest.raises(policy.PolicyError, match="writable by group or others"):
        policy.load(path)
    path.chmod(0o600)
    tmp_path.chmod(0o777)
    try:
        with pytest.raises(policy.PolicyError, match="writable by group or others"):
            policy.load(path)
    finally:
        tmp_path.chmod(0o700)
    live = policy.PolicyFile(path)
    path.write_text(text + f"[clients.b]\nkey_sha256 = '{'1' * 64}'\n")
    path.chmod(0o646)
    assert list(live.current().clients) == ["a"]  # the change cannot be trusted: the old policy stays


def _secret_volume(folder: Path, files: dict[str, bytes]) -> None:
    """A folder laid out as Kubernetes mounts a Secret: files in a timestamped folder, reached
    through the links NAME -> ..data/NAME and ..data -> ..TIMESTAMP."""
    stamped = folder / "..2024_01_01"
    stamped.mkdir(parents=True)
    for name, data in files.items():
        (stamped / name).write_bytes(data)
        (stamped / name).chmod(0o644)
        (folder / name).symlink_to(f"..data/{name}")
    (folder / "..data").symlink_to(stamped.name)


def test_internal_key_and_policy_from_a_root_owned_secret_volume(tmp_path):
    """Kubernetes mounts Secrets root-owned, through links; the server runs as uid 1000."""
    import os
    import tempfile

    from fastdet.serving.options import UntrustedFile, read_internal_key

    key = b"k" * 32
    _secret_volume(tmp_path / "secret", {"internal.key": key, "policy.toml": f"[clients.a]\nkey_sha256 = '{HASH}'\n".encode()})
    assert read_internal_key(tmp_path / "secret" / "internal.key") == key
    assert list(policy.load(tmp_path / "secret" / "policy.toml").clients) == ["a"]
    if os.getuid() != 0:
        pytest.skip("reading root's files as another user needs root to set up")
    shared = Path(tempfile.mkdtemp())
    try:
        shared.chmod(0o755)
        _secret_volume(shared / "secret", {"internal.key": key})
        other = shared / "other"  # a key another (non-root) user owns is still refused
        other.mkdir()
        other.chmod(0o755)
        (other / "internal.key").write_bytes(key)
        os.chown(other / "internal.key", 1001, 1001)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through the pipe
            try:
                os.setgid(1000)
                os.setuid(1000)
                ok = read_internal_key(shared / "secret" / "internal.key") == key
                try:
                    read_internal_key(other / "internal.key")
                    refused = False
                except UntrustedFile:
                    refused = True
                os.write(write, b"%d%d" % (ok, refused))
            finally:
                os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        assert os.read(read, 2) == b"11"
        os.close(read)
    finally:
        import shutil

        shutil.rmtree(shared)


def test_each_router_writes_its_decisions_to_its_own_log(tmp_path):
    import json

    from fastdet.serving import decisions

    a = decisions.logger(tmp_path / "a.jsonl", "router-a")
    b = decisions.logger(tmp_path / "b.jsonl", "router-b")
    decisions.write(a, "request", model="router-a")
    decisions.write(b, "request", model="router-b")
    for h in a.handlers + b.handlers:
        h.flush()
    for name in ("a", "b"):
        lines = [json.loads(x) for x in (tmp_path / f"{name}.jsonl").read_text().splitlines()]
        assert [d["model"] for d in lines] == [f"router-{name}"]
    again = decisions.logger(tmp_path / "c.jsonl", "router-a")  # reloaded with another file
    assert again is a and len(a.handlers) == 1
    for h in a.handlers + b.handlers:
        h.close()
