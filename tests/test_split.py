"""fastdet split: deterministic, stratified, within 2 points per stratum on 1,000+ images, stable
when images are added, copies kept together; the sealed test split."""

from __future__ import annotations

import json

import numpy as np
import pytest

import fastdet
from fastdet.cli import main
from fastdet.quality import sealed
from fastdet.quality.split import parse_ratios, quantile_thresholds, read_manifest, split_dataset
from tiny_datasets import NAMES, many_images, two_images, write_image, write_labels
from tiny_models import yolov8_like


def _lines(folder, name):
    return (folder / f"{name}.txt").read_text().splitlines()


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    folder = tmp_path_factory.mktemp("big")
    many_images(folder, 1200)
    return folder


def test_shares_per_stratum_deterministic_and_files(big, capsys):
    assert main(["split", str(big), "--seed", "7"]) == 0
    out = capsys.readouterr().out
    manifest = read_manifest(big)
    assert manifest["seed"] == 7 and manifest["ratios"] == pytest.approx([0.8, 0.1, 0.1])
    for stratum, counts in manifest["counts"].items():
        n = sum(counts.values())
        assert n == 400, stratum
        for name, share in zip(("train", "val", "test"), (0.8, 0.1, 0.1)):
            assert abs(counts[name] / n - share) <= 0.02, (stratum, counts)
    assert "person" in out and "80.0%" in out
    files = {k: _lines(big, k) for k in ("train", "val", "test")}
    assert sum(map(len, files.values())) == 1200 and len(set().union(*map(set, files.values()))) == 1200
    assert files["val"][0].startswith("./images/im")
    assert len(manifest["test_sha256"]) == len(files["test"])
    yaml_text = (big / "data.yaml").read_text()
    assert "train: train.txt" in yaml_text and "test: test.txt" in yaml_text
    # Same seed, same split; another seed is refused while the split exists (its test part is sealed).
    assert main(["split", str(big), "--seed", "7"]) == 0
    assert {k: _lines(big, k) for k in files} == files
    assert main(["split", str(big), "--seed", "8"]) == 2
    assert "move images of the sealed test split" in capsys.readouterr().err
    assert main(["split", str(big), "--seed", "8", "--force", "-o", str(big / "other")]) == 0
    assert _lines(big / "other", "test") != files["test"]


def test_adding_images_moves_none(tmp_path):
    many_images(tmp_path, 300)
    first = split_dataset(tmp_path, (0.8, 0.1, 0.1), 3)
    where = {p.name: k for k, ps in first.files.items() for p in ps}
    from fastdet.quality.split import write_split

    write_split(first, tmp_path, seed=3, ratios=(0.8, 0.1, 0.1), person_class=0, names=NAMES)
    many_images(tmp_path, 100, seed=1, start=300)
    second = split_dataset(tmp_path, (0.8, 0.1, 0.1), 3, previous=read_manifest(tmp_path))
    assert second.reused
    moved = [p.name for k, ps in second.files.items() for p in ps if p.name in where and where[p.name] != k]
    assert moved == [] and sum(map(len, second.files.values())) == 400


def test_copies_land_together_and_bad_input(tmp_path):
    pixels = np.arange(192, dtype=np.uint8).reshape(8, 8, 3)
    for i in range(20):
        write_image(tmp_path, f"copy{i}.png", pixels)
    write_image(tmp_path, "other.png", pixels[::-1].copy())
    write_labels(tmp_path, "other", ["0 0.5 0.5 2 x"])
    r = split_dataset(tmp_path, (0.5, 0.25, 0.25), 0)
    placed = [k for k, ps in r.files.items() for p in ps if p.name.startswith("copy")]
    assert len(set(placed)) == 1 and len(placed) == 20
    assert r.issues.counts["duplicate_image"] == 19 and r.issues.counts["malformed_line"] == 1
    for bad in ("80,10", "a,b,c", "-1,1,1", "0,0,0"):
        with pytest.raises(fastdet.InputError, match="ratios"):
            parse_ratios(bad)
    assert parse_ratios("8,1,1") == pytest.approx((0.8, 0.1, 0.1))
    assert quantile_thresholds(np.zeros(0), (0.8, 0.1, 0.1)) == pytest.approx((0.8, 0.9))
    (tmp_path / "empty" / "images").mkdir(parents=True)
    assert main(["split", str(tmp_path / "empty"), "--seed", "1"]) == 2
    assert main(["split", str(tmp_path / "nowhere"), "--seed", "1"]) == 2


def test_copies_labelled_differently_land_together(tmp_path):
    """A copy without labels (or with other labels) falls in another stratum: it must still go
    where the image's other copies go, or one copy could train the model another tests."""
    rng = np.random.default_rng(123)
    many_images(tmp_path, 60)
    for i in range(150):
        px = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        write_image(tmp_path, f"person{i}.png", px)
        write_labels(tmp_path, f"person{i}", ["0 0.5 0.5 0.5 0.5"])
        write_image(tmp_path, f"bare{i}.png", px)
    where = {p.name: k for k, ps in split_dataset(tmp_path, (0.8, 0.1, 0.1), 0).files.items() for p in ps}
    assert [i for i in range(150) if where[f"person{i}.png"] != where[f"bare{i}.png"]] == []


def test_a_later_split_moves_no_image_whatever_its_labels(tmp_path):
    from fastdet.quality.split import write_split

    many_images(tmp_path, 90)
    first = split_dataset(tmp_path, (0.8, 0.1, 0.1), 0)
    write_split(first, tmp_path, seed=0, ratios=(0.8, 0.1, 0.1), person_class=0, names=NAMES)
    where = {p.name: k for k, ps in first.files.items() for p in ps}
    for name, split in where.items():  # every image now says something else
        write_labels(tmp_path, name[:-4], [] if split == "test" else ["0 0.5 0.5 0.5 0.5"])
    second = split_dataset(tmp_path, (0.8, 0.1, 0.1), 0, previous=read_manifest(tmp_path))
    assert {p.name: k for k, ps in second.files.items() for p in ps} == where
    assert second.test_sha256 == first.test_sha256
    with pytest.raises(fastdet.InputError, match="person class"):
        split_dataset(tmp_path, (0.8, 0.1, 0.1), 0, person_class=1, previous=read_manifest(tmp_path))


def test_images_added_after_a_small_first_split_fill_every_split(tmp_path):
    """Cuts placed between 2 images per stratum must not decide the shares of the 900 added later."""
    from fastdet.quality.split import write_split

    many_images(tmp_path, 6)
    first = split_dataset(tmp_path, (0.8, 0.1, 0.1), 0)
    write_split(first, tmp_path, seed=0, ratios=(0.8, 0.1, 0.1), person_class=0, names=NAMES)
    many_images(tmp_path, 900, seed=1, start=6)
    second = split_dataset(tmp_path, (0.8, 0.1, 0.1), 0, previous=read_manifest(tmp_path))
    for stratum, shares in second.shares().items():
        assert shares["val"] == pytest.approx(0.1, abs=0.03), (stratum, shares)
        assert shares["test"] == pytest.approx(0.1, abs=0.03), (stratum, shares)


@pytest.mark.usefixtures("cpu_backend")
def test_the_seal_holds_through_subfolders_and_lists_elsewhere(tmp_path, capsys):
    data = tmp_path / "d"
    many_images(data, 60)
    assert main(["split", str(data), "--seed", "0"]) == 0
    model = yolov8_like(tmp_path / "m.onnx", np.array([[32, 32, 8, 8]], np.float32), np.array([[0.9], [0.0]]),
                        metadata={"names": repr(NAMES)})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    tests = [str((data / line[2:]).resolve()) for line in _lines(data, "test")]
    (elsewhere / "mine.txt").write_text("\n".join(tests) + "\n")
    capsys.readouterr()
    for target in (data / "images", elsewhere / "mine.txt"):
        assert main(["eval", str(model), str(target)]) == 2
        assert "sealed test split" in capsys.readouterr().err


@pytest.mark.usefixtures("cpu_backend")
def test_sealed_test_split(tmp_path, capsys):
    data = two_images(tmp_path / "d")
    many_images(data, 30)
    assert main(["split", str(data), "--seed", "1", "--ratios", "50,25,25"]) == 0
    model = yolov8_like(tmp_path / "m.onnx", np.array([[32, 32, 8, 8]], np.float32), np.array([[0.9], [0.0]]),
                        metadata={"names": repr(NAMES)})
    capsys.readouterr()
    assert main(["eval", str(model), str(data / "val.txt"), "--json"]) == 0
    # The test split, reached through its file, the dataset YAML or the whole folder, needs --test.
    for args in ([str(data / "test.txt")], [str(data / "data.yaml"), "--split", "test"], [str(data)]):
        assert main(["eval", str(model), *args]) == 2
        assert "sealed test split" in capsys.readouterr().err
    assert sealed.uses(data) == []
    assert main(["eval", str(model), str(data / "test.txt"), "--test", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    log = sealed.uses(data)
    assert len(log) == 1 and log[0]["model_sha256"] == report["model"]["sha256"]
    assert log[0]["test_images"] == report["data"]["sealed_test_images"] > 0
    # Choosing a size is model selection: never on the test split.
    assert main(["eval", str(model), str(data / "test.txt"), "--test", "--sizes", "64"]) == 2


def test_the_refusal_offers_test_only_where_there_is_such_an_option(tmp_path):
    """`fastdet promote` has no --test: its refusal must not tell the user to pass one."""
    from types import SimpleNamespace

    seal = SimpleNamespace(touched=lambda gt: 3, folder=tmp_path)
    with pytest.raises(fastdet.InputError, match="pass --test"):
        sealed.check(seal, None, False, "evaluation")
    with pytest.raises(fastdet.InputError) as refused:
        sealed.check(seal, None, False, "promotion")
    assert "--test" not in str(refused.value) and "validation data only" in str(refused.value)
