from __future__ import annotations

import json
import logging

from aggregator.log import HumanFormatter, JsonFormatter

FIELDS = {"aggregator_fields": {"feed": "Le Monde", "new": 2}}


def record(message: str = "feed checked") -> logging.LogRecord:
    r = logging.LogRecord("aggregator.daemon", logging.INFO, __file__, 1, message, None, None)
    r.__dict__.update(FIELDS)
    return r


def test_json_lines_carry_the_fields() -> None:
    line = JsonFormatter().format(record())
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "info" and data["logger"] == "aggregator.daemon"
    assert (data["message"], data["feed"], data["new"]) == ("feed checked", "Le Monde", 2)
    assert data["time"].endswith("+00:00")


def test_human_lines_read_as_key_value() -> None:
    line = HumanFormatter().format(record())
    assert line.endswith('INFO aggregator.daemon: feed checked feed="Le Monde" new=2')
