"""``fraudstream stack up|down|status|env``: the embedded local AWS stack."""

from __future__ import annotations

from typing import Any, TextIO

import click

from fraudstream.cli.context import CliContext
from fraudstream.stack import lifecycle


@click.group()
def stack() -> None:
    """Start, stop or inspect the local AWS stack (moto's server on 127.0.0.1:4566)."""


@stack.command()
@click.option("--stock", is_flag=True, help="Run moto without the Kinesis performance patch.")
@click.option(
    "--shard-limits/--no-shard-limits",
    default=None,
    help=(
        "Enforce AWS's per-shard Kinesis limits (puts 1,000 records/s and 1 MiB/s, reads "
        "5 calls/s and 2 MiB/s) as AWS does. Default: FRAUDSTREAM_STACK_SHARD_LIMITS (true)."
    ),
)
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for health.")
@click.pass_obj
def up(obj: CliContext, stock: bool, shard_limits: bool | None, timeout: float) -> None:
    """Start the emulator (if needed) and create the streams, bucket, table and Glue tables."""
    settings = obj.settings
    if shard_limits is not None:
        settings = settings.model_copy(update={"stack_shard_limits": shard_limits})
    status = lifecycle.up(settings, stock=stock, timeout=timeout)
    who = f"emulator pid {status.pid}, log {status.log_path}" if status.managed else "external"
    if status.managed:
        limits = settings.stack_shard_limits and not stock
        who += ", Kinesis shard limits " + ("on" if limits else "off")
    click.echo(f"stack up at {status.endpoint} ({who})")
    if status.resources is not None:
        for name, arn in status.resources.streams.items():
            click.echo(f"  kinesis stream  {name:<22} {arn}")
        click.echo(f"  s3 bucket       {status.resources.bucket}")
        click.echo(f"  dynamodb table  {status.resources.alerts_table}")
        if status.resources.glue_database:
            tables = ", ".join(status.resources.glue_tables)
            click.echo(f"  glue database   {status.resources.glue_database} ({tables})")
    click.echo(f"point every command at it with:\n  export AWS_ENDPOINT_URL={status.endpoint}")


@stack.command()
@click.pass_obj
def down(obj: CliContext) -> None:
    """Stop the emulator this machine started (never anything else)."""
    if lifecycle.stop_emulator(obj.settings):
        click.echo("stack stopped")
    else:
        click.echo("no emulator started by fraudstream is running")


@stack.command()
@click.pass_obj
def status(obj: CliContext) -> None:
    """Show whether the stack answers and who runs it; exit 1 when it is down."""
    current = lifecycle.status(obj.settings)
    state = "running" if current.running else "stopped"
    owner = f" (pid {current.pid}, log {current.log_path})" if current.managed else ""
    click.echo(f"{current.endpoint}: {state}{owner}")
    if not current.running:
        raise SystemExit(1)


@stack.command()
@click.pass_obj
def env(obj: CliContext) -> None:
    """Print shell exports for the stack: eval "$(fraudstream stack env)"."""
    current = lifecycle.status(obj.settings)
    click.echo(f"export AWS_ENDPOINT_URL={current.endpoint}")
    click.echo(f"export AWS_REGION={obj.settings.region}")


@stack.command()
@click.option(
    "--put-records-fail",
    type=float,
    default=0.0,
    show_default=True,
    help="Share of PutRecords records rejected (not stored), as Kinesis throttling.",
)
@click.option(
    "--put-records-throttle",
    type=float,
    default=0.0,
    show_default=True,
    help="Share of PutRecords calls throttled as a whole.",
)
@click.option(
    "--get-records-throttle",
    type=float,
    default=0.0,
    show_default=True,
    help="Share of GetRecords calls throttled.",
)
@click.option(
    "--batch-write-unprocessed",
    type=float,
    default=0.0,
    show_default=True,
    help="Share of BatchWriteItem items returned as UnprocessedItems (not written).",
)
@click.option(
    "--batch-write-throttle",
    type=float,
    default=0.0,
    show_default=True,
    help="Share of BatchWriteItem calls throttled.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--plan",
    "plan_file",
    type=click.File(),
    help='A fault plan as JSON ({"faults": [...], "seed": N}; fraudstream/stack/faults.py '
    "lists the rules), instead of the shares above.",
)
@click.option("--show", is_flag=True, help="Only show the current plan and what was injected.")
@click.pass_obj
def faults(
    obj: CliContext,
    put_records_fail: float,
    put_records_throttle: float,
    get_records_throttle: float,
    batch_write_unprocessed: float,
    batch_write_throttle: float,
    seed: int,
    plan_file: TextIO | None,
    show: bool,
) -> None:
    """Inject AWS-style failures into the running emulator (all zero turns them off)."""
    from fraudstream.errors import StackError
    from fraudstream.stack.faults import Fault, FaultPlan, get_faults, set_faults

    current = lifecycle.status(obj.settings)
    if not current.running:
        raise StackError(f"no emulator answers at {current.endpoint}; run `fraudstream stack up`")
    if show:
        answer = get_faults(current.endpoint)
    else:
        try:
            if plan_file is not None:
                plan = FaultPlan.from_json(plan_file.read())
            else:
                shares = [
                    ("PutRecords", "error", put_records_throttle, 1.0),
                    ("PutRecords", "partial", 1.0, put_records_fail),
                    ("GetRecords", "error", get_records_throttle, 1.0),
                    ("BatchWriteItem", "error", batch_write_throttle, 1.0),
                    ("BatchWriteItem", "partial", 1.0, batch_write_unprocessed),
                ]
                rules = [
                    Fault(operation, effect, probability=probability, fraction=fraction)
                    for operation, effect, probability, fraction in shares
                ]
                plan = FaultPlan(tuple(f for f in rules if f.probability and f.fraction), seed=seed)
        except (ValueError, TypeError) as error:
            raise StackError(f"bad fault plan: {error}") from error
        answer = set_faults(current.endpoint, plan)
    active = "; ".join(_describe(rule) for rule in answer["plan"]["faults"])
    click.echo(f"faults: {active or 'none'}; injected so far: {answer['injected'] or 'nothing'}")


def _describe(rule: dict[str, Any]) -> str:
    """``PutRecords:partial 25% of records`` or ``BatchWriteItem:error 10% of calls``."""
    if rule["effect"] == "partial":
        return f"{rule['name']} {rule['fraction']:.0%} of records"
    return f"{rule['name']} {rule['probability']:.0%} of calls"
