"""The processor's Spark configuration."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pyspark

from fraudstream.settings import load_settings
from processor.spark_session import LOCAL_CHECKPOINT_MANAGER, is_local_path, session_config

MANAGER_KEY = "spark.sql.streaming.checkpointFileManagerClass"


def test_local_checkpoints_get_the_filesystem_manager_and_object_stores_keep_spark_s(
    tmp_path: Path,
) -> None:
    assert is_local_path("/var/lib/fraudstream") and is_local_path("file:///tmp/x")
    assert not is_local_path("s3a://bucket/checkpoints")
    local = session_config(load_settings(state_dir=tmp_path))
    assert local[MANAGER_KEY] == LOCAL_CHECKPOINT_MANAGER
    remote = session_config(load_settings(checkpoint_location="s3a://lake/checkpoints"))
    assert MANAGER_KEY not in remote


def spark_sql_jars_holding(class_name: str) -> list[str]:
    """The installed Spark's spark-sql jars that hold ``class_name``: Spark resolves a class
    named in its configuration only when a query starts, so a release that moved it would
    fail every query; look for it in the jars now."""
    entry = class_name.replace(".", "/") + ".class"
    jars = (Path(pyspark.__file__).parent / "jars").glob("spark-sql_*.jar")
    return [jar.name for jar in jars if entry in zipfile.ZipFile(jar).namelist()]


def test_the_manager_class_ships_with_the_installed_spark() -> None:
    assert spark_sql_jars_holding(LOCAL_CHECKPOINT_MANAGER), LOCAL_CHECKPOINT_MANAGER


def test_the_cleaners_collections_are_concurrent_and_the_heap_fixed_here_and_on_eks() -> None:
    from processor.spark_session import driver_java_options

    config = session_config(load_settings())
    assert config["spark.cleaner.periodicGC.interval"] == "10s"
    assert driver_java_options("1g") == (
        "-XX:+ExplicitGCInvokesConcurrent -XX:TieredStopAtLevel=1 -Xms1g -XX:+AlwaysPreTouch"
    )
    script = (Path(__file__).parents[2] / "infrastructure/kubernetes/spark-submit.sh").read_text()
    heap = re.search(r"spark\.driver\.memory=(\w+)", script)
    assert heap is not None
    assert f'"spark.driver.extraJavaOptions={driver_java_options(heap.group(1))}"' in script
