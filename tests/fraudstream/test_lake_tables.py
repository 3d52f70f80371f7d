import pyarrow as pa
import pytest

from fraudstream import events, lake_tables


def test_transactions_table_starts_with_the_event_contract() -> None:
    lake = lake_tables.arrow_schema("transactions")
    contract = events.arrow_schema()
    for field in contract:
        assert lake.field(field.name).type == field.type
    assert set(lake.names[: len(contract)]) == set(contract.names)


def test_every_table_has_dt_hour_partitions_and_valid_types() -> None:
    assert set(lake_tables.table_names()) == {
        "transactions",
        "aggregates",
        "quarantine",
        "labels",
        "model_monitoring",
        "shadow_scores",
    }
    for name in lake_tables.table_names():
        spec = lake_tables.table(name)
        assert [p.name for p in spec.partition_keys] == ["dt", "hour"]
        assert spec.prefix == f"{name}/"
        schema = lake_tables.arrow_schema(name, with_partitions=True)
        assert schema.names[-2:] == ["dt", "hour"]


def test_complex_types() -> None:
    assert lake_tables.glue_type_to_arrow("map<string,double>") == pa.map_(
        pa.string(), pa.float64()
    )
    assert lake_tables.glue_type_to_arrow("array<string>") == pa.list_(pa.string())
    with pytest.raises(ValueError, match="unsupported"):
        lake_tables.glue_type_to_arrow("struct<a:int>")
    with pytest.raises(KeyError, match="known"):
        lake_tables.table("nope")
