"""``fraudstream dashboard``: watch a running processor, in a browser or in this terminal."""

from __future__ import annotations

import threading

import click

from fraudstream.cli.context import CliContext
from fraudstream.errors import FraudstreamError


@click.command()
@click.option(
    "--terminal", is_flag=True, help="Show the live view in this terminal instead of serving it."
)
@click.option(
    "--host",
    default=None,
    help="Address to serve on [FRAUDSTREAM_DASHBOARD_HOST, default 127.0.0.1]. Anything but "
    "loopback exposes the alerts to whoever can reach it: there is no authentication.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to serve on; 0 = any free port [FRAUDSTREAM_DASHBOARD_PORT, default 8765].",
)
@click.option(
    "--metrics-url",
    default=None,
    help="The processor's Prometheus endpoint [default: http://FRAUDSTREAM_METRICS_HOST:"
    "FRAUDSTREAM_METRICS_PORT/metrics].",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between scrapes of the processor.",
)
@click.option(
    "--window",
    type=click.FloatRange(min=1.0),
    default=10.0,
    show_default=True,
    help="Seconds of the moving window behind rates and latency percentiles.",
)
@click.option(
    "--alerts",
    "alerts_limit",
    type=click.IntRange(1, 200),
    default=20,
    show_default=True,
    help="How many of the newest alerts to show.",
)
@click.option(
    "--policy-interval",
    type=click.FloatRange(min=0.0),
    default=30.0,
    show_default=True,
    help="Seconds between measurements of the decision policy on the lake's labelled rows "
    "(the precision-recall panel, as `fraudstream rules test`); 0 turns the panel off.",
)
@click.option(
    "--policy-hours",
    type=click.FloatRange(min=0.0, min_open=True),
    default=168.0,
    show_default=True,
    help="Hours of event time the policy panel measures, back from now.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    help="Stop after this many seconds [default: run until Ctrl-C].",
)
@click.pass_obj
def dashboard(
    obj: CliContext,
    terminal: bool,
    host: str | None,
    port: int | None,
    metrics_url: str | None,
    interval: float,
    window: float,
    alerts_limit: int,
    policy_interval: float,
    policy_hours: float,
    duration: float | None,
) -> None:
    """Live throughput, end-to-end latency p50/p99, decisions, quarantine and the latest alerts
    of a running processor: served as a read-only web page (default) or drawn in this terminal.

    Reads the processor's Prometheus endpoint and the alerts table (FRAUDSTREAM_ALERTS_TABLE,
    AWS_ENDPOINT_URL) through its latest-alerts index. The web page also shows the decision
    policy's precision and recall on the model's precision-recall curve, the blocks against
    their promise and each rule's precision, measured on the lake's labelled transactions
    (FRAUDSTREAM_BUCKET, FRAUDSTREAM_RULES_PATH, FRAUDSTREAM_MODEL_DIR). Ctrl-C stops.
    """
    from fraudstream.live import Collector, DashboardServer, LiveView
    from fraudstream.live.policy import PolicyWatch, lake_measure
    from fraudstream.live.web import is_loopback

    settings = obj.settings
    collector = Collector.from_settings(
        settings,
        metrics_url=metrics_url,
        interval=interval,
        window=window,
        alerts_limit=alerts_limit,
    )
    stop = threading.Event()
    timer = threading.Timer(duration, stop.set) if duration else None
    server = None
    watch = None
    if not terminal and policy_interval > 0:
        watch = PolicyWatch(lake_measure(settings, policy_hours), interval=policy_interval)
    if not terminal:
        bind = host or settings.dashboard_host
        wanted = settings.dashboard_port if port is None else port
        try:
            server = DashboardServer(collector, bind, wanted, policy=watch)
        except OSError as error:
            raise FraudstreamError(
                f"cannot serve the dashboard on {bind}:{wanted}: {error.strerror or error} "
                "(pass --port, or 0 for any free port)"
            ) from error
        if not is_loopback(bind):
            click.echo(
                f"warning: serving on {bind}, not loopback: anyone who can reach it can read "
                "the alerts",
                err=True,
            )
    collector.poll()  # the first figures before anything is shown
    collector.start()
    if watch is not None:
        watch.start()
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        if server is None:
            LiveView(collector, alerts=min(alerts_limit, 10)).run(stop)
        else:
            server.start()
            click.echo(
                f"dashboard at {server.url} (watching {collector.metrics_url}); Ctrl-C stops"
            )
            stop.wait()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        if timer is not None:
            timer.cancel()
        if server is not None:
            server.stop()
        if watch is not None:
            watch.stop()
        collector.stop()
