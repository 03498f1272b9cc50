from datetime import UTC, datetime
from pathlib import Path

import pytest
import xxhash

from tests.integration.custody.conftest import ascmhl, make_card
from watchd.custody.check import ChecksumMismatch, check_file, check_folder
from watchd.custody.history import HistoryCache, HistoryError, history_root_for, read_history
from watchd.custody.receipts import ReceiptEntry, ReceiptInfo, add_to_chain, write_generation


def test_a_history_made_by_ascmhl_lists_each_file_with_its_xxh64(card):
    history = read_history(card)
    data = (card / "CLIPS/A001C001.mov").read_bytes()
    assert set(history.files) == {"CLIPS/A001C001.mov", "CLIPS/A001C002.mov", "A001.xml"}
    entry = history.files["CLIPS/A001C001.mov"]
    assert entry.hashes == {"xxh64": xxhash.xxh64(data).hexdigest()}
    assert entry.size == len(data)
    assert history.latest_number == 1
    assert "ascmhl" in history.ignore_patterns


def test_the_newest_generation_adds_formats_and_the_cheapest_is_checked(card):
    ascmhl("create", "-h", "md5", card)  # a second generation: md5 verified beside xxh64
    history = read_history(card)
    assert history.latest_number == 2
    entry = history.files["A001.xml"]
    assert set(entry.hashes) == {"xxh64", "md5"}
    assert entry.check_format == "xxh64"


def test_a_clean_file_verifies_in_the_historys_format_and_gets_md5_too(card):
    check = check_file(card / "CLIPS/A001C002.mov", read_history(card))
    assert check.verified and check.format == "xxh64"
    assert set(check.hashes) == {"xxh64", "md5"}


def test_one_flipped_byte_is_a_mismatch_naming_file_format_and_both_hashes(card):
    history = read_history(card)
    clip = card / "CLIPS/A001C001.mov"
    data = bytearray(clip.read_bytes())
    data[1000] ^= 0x01
    clip.write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatch) as caught:
        check_file(clip, history)
    expected = history.files["CLIPS/A001C001.mov"].hashes["xxh64"]
    text = str(caught.value)
    assert str(clip) in text and "xxh64" in text
    assert expected in text and xxhash.xxh64(bytes(data)).hexdigest() in text


def test_a_c4_history_is_checked_in_c4(tmp_path):
    root = make_card(tmp_path / "c4", {"clip.mxf": b"frames" * 999}, "c4")
    check = check_file(root / "clip.mxf", read_history(root))
    assert check.verified and check.format == "c4"
    assert check.hashes["c4"].startswith("c4") and len(check.hashes["c4"]) == 90


def test_a_changed_generation_file_is_refused_by_its_c4_in_the_chain(card):
    generation = next((card / "ascmhl").glob("0001_*.mhl"))
    generation.write_bytes(generation.read_bytes().replace(b"<hostname>", b"<hostname>x"))
    with pytest.raises(HistoryError, match=generation.name):
        read_history(card)


def corrupt_and_forge(card: Path, chained: bool) -> tuple[Path, Path]:
    """Flip a byte of a clip and add a generation that records the corrupt clip's hash."""
    clip = card / "CLIPS/A001C001.mov"
    data = bytearray(clip.read_bytes())
    original = xxhash.xxh64(bytes(data)).hexdigest()
    data[100] ^= 0xFF
    clip.write_bytes(bytes(data))
    forged = xxhash.xxh64(bytes(data)).hexdigest()
    if chained:  # a generation a tool wrote and chained, wrongly "verifying" the copy
        entry = ReceiptEntry("CLIPS/A001C001.mov", len(data), datetime.now(UTC), {"xxh64": forged})
        return clip, write_generation(card, "card", [entry], ReceiptInfo("x", "host", "re-hash"))
    (first,) = (card / "ascmhl").glob("0001_*.mhl")
    added = card / "ascmhl" / first.name.replace("0001_", "0002_")  # left out of the chain
    added.write_text(first.read_text().replace(original, forged))
    return clip, added


def test_a_generation_left_out_of_the_chain_is_refused(card):
    _, added = corrupt_and_forge(card, chained=False)
    with pytest.raises(HistoryError, match=rf"{added.name} is not in ascmhl_chain.xml"):
        read_history(card)


def test_the_original_hash_stands_against_a_later_generation_that_differs(card):
    clip, _ = corrupt_and_forge(card, chained=True)
    history = read_history(card)
    assert history.latest_number == 2
    with pytest.raises(ChecksumMismatch):
        check_file(clip, history)
    assert ascmhl("create", "-h", "xxh64", card, check=False).returncode != 0, "as ascmhl does"


def test_the_nearest_history_up_the_tree_covers_a_file(card, tmp_path):
    nested = card / "CLIPS" / "B"
    (nested / "ascmhl").mkdir(parents=True)  # a nested history (only its folder matters here)
    (nested / "b.mov").write_bytes(b"bbb")
    assert history_root_for(nested / "b.mov", tmp_path) == nested
    assert history_root_for(card / "CLIPS/A001C001.mov", tmp_path) == card
    (tmp_path / "loose.mov").write_bytes(b"x")
    assert history_root_for(tmp_path / "loose.mov", tmp_path) is None


def test_the_cache_reads_a_history_again_once_it_has_a_new_generation(card):
    cache = HistoryCache()
    assert cache.get(card).latest_number == 1
    assert cache.get(card) is cache.get(card)
    ascmhl("create", "-h", "xxh64", card)
    assert cache.get(card).latest_number == 2


def test_a_folder_check_reports_mismatched_missing_and_unlisted_files(card):
    (card / "A001.xml").unlink()
    (card / "CLIPS/A001C003.mov").write_bytes(b"added after the offload")
    (card / "CLIPS/A001C002.mov").write_bytes(b"rewritten")
    [report] = check_folder(card)
    assert report.verified == ["CLIPS/A001C001.mov"]
    assert [m[0] for m in report.mismatched] == ["CLIPS/A001C002.mov"]
    assert report.missing == ["A001.xml"]
    assert report.unlisted == ["CLIPS/A001C003.mov"]
    assert not report.ok


def test_a_file_renamed_in_a_later_generation_is_known_by_its_new_name(card, mhl_schema_errors):
    old, new = "CLIPS/A001C002.mov", "CLIPS/A001C002_v2.mov"
    (card / old).rename(card / new)
    data = (card / new).read_bytes()
    digest = xxhash.xxh64(data).hexdigest()
    generation = card / "ascmhl" / "0002_A001_2026-11-28_120000Z.mhl"
    generation.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<hashlist version="2.0" xmlns="urn:ASC:MHL:v2.0">\n'
        "  <creatorinfo><creationdate>2026-11-28T12:00:00+00:00</creationdate>"
        '<hostname>bay-3</hostname><tool version="1">renamer</tool></creatorinfo>\n'
        "  <processinfo><process>in-place</process></processinfo>\n"
        "  <hashes><hash>"
        f'<path size="{len(data)}">{new}</path>'
        f'<xxh64 action="verified" hashdate="2026-11-28T12:00:00+00:00">{digest}</xxh64>'
        f"<previousPath>{old}</previousPath>"
        "</hash></hashes>\n"
        "</hashlist>\n"
    )
    add_to_chain(generation)
    assert mhl_schema_errors(generation) == []  # as ASC MHL 2.0 writes a rename
    history = read_history(card)
    assert new in history.files and old not in history.files
    assert history.files[new].hashes["xxh64"] == digest
    assert check_file(card / new, history).format == "xxh64"  # verified under the new name
    [report] = check_folder(card)
    assert report.missing == [] and new not in report.unlisted  # the old name is not "missing"
