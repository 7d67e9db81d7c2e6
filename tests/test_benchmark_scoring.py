"""Scoring arithmetic checked on a hand-made case."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks.scoring import score_alerts, score_transactions


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_account_scores_by_hand(tmp_path: Path) -> None:
    truth = _write(
        tmp_path / "truth.parquet",
        [
            {"account_id": "BOSS", "pattern": "CTRL-01", "role": "collector", "instance_id": "i1"},
            {"account_id": "V1", "pattern": "CTRL-01", "role": "victim", "instance_id": "i1"},
            {"account_id": "V2", "pattern": "CTRL-01", "role": "victim", "instance_id": "i1"},
            {"account_id": "M1", "pattern": "GRAPH-01", "role": "mule", "instance_id": "i2"},
            {"account_id": "M2", "pattern": "GRAPH-01", "role": "collector", "instance_id": "i2"},
        ],
    )
    # ranks: V1 (victim) above BOSS, then a false alert, then M2
    alerts = _write(
        tmp_path / "alerts.parquet",
        [
            {"subject_id": "V1", "rank": 1},
            {"subject_id": "BOSS", "rank": 2},
            {"subject_id": "NOISE", "rank": 3},
            {"subject_id": "M2", "rank": 4},
        ],
    )
    score = score_alerts(alerts, truth, accounts_seen=1000)
    assert score.planted == 3  # BOSS, M1, M2
    assert score.recall == pytest.approx(2 / 3, abs=1e-4)
    assert score.precision == 0.75  # V1, BOSS, M2 of 4
    assert score.precision_at_k == pytest.approx(1 / 3, abs=1e-4)  # top 3: V1, BOSS, NOISE
    assert score.alerts_per_10k_accounts == 40.0
    assert (score.victims, score.victim_recall) == (2, 0.5)
    assert score.victims_above_controller == 1
    by_pattern = {
        p.pattern: (p.planted_accounts, p.caught_accounts, p.victims, p.victims_caught)
        for p in score.per_pattern
    }
    assert by_pattern == {"CTRL-01": (1, 1, 2, 1), "GRAPH-01": (2, 1, 0, 0)}


def test_transaction_f1_by_hand(tmp_path: Path) -> None:
    labels = _write(
        tmp_path / "labels.parquet",
        [{"tx_id": f"t{i}", "is_laundering": int(i < 4)} for i in range(10)],
    )
    evidence = _write(
        tmp_path / "evidence.parquet", [{"tx_id": t} for t in ("t0", "t1", "t1", "t5", "t6")]
    )
    score = score_transactions(evidence, labels)
    assert (score.laundering, score.predicted, score.true_positive) == (4, 4, 2)
    assert (score.precision, score.recall, score.f1) == (0.5, 0.5, 0.5)
