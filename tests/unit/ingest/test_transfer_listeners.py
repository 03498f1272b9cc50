from watchd.ingest.progress import TransferBoard


class Heard:
    def __init__(self):
        self.parts: list[tuple[int, float]] = []
        self.files: list[tuple[int, float]] = []

    def part_sent(self, size, seconds):
        self.parts.append((size, seconds))

    def file_sent(self, size, seconds):
        self.files.append((size, seconds))


class Clock:
    now = 100.0

    def __call__(self):
        return self.now


def test_a_finished_file_reports_the_bytes_of_this_run_and_its_time():
    clock, heard = Clock(), Heard()
    board = TransferBoard(clock)
    board.add_listener(heard)
    board.start(7, "dailies", "a.mov", 100, 40)  # 40 bytes sent before a restart
    board.part_sent(60, 1.5)
    clock.now = 103.0
    board.update(7, 100)
    board.finish(7)
    assert heard.parts == [(60, 1.5)]
    assert heard.files == [(60, 3.0)]
    assert board.snapshot() == []


def test_a_transfer_that_stopped_short_is_not_a_throughput():
    heard = Heard()
    board = TransferBoard(Clock())
    board.add_listener(heard)
    board.start(7, "dailies", "a.mov", 100, 0)
    board.update(7, 50)
    board.finish(7)
    assert heard.files == []
