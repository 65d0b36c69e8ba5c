"""``python -m mock_omni`` and the ``mock-omni`` command (pyproject.toml): the CLI (server/cli.py), with the
garbage collector paused from the first line of start-up (server/collector.py)."""

from __future__ import annotations


def main() -> int:
    from .server import collector

    collector.pause()
    from .server.cli import main as cli

    return cli()


if __name__ == "__main__":
    raise SystemExit(main())
