import logging

from watchd.flowcapture import retry_log
from watchd.flowcapture.errors import BadRequestError, TransportError


def test_retries_during_an_outage_are_said_once_in_a_while_others_each_time(monkeypatch, caplog):
    monkeypatch.setattr(retry_log, "_QUIET", retry_log._Quiet())
    log = logging.getLogger("test.retry")
    with caplog.at_level(logging.DEBUG, "test.retry"):
        for n in range(100):  # every part in flight when the service went away
            retry_log.log_retry(log, TransportError("reset"), "part %d failed", n)
        retry_log.log_retry(log, BadRequestError("one request's own"), "call failed")
        retry_log.log_retry(log, BadRequestError("one request's own"), "call failed")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "part 0 failed (more such retries in the next 30s: debug level only)",
        "call failed",
        "call failed",
    ]
    assert sum(r.levelno == logging.DEBUG for r in caplog.records) == 99
