"""The default (10+5) prototypes, built once per test session into the session's data folder."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def prototypes(tmp_path_factory):
    from semcolor.palettes.prototypes import load_prototypes

    return load_prototypes(cache=tmp_path_factory.mktemp("prototypes"))
