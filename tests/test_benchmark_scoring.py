"""Scoring arithmetic checked on a hand-made case."""

from __future__ import annotations

import sys
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


def test_labelled_truth_false_alerts_and_budget_recall(tmp_path: Path) -> None:
    # a labelled dataset's truth: account_id, is_sar, sar_patterns (';'-separated)
    truth = tmp_path / "truth_accounts.csv"
    truth.write_text(
        "account_id,is_sar,sar_patterns\nS1,1,fan_in\nS2,1,fan_in;cycle\nS3,1,\nN1,0,\nN2,0,\n",
        encoding="utf-8",
    )
    alerts = _write(
        tmp_path / "alerts.parquet",
        [{"subject_id": "N1", "rank": 1}, {"subject_id": "S2", "rank": 2}],
    )
    # every account ranked: S1 at 3, S3 at 7 (outside the budget of 2 x 3 = 6)
    ranking = ["N1", "S2", "S1", "N2", "X1", "X2", "S3"]
    scores = _write(
        tmp_path / "account_scores.parquet",
        [{"account_id": a, "rank": i + 1} for i, a in enumerate(ranking)],
    )
    score = score_alerts(alerts, truth, accounts_seen=10_000, account_scores=scores)
    assert score.planted == 3
    assert score.recall == pytest.approx(1 / 3, abs=1e-4)
    assert score.normal_accounts == 10_000 - 3
    assert score.false_alerts_per_10k_normal == round(10_000 / 9_997, 2)
    assert (score.budget, score.ranking_source) == (6, "account_scores")
    assert score.budget_recall == pytest.approx(2 / 3, abs=1e-4)
    # the first k = 3 ranks hold S2 and S1: the ranking's precision@k; the alerts' top 3
    # hold only S2 (two alerts cannot fill k = 3)
    assert score.ranking_precision_at_k == pytest.approx(2 / 3, abs=1e-4)
    assert score.precision_at_k == pytest.approx(1 / 3, abs=1e-4)
    by_pattern = {p.pattern: (p.planted_accounts, p.caught_accounts) for p in score.per_pattern}
    assert by_pattern == {"fan_in": (2, 1), "cycle": (1, 1), "labelled": (1, 0)}
    # without the full ranking, the alert ranking is the budget's source
    fallback = score_alerts(alerts, truth, accounts_seen=10_000)
    assert (fallback.ranking_source, fallback.budget_recall) == (
        "alerts",
        pytest.approx(1 / 3, abs=1e-4),
    )


def test_threshold_sweep_from_opening_scores(tmp_path: Path) -> None:
    truth = tmp_path / "truth_accounts.csv"
    truth.write_text("account_id,is_sar\nS1,1\nS2,1\nN1,0\n", encoding="utf-8")
    alerts = _write(tmp_path / "alerts.parquet", [{"subject_id": "S1", "rank": 1}])
    opening = {"S1": 75.0, "N1": 45.0, "S2": 25.0, "N2": 15.0, "N3": 0.0}
    scores = _write(
        tmp_path / "account_scores.parquet",
        [
            {"account_id": a, "rank": i + 1, "opening_score": s}
            for i, (a, s) in enumerate(opening.items())
        ],
    )
    score = score_alerts(alerts, truth, accounts_seen=10_002, account_scores=scores)
    sweep = {
        p.threshold: (p.alerts, p.false_alerts_per_10k_normal, p.recall)
        for p in score.threshold_sweep
    }
    assert sorted(sweep) == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert sweep[10] == (4, 2.0, 1.0)  # S1, N1, S2, N2 (N3 has no evidence at all)
    assert sweep[20] == (3, 1.0, 1.0)
    assert sweep[40] == (2, 1.0, 0.5)
    assert sweep[50] == (1, 0.0, 0.5)
    assert sweep[80] == (0, 0.0, 0.0)
    # without opening scores there is nothing to sweep
    plain = _write(tmp_path / "plain.parquet", [{"account_id": "S1", "rank": 1}])
    assert score_alerts(alerts, truth, 10_002, account_scores=plain).threshold_sweep == ()


def test_an_unflagged_business_is_a_third_party_apart(tmp_path: Path) -> None:
    # LAB-01: the collector is controlling; the employer paying the wages it collects is a
    # third party, neither controlling (no recall owed) nor normal (its alert is no false
    # alert); a front business the typology names (flagged) stays controlling
    truth = _write(
        tmp_path / "truth.parquet",
        [
            {
                "account_id": "COL",
                "pattern": "LAB-01",
                "role": "collector",
                "instance_id": "i1",
                "flagged": True,
            },
            {
                "account_id": "EMP",
                "pattern": "LAB-01",
                "role": "business",
                "instance_id": "i1",
                "flagged": False,
            },
            {
                "account_id": "EMP2",
                "pattern": "LAB-01",
                "role": "business",
                "instance_id": "i1",
                "flagged": False,
            },
            {
                "account_id": "FRONT",
                "pattern": "BIZ-01",
                "role": "business",
                "instance_id": "i2",
                "flagged": True,
            },
        ],
    )
    alerts = _write(
        tmp_path / "alerts.parquet",
        [{"subject_id": "EMP", "rank": 1}, {"subject_id": "COL", "rank": 2}],
    )
    score = score_alerts(alerts, truth, accounts_seen=104)
    assert score.planted == 2  # COL and FRONT
    assert score.recall == 0.5
    assert (score.third_parties, score.third_parties_alerted) == (2, 1)
    assert score.normal_accounts == 100
    assert score.false_alerts_per_10k_normal == 0.0
    assert score.precision_at_k == 0.5  # top 2: EMP (third party), COL
    assert {p.pattern: p.planted_accounts for p in score.per_pattern} == {"BIZ-01": 1, "LAB-01": 1}


def test_the_harness_records_the_most_spill_held_at_once(tmp_path: Path) -> None:
    from benchmarks.run import run_measured, spill_bytes

    assert spill_bytes(tmp_path) == 0
    # a stand-in for a scan: spill files appear in its staging folder, then go
    spill = tmp_path / "out.tmp" / ".scratch" / "spill"
    code = (
        "import pathlib, sys, time\n"
        "spill = pathlib.Path(sys.argv[1])\n"
        "spill.mkdir(parents=True)\n"
        "(spill / 'a.block').write_bytes(b'x' * 2_000_000)\n"
        "(spill / 'b.block').write_bytes(b'x' * 1_000_000)\n"
        "time.sleep(1.5)\n"
        "(spill / 'a.block').unlink()\n"
        "time.sleep(1.0)\n"
    )
    cost = run_measured([sys.executable, "-c", code, str(spill)], spill_dir=tmp_path)
    assert cost.returncode == 0, cost.stderr
    assert cost.peak_spill_mb == 3.0
    assert spill_bytes(tmp_path) == 1_000_000
