"""The run configuration is declared once (``RunConfig``'s fields); parsing, defaults, the
manifest record and the docs follow from that declaration."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.config import RunConfig, config_from_mapping, config_keys, load_config
from engine.errors import InputError

README = Path(__file__).resolve().parent.parent / "README.md"

# The manifest record of the benchmark scans (`--as-of 2099-12-31`, no config file); the
# run_id hashes it, so it must not change for the same config.
BENCHMARK_RECORD = {
    "as_of": "2099-12-31",
    "detectors": {
        "contamination": 0.005,
        "enabled": True,
        "min_group_size": 500,
        "names": ["HBOS", "IForest", "ECOD"],
        "params": {},
        "random_state": 42,
    },
    "future_tolerance_days": 1,
    "fx_rates_file": None,
    "gx_sample_rows": 200000,
    "memory_limit": None,
    "reference_dir": None,
    "reporting_currency": "USD",
    "rules_enabled": True,
    "scoring": {
        "alert_threshold": 40.0,
        "anomaly_alone_opens": False,
        "anomaly_floor": 0.9,
        "anomaly_rank_floor": 0.5,
        "anomaly_weight": 0.5,
        "min_alert_score": 0.0,
        "propagation_decay": 0.5,
        "propagation_hops": 2,
        "propagation_max_counterparties": 100,
        "link_share": 0.5,
        "link_score": 25.0,
        "link_pass_on_typologies": ["LAB-02", "CTRL-03"],
        "link_structure_families": ["GRAPH", "FLOW"],
        "link_block_typologies": ["GRAPH-04", "GRAPH-07", "GRAPH-08"],
        "recency_half_life_days": 180.0,
        "victim_weight": 0.5,
    },
    "threads": None,
    "typology_ids": [],
    "typology_params": {},
}

# Every key a config file can set, none at its default.
FULL_FILE = """
reporting_currency = "eur"
as_of = "2024-12-31"
future_tolerance_days = 3
reference_dir = "ref"
fx_rates_file = "/data/fx.csv"
rules_enabled = false
memory_limit = "8GB"
threads = 2
gx_sample_rows = 1000
[typologies.STR-01]
min_count = 3
[typologies.GRAPH-07]
channels = ["wire"]
[scoring]
victim_weight = 0.4
anomaly_weight = 0
[detectors]
names = ["IForest", "COPOD"]
contamination = 0.01
[detectors.params.IForest]
n_estimators = 200
"""


def test_the_benchmark_record_is_unchanged() -> None:
    assert RunConfig(as_of=date(2099, 12, 31)).to_record() == BENCHMARK_RECORD
    assert RunConfig().with_overrides(as_of=date(2099, 12, 31)).to_record() == BENCHMARK_RECORD


def test_every_field_is_recorded_and_every_file_key_is_a_field() -> None:
    names = [f.name for f in fields(RunConfig)]
    assert list(RunConfig().to_record()) == names
    keys = config_keys()
    assert set(keys.values()) <= set(names)
    # only the typology subset is left to the command line (--typology)
    assert set(names) - set(keys.values()) == {"typology_ids"}
    assert keys["typologies"] == "typology_params"
    for f in fields(RunConfig):
        assert f.metadata["doc"], f.name
        assert f.name in (RunConfig.__doc__ or ""), f.name


def test_a_file_setting_every_key_parses_into_every_field(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(FULL_FILE, encoding="utf-8")
    config = load_config(path)
    default = RunConfig()
    for name in config_keys().values():
        assert getattr(config, name) != getattr(default, name), name
    assert config.to_record() == {
        "as_of": "2024-12-31",
        "detectors": {
            "contamination": 0.01,
            "enabled": True,
            "min_group_size": 500,
            "names": ["IForest", "COPOD"],
            "params": {"IForest": {"n_estimators": 200}},
            "random_state": 42,
        },
        "future_tolerance_days": 3,
        "fx_rates_file": "/data/fx.csv",
        "gx_sample_rows": 1000,
        "memory_limit": "8GB",
        "reference_dir": str(tmp_path / "ref"),
        "reporting_currency": "EUR",
        "rules_enabled": False,
        "scoring": {
            "alert_threshold": 40.0,
            "anomaly_alone_opens": False,
            "anomaly_floor": 0.9,
            "anomaly_rank_floor": 0.5,
            "anomaly_weight": 0.0,
            "min_alert_score": 0.0,
            "propagation_decay": 0.5,
            "propagation_hops": 2,
            "propagation_max_counterparties": 100,
            "link_share": 0.5,
            "link_score": 25.0,
            "link_pass_on_typologies": ["LAB-02", "CTRL-03"],
            "link_structure_families": ["GRAPH", "FLOW"],
            "link_block_typologies": ["GRAPH-04", "GRAPH-07", "GRAPH-08"],
            "recency_half_life_days": 180.0,
            "victim_weight": 0.4,
        },
        "threads": 2,
        "typology_ids": [],
        "typology_params": {"GRAPH-07": {"channels": ["wire"]}, "STR-01": {"min_count": 3}},
    }
    assert config.as_of == date(2024, 12, 31)
    assert config.reference_dir == tmp_path / "ref"


def test_an_empty_file_gives_the_defaults() -> None:
    assert config_from_mapping({}) == RunConfig()
    assert load_config(None) == RunConfig()


def test_unknown_keys_are_refused_with_the_allowed_ones() -> None:
    with pytest.raises(InputError) as caught:
        config_from_mapping({"colour": "red", "typology_ids": ["STR-01"]})
    message = str(caught.value)
    assert "unknown keys ['colour', 'typology_ids']" in message
    assert f"allowed: {sorted(config_keys())}" in message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"reporting_currency": 1}, "reporting_currency must be a currency code, got int"),
        ({"as_of": "31/12/2024"}, "as_of must be a date YYYY-MM-DD"),
        ({"future_tolerance_days": "1"}, "future_tolerance_days must be an integer, got str"),
        ({"threads": True}, "threads must be an integer, got bool"),
        ({"rules_enabled": "yes"}, "rules_enabled must be true or false, got str"),
        ({"reference_dir": 3}, "reference_dir must be a path, got int"),
        ({"memory_limit": 8}, "memory_limit must be a string, got int"),
        ({"typologies": {"STR-01": 3}}, "[typologies.STR-01] must be a table of parameters"),
        ({"scoring": {"victim_weight": "high"}}, "scoring.victim_weight must be like 0.5"),
        (
            {"scoring": {"anomaly_rank_floor": 1.0}},
            "scoring.anomaly_rank_floor must be at least 0 and below 1",
        ),
        ({"detectors": {"names": ["LOF-ish"]}}, "unknown detectors ['LOF-ish']"),
    ],
)
def test_values_of_the_wrong_type_are_refused(raw: dict[str, Any], expected: str) -> None:
    with pytest.raises(InputError) as caught:
        config_from_mapping(raw)
    assert expected in str(caught.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InputError) as caught:
        config_from_mapping({"threads": "x", "as_of": "soon", "colour": 1})
    message = str(caught.value)
    assert "threads" in message and "as_of" in message and "colour" in message


def test_the_readme_example_is_a_valid_config() -> None:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    assert blocks
    for block in blocks:
        raw = tomllib.loads(block)
        if set(raw) <= set(config_keys()):
            config_from_mapping(raw)
            break
    else:
        pytest.fail("no README toml block is a run config")
