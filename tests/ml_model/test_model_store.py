"""Model folders in S3: what the retraining CronJob pulls (champion) and pushes (challenger)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudstream import aws
from fraudstream.settings import Settings
from ml_model import model_store
from ml_model.artifact import load_model
from ml_model.errors import ArtifactError


def test_an_s3_url_names_a_bucket_and_a_folder() -> None:
    assert model_store.split_url("s3://lake/models/challenger") == ("lake", "models/challenger/")
    assert model_store.split_url("s3://lake/models/champion/") == ("lake", "models/champion/")
    for bad in ("lake/models", "s3://lake", "s3://lake/", "s3:///models/"):
        with pytest.raises(ArtifactError):
            model_store.split_url(bad)
    assert model_store.is_s3("s3://lake/x") and not model_store.is_s3("artifacts/model")


@pytest.mark.integration
def test_a_pushed_model_is_pulled_back_whole(
    local_stack: Settings, model_dir: Path, tmp_path: Path
) -> None:
    s3 = aws.client("s3", local_stack)
    url = f"s3://{local_stack.bucket}/models/test-{tmp_path.name}/"
    written = model_store.push(s3, model_dir, url)
    assert [w.rsplit("/", 1)[1] for w in written] == ["model.tar.gz", "manifest.json"]
    pulled = model_store.pull(s3, url, tmp_path / "pulled")
    assert load_model(pulled).version == load_model(model_dir).version

    with pytest.raises(ArtifactError, match="no model at"):
        model_store.pull(s3, f"s3://{local_stack.bucket}/models/absent/", tmp_path / "none")
    with pytest.raises(ArtifactError, match="not a model folder"):
        model_store.push(s3, tmp_path / "empty", url)


@pytest.mark.integration
def test_retraining_says_so_when_the_champion_is_not_in_s3(local_stack: Settings) -> None:
    """What the CronJob prints when models/champion/ was never filled (docs/deploy.md)."""
    from click.testing import CliRunner

    from fraudstream.cli import cli

    url = f"s3://{local_stack.bucket}/models/never-filled/"
    result = CliRunner().invoke(
        cli,
        ["train", "--from-lake", "--since", "35d", "--champion", url,
         "--challenger-dir", f"s3://{local_stack.bucket}/models/challenger-test/"],
        env={"AWS_ENDPOINT_URL": local_stack.endpoint_url or "",
             "FRAUDSTREAM_BUCKET": local_stack.bucket},
    )  # fmt: skip
    assert result.exit_code == 1
    assert f"no model at {url}" in result.output
