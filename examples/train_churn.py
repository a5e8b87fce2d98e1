"""Train a churn classifier on gold.gold_ml_user_features and report its ROC AUC.

Reads the published warehouse read-only (never the one a job is building),
splits users 75/25 stratified on the label, fits a gradient-boosted classifier
and a logistic-regression baseline, prints both ROC AUCs and saves the ROC
curves to out/churn_roc.png.

    .venv/bin/python examples/train_churn.py [--warehouse PATH] [--plot PATH] [--seed N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

FEATURES = [
    "tenure_days",
    "groups_count",
    "outings_going_90d",
    "spend_eur_90d",
    "messages_30d",
    "events_30d",
    "notif_success_rate_30d",
    "days_since_last_active",
]

# a stratified 25 % split puts at least one user of each class in the held-out set from 4 on
MIN_PER_CLASS, MIN_USERS = 4, 40


def load_features(warehouse: Path) -> tuple[list[list[float]], list[int]]:
    # nulls carry meaning (never active, no notifications): encode them as a sentinel the trees can split on
    columns = ", ".join(f"coalesce(cast({c} as double), -1)" for c in FEATURES)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute(
            f"select {columns}, cast(is_churned as int) from gold.gold_ml_user_features order by user_id"
        ).fetchall()
    return [list(r[:-1]) for r in rows], [int(r[-1]) for r in rows]


def main() -> int:
    from loaders.job.publish import published_warehouse_path

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warehouse", type=Path, default=published_warehouse_path())
    parser.add_argument("--plot", type=Path, default=Path("out/churn_roc.png"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not args.warehouse.is_file():
        print(f"error: no published warehouse at {args.warehouse}: run `make demo` first", file=sys.stderr)
        return 2

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score, roc_curve
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, labels = load_features(args.warehouse)
    churned = sum(labels)
    print(f"{len(labels)} users, {churned} churned ({100 * churned / max(len(labels), 1):.1f} %)")
    if min(churned, len(labels) - churned) < MIN_PER_CLASS or len(labels) < MIN_USERS:
        print(
            f"error: {len(labels)} users, {churned} churned: the held-out split needs at least {MIN_USERS} users "
            f"and {MIN_PER_CLASS} of each class; generate a larger scale (`datagen --scale 0.05`)",
            file=sys.stderr,
        )
        return 2
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=0.25, stratify=labels, random_state=args.seed
    )
    models = {
        "gradient boosting": HistGradientBoostingClassifier(random_state=args.seed),
        "logistic regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    }
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, model in models.items():
        model.fit(x_train, y_train)
        scores = model.predict_proba(x_test)[:, 1]
        auc = roc_auc_score(y_test, scores)
        fpr, tpr, _ = roc_curve(y_test, scores)
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
        print(f"ROC AUC on the held-out 25 % ({len(y_test)} users), {name}: {auc:.3f}")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(
        xlabel="false positive rate", ylabel="true positive rate", title="Churn classifier, held-out users"
    )
    ax.legend(loc="lower right")
    fig.savefig(args.plot, dpi=120, bbox_inches="tight")
    print(f"ROC curves saved to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
