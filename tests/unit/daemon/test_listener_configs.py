"""The installer's example config and the demo's serve the status page on loopback only."""

from pathlib import Path

import yaml

from watchd.cli.demo_cmd import CONFIG_TEMPLATE

ROOT = Path(__file__).resolve().parents[3]


def test_the_installed_config_listens_on_loopback():
    config = yaml.safe_load((ROOT / "deploy/examples/watchd.yaml").read_text())
    assert config["metrics"]["listen"] == "127.0.0.1:9464"


def test_the_demo_config_listens_on_loopback():
    text = CONFIG_TEMPLATE.format(api_url="http://127.0.0.1:1", email="e@x", status_port=9464)
    assert yaml.safe_load(text)["metrics"]["listen"] == "127.0.0.1:9464"
