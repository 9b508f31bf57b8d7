"""Checks of the asv suite that need a browser: opt in with `pytest -m browser tests/bench`."""
import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: loads pages in headless Chromium (opt in with -m browser)")


def pytest_collection_modifyitems(config, items):
    if "browser" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="loads pages in headless Chromium: run with -m browser")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
