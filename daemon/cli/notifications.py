"""``serve``'s notification options, and the dispatcher they build (docs/notifications.md)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from daemon.errors import ServeExit

if TYPE_CHECKING:
    from daemon.notify import Dispatcher
    from daemon.review.policy import Policy
    from daemon.service import Daemon

__all__ = ["ENV_SECRET", "add_arguments", "dispatcher", "webhook_secret"]

ENV_SECRET = "DRIVERSEAT_WEBHOOK_SECRET"


def _url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL")
    return text


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "--webhook", type=_url, default=None, metavar="URL",
        help="POST a signed JSON message to this URL when a review or question waits, is "
        "escalated or ends (for chat tools; needs a secret: --webhook-secret-file or "
        f"${ENV_SECRET})",
    )  # fmt: skip
    s.add_argument(
        "--webhook-secret-file", type=Path, default=None, metavar="PATH",
        help="the file holding the webhook's HMAC-SHA256 secret (default: "
        f"${ENV_SECRET})",
    )  # fmt: skip
    s.add_argument(
        "--no-desktop-notifications", action="store_true",
        help="show no desktop notification (org.freedesktop.Notifications) for waiting reviews",
    )  # fmt: skip


def webhook_secret(args: argparse.Namespace) -> bytes | None:
    """The webhook's secret (None without --webhook); exits 2 with a sentence when missing."""
    if args.webhook is None:
        if args.webhook_secret_file is not None:
            raise ServeExit("--webhook-secret-file needs --webhook URL", 2)
        return None
    if args.webhook_secret_file is not None:
        path: Path = args.webhook_secret_file
        try:
            secret = path.read_bytes().strip()
        except OSError as exc:
            raise ServeExit(f"cannot read the webhook secret {path}: "
                            f"{exc.strerror or exc}", 2) from None  # fmt: skip
        where = str(path)
    else:
        secret = os.environ.get(ENV_SECRET, "").strip().encode()
        where = f"${ENV_SECRET}"
    if not secret:
        raise ServeExit(
            f"--webhook needs a secret to sign its messages: put one in a file for "
            f"--webhook-secret-file, or in ${ENV_SECRET} ({where} is empty or unset)", 2
        )  # fmt: skip
    return secret


def dispatcher(
    args: argparse.Namespace, secret: bytes | None, daemon: Daemon, policy: Policy, base_url: str
) -> tuple[Dispatcher, str]:
    """The notifications of one daemon, and how they are set up, in a few words."""
    from daemon.notify import DesktopNotifier, Dispatcher, Webhook
    from daemon.notify.webhook import where

    queue = daemon.reviews
    d = Dispatcher(
        daemon.hub, base_url, escalate_after=policy.escalate_after_seconds, store=daemon.store,
        pending=(lambda: [r.model_dump(mode="json") for r in queue.pending()]) if queue else list,
    )  # fmt: skip
    said = []
    if not args.no_desktop_notifications:
        d.desktop = DesktopNotifier(d.on_action)
        said.append("desktop (session bus)")
    if args.webhook is not None and secret is not None:
        d.webhook = Webhook(args.webhook, secret)
        said.append(f"webhook {where(args.webhook)} (signed)")
    said.append(f"critical ones escalated after {policy.escalate_after_seconds:g} s")
    return d, ", ".join(said)
