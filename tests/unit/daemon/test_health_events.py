from watchd.base.events import Event, EventKind
from watchd.daemon.health import HealthBoard


def test_a_health_problem_is_told_once_when_it_starts_and_once_when_it_ends():
    heard: list[Event] = []
    board = HealthBoard(heard.append)
    board.set("folder dailies", "missing: /srv/dailies does not exist")
    board.set("folder dailies", "missing: /srv/dailies does not exist")  # still the same
    board.set("authentication", None)  # no problem before: nothing to tell
    board.set("folder dailies", None)
    assert [(e.kind, e.folder) for e in heard] == [
        (EventKind.PROBLEM, "dailies"),
        (EventKind.PROBLEM_OVER, "dailies"),
    ]
    assert heard[0].text == "health problem: folder dailies: missing: /srv/dailies does not exist"
    assert heard[1].text.startswith("health problem over: folder dailies (was: missing")
