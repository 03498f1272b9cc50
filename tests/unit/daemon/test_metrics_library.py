from prometheus_client.parser import text_string_to_metric_families

from watchd.daemon.metrics import CONTENT_TYPE, DaemonMetrics, daemon_metrics


def scrape(metrics: DaemonMetrics) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Parse the exposition back with the library's parser: sample name -> labels -> value."""
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


def figures():
    totals = {
        "jobs": {"queued": 2, "waiting": 3, "done": 4, "failed": 1},
        "bytes_uploaded": 3_145_728_123,
        "parts_uploaded": 7,
        "retries": 5,
        "batches": {"open": 1, "closed": 2},
    }
    folders = [{"name": 'say "hi"\n', "health": "ok"}, {"name": "b", "health": "missing"}]
    return daemon_metrics(totals, folders, {"database": "locked"})


def test_every_metric_name_is_kept_and_values_read_back_exactly():
    found = scrape(DaemonMetrics(figures))
    assert found["watchd_up"][()] == 1
    assert found["watchd_jobs"][(("state", "done"),)] == 4
    assert found["watchd_queue_depth"][()] == 5, "queued and waiting"
    assert found["watchd_files_uploaded_total"][()] == 4
    assert found["watchd_files_failed_total"][()] == 1
    assert found["watchd_uploaded_bytes_total"][()] == 3_145_728_123
    assert found["watchd_parts_uploaded_total"][()] == 7
    assert found["watchd_retries_total"][()] == 5
    assert found["watchd_batches"][(("state", "closed"),)] == 2
    assert found["watchd_folder_healthy"][(("folder", 'say "hi"\n'),)] == 1
    assert found["watchd_folder_healthy"][(("folder", "b"),)] == 0
    assert found["watchd_health_problems"][()] == 1


def test_counters_are_typed_as_counters_in_the_text_format():
    text = DaemonMetrics(figures).exposition().decode()
    assert "# TYPE watchd_uploaded_bytes_total counter" in text.splitlines()
    assert "# TYPE watchd_queue_depth gauge" in text.splitlines()
    assert CONTENT_TYPE.startswith("text/plain; version=")


def test_the_collector_reads_fresh_figures_at_every_scrape():
    calls = []

    def counting():
        calls.append(1)
        return daemon_metrics({"jobs": {"queued": len(calls)}}, [], {})

    metrics = DaemonMetrics(counting)
    assert scrape(metrics)["watchd_queue_depth"][()] == 1
    assert scrape(metrics)["watchd_queue_depth"][()] == 2


def test_part_latency_and_throughput_histograms_count_what_was_sent():
    metrics = DaemonMetrics(list)
    metrics.transfers.part_sent(16 << 20, 0.4)
    metrics.transfers.part_sent(16 << 20, 3.0)
    metrics.transfers.file_sent(100_000_000, 4.0)  # 25 MB/s
    metrics.transfers.file_sent(10, 0.0)  # nothing measurable: not observed
    found = scrape(metrics)
    parts = found["watchd_part_upload_seconds_bucket"]
    assert parts[(("le", "0.5"),)] == 1
    assert parts[(("le", "5.0"),)] == 2
    assert found["watchd_part_upload_seconds_count"][()] == 2
    assert found["watchd_part_upload_seconds_sum"][()] == 3.4
    rates = found["watchd_upload_throughput_bytes_per_second_bucket"]
    assert rates[(("le", "1.25e+07"),)] == 0
    assert rates[(("le", "2.5e+07"),)] == 1
    assert found["watchd_upload_throughput_bytes_per_second_count"][()] == 1
