import os
from pathlib import Path

import pytest

from processor.decisions import RulesFile, load_rules, parse_rules
from processor.decisions.config import default_rules_text
from processor.errors import RulesError

MINIMAL = """
version: 1
score: {review: 0.5, block: 0.9}
rules:
  - name: big
    action: review
    all: [{column: amount, op: ">", value: 100}]
"""


def test_default_rules_load_and_name_their_columns() -> None:
    config = load_rules()
    assert [rule.name for rule in config.active_rules()] == [
        "large_first_purchase",
        "velocity_burst",
    ]
    assert config.required_columns() == ("score", "card_count_30d", "amount", "card_count_10m")
    assert config.budget is not None and config.budget.hours == 3


def test_column_mapping_renames_what_rules_read() -> None:
    text = default_rules_text().replace(
        "columns: {}", "columns: {card_count_30d: history_30d, score: p_fraud}"
    )
    config = parse_rules(text)
    assert config.required_columns() == ("p_fraud", "history_30d", "amount", "card_count_10m")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("version: 1", "version: 2"), r"version: Input should be 1"),
        (("review: 0.5", "review: 0.95"), r"score: review \(0.95\) must not exceed block"),
        (("block: 0.9", "block: 1.5"), r"score.block: Input should be less than or equal to 1"),
        (("name: big", "name: Big Rule"), r"rules\[0\].name: String should match pattern"),
        (('op: ">"', 'op: "=>"'), r"rules\[0\].all\[0\].op: Input should be '>'"),
        (("value: 100", "other: x, value: 1"), r"give exactly one of 'value' or 'other'"),
        (("action: review", "action: approve"), r"rules\[0\].action"),
        (("action: review", "action: review\n    colour: red"), r"colour: Extra inputs"),
        (("value: 100", "value: .nan"), r"numbers must be finite"),
        (("score: {", "budget: {review_share: 0}\nscore: {"), r"budget.review_share"),
        (("score: {", "budget: {review_share: 0.01, hours: 0}\nscore: {"), r"budget.hours"),
        (
            ("block: 0.9}", "block: 0.9, block_requires: [{column: n, op: '>'}]}"),
            r"score.block_requires\[0\]: give exactly one",
        ),
    ],
)
def test_invalid_rules_are_refused_with_the_key_named(
    change: tuple[str, str], message: str
) -> None:
    with pytest.raises(RulesError, match=message) as raised:
        parse_rules(MINIMAL.replace(*change), "mine.yaml")
    assert "rules file mine.yaml is invalid" in str(raised.value)


def test_duplicates_yaml_errors_and_unreadable_files(tmp_path: Path) -> None:
    doubled = MINIMAL + MINIMAL.split("rules:\n")[1]
    with pytest.raises(RulesError, match="repeated: big"):
        parse_rules(doubled)
    with pytest.raises(RulesError, match="not valid YAML"):
        parse_rules("score: [unclosed")
    with pytest.raises(RulesError, match="must hold a mapping"):
        parse_rules("- 1")
    with pytest.raises(RulesError, match="cannot be read"):
        load_rules(tmp_path / "absent.yaml")
    clash = MINIMAL.replace(
        "score: {review: 0.5, block: 0.9}", "score: {review: 0.5, block: 0.9, reason: big}"
    )
    with pytest.raises(RulesError, match="also a rule name"):
        parse_rules(clash)


def test_rules_file_reloads_edits_and_keeps_the_last_good(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(MINIMAL)
    source = RulesFile(path)
    assert source.current().rules[0].all[0].value == 100
    path.write_text(MINIMAL.replace("value: 100", "value: 250"))
    os.utime(path, ns=(1, 2_000_000_000))
    assert source.current().rules[0].all[0].value == 250
    path.write_text("version: [")
    os.utime(path, ns=(1, 3_000_000_000))
    assert source.current().rules[0].all[0].value == 250
    assert source.last_error is not None
    assert RulesFile().current() == load_rules()
