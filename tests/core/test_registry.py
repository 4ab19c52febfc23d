"""The registries: decorator registration, lookups that list what exists, the Makefile's queries."""

from __future__ import annotations

import subprocess
import sys

import pytest

from semcolor.errors import UnknownNameError
from semcolor.registry import DATASETS, METHODS, Registry, current_hparams


def test_every_method_and_dataset_registers_itself():
    assert {"unet", "secbnet", "jsdcgan", "s2color", "slimseg", "multipath"} <= set(METHODS.available())
    assert {"embedded", "zhcbi", "gid", "aid", "nwpu", "cityscapes", "gta5", "sentinel2"} <= set(DATASETS.available())
    for entry in METHODS.entries():
        assert METHODS.name_of(entry.cls) == entry.name and entry.class_path.startswith("semcolor.lightning_modules.")


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(UnknownNameError, match="unknown method 'nosuch'; available methods: .*unet"):
        METHODS.get("nosuch")


def test_tasks_filter_and_validation():
    assert "jsdcgan" in METHODS.available("colorize") and "jsdcgan" not in METHODS.available("segment")
    reg = Registry("thing", "semcolor.lightning_modules")
    with pytest.raises(ValueError, match="unknown task"):
        reg.register("x", tasks=("nope",))


def test_a_name_cannot_be_taken_twice():
    reg = Registry("thing", "semcolor.lightning_modules")

    @reg.register("a")
    class A:
        pass

    with pytest.raises(ValueError, match="registered twice"):
        @reg.register("a")
        class B:
            pass


def test_subclass_of_a_registered_class_is_not_that_method():
    cls = METHODS.get("pix2pix")
    sub = type("Sub", (cls,), {})
    assert METHODS.name_of(sub) is None


def test_legacy_names_are_translated():
    old = {"_class_path": "lightning_modules.unet.UNetBaseline", "in_chans": 4, "lr": 0.1}
    assert current_hparams(old) == {"_class_path": METHODS.entry("unet").class_path, "in_channels": 4, "lr": 0.1}


@pytest.mark.parametrize(("args", "code", "out"), [
    (["methods", "--task", "render16"], 0, "s2color stretch_global stretch_tile"),
    (["needs-checkpoint", "unet"], 0, ""),
    (["needs-checkpoint", "nosuch"], 2, ""),
])
def test_makefile_queries(args, code, out):
    res = subprocess.run([sys.executable, "-m", "semcolor.registry", *args], capture_output=True, text=True)
    assert res.returncode == code, res.stderr
    assert res.stdout.strip() == out
    if code == 2:
        assert "unknown method 'nosuch'" in res.stderr
