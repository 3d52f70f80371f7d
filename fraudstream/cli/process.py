"""``fraudstream process``: run the streaming processor locally (same code as spark-submit)."""

from __future__ import annotations

import click

from fraudstream.cli.context import CliContext


@click.command()
@click.option(
    "--available-now",
    is_flag=True,
    help=(
        "Process what the streams hold when it starts, then exit (catching up after an "
        "outage, backfills); prints a progress line per micro-batch."
    ),
)
@click.pass_obj
def process(obj: CliContext, available_now: bool) -> None:
    """Run the processor: Kinesis -> features -> score -> decide -> lake and alerts.

    Runs until Ctrl-C (stops between micro-batches) unless --available-now. Reads the model
    from FRAUDSTREAM_MODEL_DIR, checkpoints to FRAUDSTREAM_CHECKPOINT_LOCATION (default under
    FRAUDSTREAM_STATE_DIR); AWS_ENDPOINT_URL points it at the local stack. A backlog is read in
    micro-batches of at most FRAUDSTREAM_MAX_RECORDS_PER_TRIGGER records per stream.
    FRAUDSTREAM_HASH_RANGE=i/n runs cell i of n: the shards and cards of that share of the
    streams' hash-key space (docs/deploy.md, "Cells").
    """
    from processor.streaming_job import run

    echo = (lambda line: click.echo(line, err=True)) if available_now else None
    handle = run(obj.settings, available_now=available_now, progress=echo)
    last = handle.sink.last
    if last is not None:
        click.echo(f"processor stopped after batch {last.batch_id}")
