"""NB-LR for the sentiment n-gram model: ratios point the right way and the folded weights are the scaled model."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from bot.insight.naive_bayes_logistic import fit_naive_bayes_logistic, log_count_ratios

# Features: 0 "love" (positive rows), 1 "hate" (negative rows), 2 "the" (everywhere), 3 "ok" (neutral rows).
ROWS = [
    ([0, 2], 2),
    ([0], 2),
    ([0, 2], 2),
    ([1, 2], 0),
    ([1], 0),
    ([1, 2], 0),
    ([3, 2], 1),
    ([3], 1),
    ([3, 2], 1),
]


def toy_features() -> tuple[sparse.csr_matrix, np.ndarray]:
    rows = [row for row, (columns, _) in enumerate(ROWS) for _ in columns]
    columns = [column for columns, _ in ROWS for column in columns]
    matrix = sparse.csr_matrix((np.full(len(rows), 0.5, dtype=np.float32), (rows, columns)), shape=(len(ROWS), 4))
    return matrix, np.asarray([label for _, label in ROWS])


def test_a_feature_seen_only_in_a_class_gets_a_positive_ratio_and_a_shared_one_about_zero() -> None:
    features, labels = toy_features()
    ratios = log_count_ratios(features, labels == 2, smoothing=1.0)
    assert ratios[0] > 1.0
    assert ratios[1] < 0 and ratios[3] < 0
    assert abs(ratios[2]) < 0.2


def test_folded_weights_give_the_logits_of_the_regression_on_scaled_features() -> None:
    features, labels = toy_features()
    coef, intercept = fit_naive_bayes_logistic(features, labels, classes=3, c_value=4.0)
    for label in range(3):
        ratios = log_count_ratios(features, labels == label, smoothing=1.0)
        scaled = features @ sparse.diags(ratios)
        reference = LogisticRegression(C=4.0, max_iter=3000).fit(scaled, (labels == label).astype(np.int64))
        expected = reference.decision_function(scaled)
        assert np.allclose(features @ coef[label] + intercept[label], expected, atol=1e-4)


def test_each_row_is_scored_highest_for_its_own_class() -> None:
    features, labels = toy_features()
    coef, intercept = fit_naive_bayes_logistic(features, labels, classes=3, c_value=4.0)
    logits = np.asarray(features @ coef.T) + intercept[None, :]
    assert (logits.argmax(axis=1) == labels).all()
