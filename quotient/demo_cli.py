"""`quotient demo [--port] [--speed] [--seed] [--for SECONDS]`: the live demo's command.

Owns the demo's options, printing where the dashboard is and the viewer token, and running
until Ctrl-C (or for `--for` seconds), with one clear line instead of a traceback when it
cannot start. It must not compose the demo itself: `quotient.demo` does.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from quotient.demo import Demo


def demo_command(
    host: Annotated[str, typer.Option(help="Address the API listens on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 = any free one)", min=0, max=65535)] = 8080,
    speed: Annotated[
        float, typer.Option(help="Scheduler seconds per real second (60: a minute shows an hour)",
                            min=0.01, max=100_000)
    ] = 60.0,
    seed: Annotated[int, typer.Option(help="Seed of the generated workload")] = 1,
    cycle_seconds: Annotated[
        float, typer.Option(help="Scheduler seconds between cycles", min=1, max=3600)
    ] = 30.0,
    run_for: Annotated[
        float | None, typer.Option("--for", help="Stop after this many real seconds", min=0)
    ] = None,
) -> None:
    """API, dashboard and scheduler on an in-memory cluster, with a generated team workload."""
    from quotient.demo import Demo, DemoOptions

    options = DemoOptions(host=host, port=port, speed=speed, seed=seed,
                          cycle_seconds=cycle_seconds)
    demo = Demo(options)
    try:
        demo.start()
    except (RuntimeError, OSError) as exc:
        demo.stop()
        typer.echo(f"error: the demo could not start: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        demo.stop()
        typer.echo("demo stopped while starting", err=True)
        raise typer.Exit(130) from None
    _announce(demo, speed)
    deadline = None if run_for is None else time.monotonic() + run_for
    stop = threading.Event()
    try:
        demo.run(lambda: stop.is_set() or (deadline is not None and time.monotonic() >= deadline),
                 sleep=stop.wait)
    except KeyboardInterrupt:
        pass
    finally:
        demo.stop()
    typer.echo("demo stopped", err=True)


def _announce(demo: Demo, speed: float) -> None:
    typer.echo(f"dashboard: {demo.dashboard_url()}")
    typer.echo(f"viewer token: {demo.tokens.viewer}")
    typer.echo(f"admin token:  {demo.tokens.admin}   (e.g. QUOTIENT_URL={demo.url} "
               f"QUOTIENT_TOKEN=... quotient projects list)")
    typer.echo(f"running at {speed:g}x; Ctrl-C stops it", err=True)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
