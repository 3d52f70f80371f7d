"""``fraudstream demo``: the main job on the embedded local stack.

Foundation stage: start the stack, produce transactions with injected fraud, show what arrived
on the stream, stop what it started.
"""

from __future__ import annotations

import click

from fraudstream.cli.context import CliContext


@click.command()
@click.option(
    "--rate", type=float, default=1000.0, show_default=True, help="Transactions per second."
)
@click.option("--duration", type=float, default=10.0, show_default=True, help="Seconds to run.")
@click.option("--keep-stack", is_flag=True, help="Leave the emulator running afterwards.")
@click.pass_context
def demo(ctx: click.Context, rate: float, duration: float, keep_stack: bool) -> None:
    """Start the local stack, produce transactions with injected fraud, show what arrived."""
    from fraudstream.cli.produce import produce, stream
    from fraudstream.stack import lifecycle

    obj: CliContext = ctx.obj
    base = obj.settings
    status = lifecycle.up(base)
    started_here = status.managed
    click.echo(f"local stack at {status.endpoint}")
    obj._settings = base.model_copy(update={"endpoint_url": status.endpoint})
    try:
        ctx.invoke(
            produce,
            rate=rate,
            duration=duration,
            cards=10_000,
            fraud_rate=0.01,
            seed=7,
            label_delay=5.0,
            clock="live",
        )
        ctx.invoke(stream.commands["stats"], labels=False, show=2)
    finally:
        if started_here and not keep_stack:
            lifecycle.stop_emulator(base)
            click.echo("local stack stopped")
