"""Fixtures: tiny decoder checkpoints saved to temporary folders (see tiny_models.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.encoders.tiny_models import ARCHITECTURES, build_tiny_decoder


@pytest.fixture(scope="session", params=sorted(ARCHITECTURES))
def tiny_decoder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_decoder(tmp_path_factory.mktemp(f"tiny_{request.param}"), request.param)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_decoder(tmp_path_factory.mktemp("tiny_llama_single"), "llama")
