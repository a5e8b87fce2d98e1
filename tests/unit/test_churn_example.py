"""examples/train_churn.py on small feature tables written here: a learnable label, and labels it refuses."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "train_churn.py"
AUC_LINE = re.compile(r"ROC AUC on the held-out 25 % \((\d+) users\), (.+): ([0-9.]+)")


def write_features(path: Path, labels: list[bool], seed: int = 3) -> None:
    """gold.gold_ml_user_features with the columns the script reads; churners were inactive for longer."""
    rng = random.Random(seed)
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema gold")
        conn.execute(
            "create table gold.gold_ml_user_features (user_id integer, tenure_days integer, groups_count integer, "
            "outings_going_90d integer, spend_eur_90d decimal(18, 2), messages_30d integer, events_30d integer, "
            "notif_success_rate_30d decimal(5, 2), days_since_last_active integer, is_churned boolean)"
        )
        rows = [
            (
                user_id,
                rng.randint(30, 400),
                rng.randint(0, 4),
                rng.randint(0, 6),
                round(rng.uniform(0, 300), 2),
                rng.randint(0, 40),
                rng.randint(0, 90),
                None if rng.random() < 0.2 else round(rng.uniform(0, 100), 2),
                rng.randint(15, 30) if churned else rng.randint(0, 12),
                churned,
            )
            for user_id, churned in enumerate(labels)
        ]
        conn.executemany("insert into gold.gold_ml_user_features values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def run_script(warehouse: Path, plot: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--warehouse", str(warehouse), "--plot", str(plot)],
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=300,
    )


def test_a_learnable_label_gets_a_high_auc_and_a_plot(tmp_path: Path) -> None:
    warehouse, plot = tmp_path / "features.duckdb", tmp_path / "out" / "roc.png"
    write_features(warehouse, [i % 5 == 0 for i in range(200)])

    result = run_script(warehouse, plot)

    assert result.returncode == 0, result.stderr[-2000:]
    assert "200 users, 40 churned (20.0 %)" in result.stdout
    aucs = {name: (int(held_out), float(auc)) for held_out, name, auc in AUC_LINE.findall(result.stdout)}
    assert set(aucs) == {"gradient boosting", "logistic regression"}
    # days_since_last_active separates the classes, so both models rank churners first
    assert all(held_out == 50 and auc > 0.95 for held_out, auc in aucs.values()), aucs
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_label_without_enough_churners_is_refused_with_the_fix(tmp_path: Path) -> None:
    warehouse = tmp_path / "features.duckdb"
    write_features(warehouse, [i < 3 for i in range(200)])  # 3 churners: too few to hold one out

    result = run_script(warehouse, tmp_path / "roc.png")

    assert result.returncode == 2
    assert "200 users, 3 churned" in result.stderr and "datagen --scale" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "roc.png").exists()


def test_a_missing_warehouse_names_the_command_that_builds_it(tmp_path: Path) -> None:
    result = run_script(tmp_path / "absent.duckdb", tmp_path / "roc.png")

    assert result.returncode == 2
    assert "no published warehouse" in result.stderr and "make demo" in result.stderr


def test_the_features_it_reads_are_columns_of_the_mart_contract() -> None:
    import runpy

    import yaml

    features = runpy.run_path(str(SCRIPT), run_name="train_churn")["FEATURES"]
    marts = yaml.safe_load(
        (REPO / "models" / "marts" / "gold_ml_user_features.yml").read_text(encoding="utf-8")
    )
    (mart,) = [m for m in marts["models"] if m["name"] == "gold_ml_user_features"]
    assert {*features, "user_id", "is_churned"} <= {column["name"] for column in mart["columns"]}
