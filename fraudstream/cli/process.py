"""``fraudstream process``: run the streaming processor locally (same code as spark-submit)."""

from __future__ import annotations

import click

from fraudstream.cli.context import CliContext


@click.command()
@click.option(
    "--available-now",
    is_flag=True,
    help="Process what the streams hold, then exit (backfills, tests).",
)
@click.pass_obj
def process(obj: CliContext, available_now: bool) -> None:
    """Run the processor: Kinesis -> features -> score -> decide -> lake and alerts.

    Runs until Ctrl-C (stops between micro-batches) unless --available-now. Reads the model
    from FRAUDSTREAM_MODEL_DIR, checkpoints to FRAUDSTREAM_CHECKPOINT_LOCATION (default under
    FRAUDSTREAM_STATE_DIR); AWS_ENDPOINT_URL points it at the local stack.
    """
    from processor.streaming_job import run

    handle = run(obj.settings, available_now=available_now)
    last = handle.sink.last
    if last is not None:
        click.echo(f"processor stopped after batch {last.batch_id}")
