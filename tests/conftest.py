from __future__ import annotations

import os

import pytest

# No test may reach the network or need a key: strip credentials, keep litellm offline.
for _name in list(os.environ):
    if _name.endswith("_API_KEY"):
        del os.environ[_name]
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from tests.servers import FakeLLMServer  # noqa: E402


@pytest.fixture
def fake_server():
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"
