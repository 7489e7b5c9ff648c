"""`aftercare web`: the page alert links open, so a physician acknowledges from the phone.

Run as a service on the clinic server, on 127.0.0.1 behind the clinic's TLS
reverse proxy (docs/deployment.md). `--init-secret` creates the secret that
signs the links, once. aiohttp is imported only when the service starts, so
`aftercare --help` does not pay for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tui.cli.errors import fail, warn
from tui.cli.opening import open_clinic, settings


def register(app: typer.Typer) -> None:
    """Add the `web` command to the `aftercare` CLI."""
    app.command("web")(serve)


def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on: this machine only, behind the proxy.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8340,
    init_secret: Annotated[
        bool,
        typer.Option(
            "--init-secret",
            help="Create the secret file that signs alert links (mode 0600; never replaces "
            "one), then exit. Run it as the service user.",
        ),
    ] = False,
) -> None:
    """Serve the page physicians' alert links open: acknowledge or resolve in one tap.

    Needs `web_base_url` (the https address the reverse proxy serves) and the
    secret in `web_secret_file`, which the alert service reads too.
    """
    from core.alert_links import SecretFileError, create_secret, read_secret

    current = settings()
    secret = Path(current.web_secret_file)
    if init_secret:
        try:
            create_secret(secret)
        except SecretFileError as exc:
            fail(str(exc))
        typer.echo(
            f"link secret written to {secret} (mode 0600); restart the alert service so "
            "its messages carry signed links"
        )
        return
    try:
        keys, warnings = read_secret(secret)
    except SecretFileError as exc:
        fail(str(exc))
    for warning in warnings:
        warn(warning)
    if not current.web_base_url:
        warn(
            "web_base_url is not set: alerts carry no link until it names the https "
            "address the reverse proxy serves (in the alert service's settings too)"
        )
    clinic = open_clinic(current)
    from aiohttp import web

    from web.app import make_app

    typer.echo(
        f"aftercare web listening on http://{host}:{port}; links point at "
        f"{current.web_base_url or '(web_base_url not set)'}; SIGTERM stops it"
    )
    try:
        web.run_app(
            make_app(clinic, keys),
            host=host,
            port=port,
            print=None,
            access_log=None,  # a link is a credential: never written to a log
            handle_signals=True,
        )
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    finally:
        clinic.database.close()
