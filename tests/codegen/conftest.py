"""Fixtures for the codegen tests.

Most tests use the default kernel cache (``~/.cache/ember/kernels``), so a second run of the suite
loads kernels numba has already compiled. Tests of the disk cache itself take
``isolated_kernel_cache``, which points ``EMBER_KERNEL_CACHE`` at a fresh temporary directory.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture
def isolated_kernel_cache(tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "kernels"
    monkeypatch.setenv("EMBER_KERNEL_CACHE", str(directory))
    return directory
