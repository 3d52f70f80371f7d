import numpy as np

from ml_model.features import FEATURE_INDEX, FEATURE_NAMES, UNKNOWN
from processor.decisions.inputs import decision_inputs


def test_rule_columns_come_from_the_features() -> None:
    matrix = np.zeros((2, len(FEATURE_NAMES)), dtype=np.float32)
    matrix[:, FEATURE_INDEX["amount"]] = [100.0, 50.0]
    matrix[0, FEATURE_INDEX["card_count_30d"]] = 3
    matrix[0, FEATURE_INDEX["card_mean_30d"]] = 20.0
    matrix[:, FEATURE_INDEX["speed_from_previous_kmh"]] = [UNKNOWN, 4_000.0]
    matrix[:, FEATURE_INDEX["card_count_10m"]] = [0, 5]
    inputs = decision_inputs(matrix, np.array([0.1, 0.2]))
    assert inputs["card_mean_amount_30d"].tolist()[0] == 20.0
    assert np.isnan(inputs["card_mean_amount_30d"].tolist()[1])  # no history: unknown
    assert np.isnan(inputs["speed_kmh_from_prev"].tolist()[0])
    assert inputs["card_count_10m"].tolist() == [1, 6]  # this transaction included
    assert inputs["score"].tolist() == [0.1, 0.2]


def test_every_feature_is_a_column_too() -> None:
    """Rules may read any model feature by name (the shipped policy reads card_count_30d)."""
    matrix = np.arange(2 * len(FEATURE_NAMES), dtype=np.float32).reshape(2, -1)
    inputs = decision_inputs(matrix, np.zeros(2))
    for name in FEATURE_NAMES:
        if name != "card_count_10m":  # the rule column of that name counts this one too
            assert inputs[name].tolist() == matrix[:, FEATURE_INDEX[name]].tolist()
            assert inputs[name].dtype == np.float64
