from watchd.daemon.metrics import Metric, daemon_metrics, render


def test_labels_are_escaped_and_sorted():
    text = render([Metric("x_total", "counter", "help").add(2, b='say "hi"\n', a="1")])
    assert text.splitlines() == [
        "# HELP x_total help",
        "# TYPE x_total counter",
        'x_total{a="1",b="say \\"hi\\"\\n"} 2',
    ]


def test_queue_depth_counts_queued_and_waiting():
    metrics = daemon_metrics({"jobs": {"queued": 2, "waiting": 3, "done": 4}}, [], {})
    depth = next(m for m in metrics if m.name == "watchd_queue_depth")
    assert depth.samples == [({}, 5)]


def test_byte_counts_are_exact_not_rounded():
    text = render([Metric("b_total", "counter", "bytes").add(3_145_728_123)])
    assert "b_total 3145728123" in text.splitlines()
