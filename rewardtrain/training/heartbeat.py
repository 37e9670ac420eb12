"""A background heartbeat with its own database connection, so one long step never looks dead.

The training loop also beats after every step (with progress); this thread covers the gaps:
model loading, a slow step, validation.  It also polls the cancel flag, which the loop reads
between steps, so a cancel request is noticed within about ``poll`` seconds.
"""
import logging
import threading
import time

from django.conf import settings
from django.db import connection

from .services import training_run_beat, training_run_cancel_requested

log = logging.getLogger(__name__)


def heartbeat_seconds() -> float:
    return float(getattr(settings, "VERDICT_TRAINING_HEARTBEAT_SECONDS", 10))


def cancel_poll_seconds() -> float:
    return float(getattr(settings, "VERDICT_TRAINING_CANCEL_POLL_SECONDS", 2))


class Heartbeat(threading.Thread):
    def __init__(self, *, run_id: int, token: str):
        super().__init__(name=f"heartbeat-run-{run_id}", daemon=True)
        self.run_id, self.token = run_id, token
        self.cancelled = threading.Event()
        self._halt = threading.Event()

    def run(self) -> None:
        last_beat = time.monotonic()
        try:
            while not self._halt.wait(cancel_poll_seconds()):
                try:
                    if training_run_cancel_requested(run_id=self.run_id):
                        self.cancelled.set()
                    if time.monotonic() - last_beat >= heartbeat_seconds():
                        training_run_beat(run_id=self.run_id, token=self.token)
                        last_beat = time.monotonic()
                except Exception:  # a database blip must not kill training; the loop beats too
                    log.exception("Heartbeat of training run %s failed", self.run_id)
                    connection.close()
        finally:
            connection.close()  # the thread's own connection

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)
