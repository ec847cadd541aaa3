"""Notifications: a waiting review or question calls the person (docs/notifications.md).

:mod:`.dispatcher` listens to the event hub and decides what to say and when;
:mod:`.freedesktop` shows desktop notifications on the session bus; :mod:`.webhook`
posts signed JSON to a chat tool; :mod:`.item` is what they say. Nothing here ever
makes the agent's call wait.
"""

from daemon.notify.dispatcher import Dispatcher
from daemon.notify.freedesktop import DesktopNotifier
from daemon.notify.item import Item
from daemon.notify.webhook import Webhook, sign

__all__ = ["DesktopNotifier", "Dispatcher", "Item", "Webhook", "sign"]
