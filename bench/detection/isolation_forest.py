#!/usr/bin/env python3
"""scikit-learn's IsolationForest on resetgate's anomaly features: the external
baseline of the detection comparison (bench/src/bin/detection.rs runs it).

Reads two CSV files written by the comparison, both with the header
`index,<the 27 feature names of models::features::SCHEMA>`:
  --train  the training split's attempts (fitted on, unlabelled, like the linfa model)
  --test   the held-out attempts to score
and writes `index,score` for every test row to --out, where score is the
negated `score_samples`: higher = more anomalous, as every other scorer.
Features are standardised with the training split's mean and deviation first,
as the linfa model's scaler does. Seeded: the same files and seed give the same
scores.
"""
import argparse
import csv
import sys

import numpy as np
from sklearn.ensemble import IsolationForest


def read(path):
    with open(path, newline="") as f:
        rows = csv.reader(f)
        header = next(rows)
        if not header or header[0] != "index":
            sys.exit(f"{path}: the first column must be 'index', got {header[:1]}")
        data = [row for row in rows]
    index = np.array([int(r[0]) for r in data], dtype=np.int64)
    x = np.array([[float(v) for v in r[1:]] for r in data], dtype=np.float64)
    return header[1:], index, x


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--trees", type=int, default=200)
    args = p.parse_args()

    names, _, train = read(args.train)
    test_names, index, test = read(args.test)
    if names != test_names:
        sys.exit("--train and --test have different feature columns")
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std < 1e-9] = 1.0
    forest = IsolationForest(
        n_estimators=args.trees, max_samples=256, random_state=args.seed, n_jobs=1
    )
    forest.fit((train - mean) / std)
    scores = -forest.score_samples((test - mean) / std)
    with open(args.out, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["index", "score"])
        for i, s in zip(index, scores):
            out.writerow([int(i), repr(float(s))])
    print(
        f"IsolationForest ({args.trees} trees, seed {args.seed}) fitted on {len(train)} "
        f"attempts, scored {len(test)}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
