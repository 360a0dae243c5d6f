"""What the plugin adjusts in the ``dify_plugin`` SDK it runs in, applied once by ``main.py``.

Kept apart from the relay core, which never imports the SDK: importing ``dify_plugin`` applies gevent's
monkey patching, which unit tests must not get.
"""

from relay.platform.logs import send_details_to_plugin_log
from relay.platform.unreadable_requests import answer_unreadable_requests


def prepare() -> None:
    """Call before ``Plugin(...).run()``."""
    send_details_to_plugin_log()
    answer_unreadable_requests()


__all__ = ["prepare"]
