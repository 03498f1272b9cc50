from datetime import UTC, datetime

from tests.integration.custody.conftest import ascmhl
from watchd.custody.check import check_file
from watchd.custody.history import read_history
from watchd.custody.receipts import ReceiptEntry, ReceiptInfo, write_generation


def receipt_entries(root, history):
    entries = []
    for rel in sorted(history.files):
        path = root / rel
        check = check_file(path, history)
        stat = path.stat()
        modified = datetime.fromtimestamp(stat.st_mtime, UTC)
        verified = frozenset([check.format]) if check.format else frozenset[str]()
        entries.append(ReceiptEntry(rel, stat.st_size, modified, check.hashes, verified))
    return entries


INFO = ReceiptInfo("1.0", "bay-3", "Flow Capture: batch 'A001' into 'Show/Dailies' (folder 1000)")


def test_a_receipt_generation_is_read_back_and_verified_by_ascmhl(
    card, mhl_schema_errors, chain_schema_errors
):
    history = read_history(card)
    written = write_generation(card, "A001", receipt_entries(card, history), INFO)
    assert written.name.startswith("0002_A001_")
    assert mhl_schema_errors(written) == []
    assert chain_schema_errors(card / "ascmhl" / "ascmhl_chain.xml") == []
    info = ascmhl("info", "-v", card).stdout
    assert "Generation 2" in info and "bay-3" in info
    again = ascmhl("create", "-v", "-h", "xxh64", card)  # a new generation over the folder
    assert "mismatch" not in again.stdout.lower() and "error" not in again.stdout.lower()
    assert again.stdout.count("verified") == 3
    ours = read_history(card)
    assert ours.latest_number == 3
    assert set(ours.files["A001.xml"].hashes) == {"xxh64", "md5"}


def test_a_standalone_receipt_is_a_history_of_its_own(tmp_path, card, mhl_schema_errors):
    history = read_history(card)
    receipt_root = tmp_path / "receipts" / "dailies" / "1-A001"
    receipt_root.mkdir(parents=True)
    written = write_generation(receipt_root, "A001", receipt_entries(card, history), INFO)
    assert written.name.startswith("0001_A001_")
    assert mhl_schema_errors(written) == []
    assert 'action="original"' not in written.read_text()  # checked against the offload
    info = ascmhl("info", "-v", receipt_root).stdout
    assert "Generation 1" in info and "batch 'A001'" in info
    listed = read_history(receipt_root).files
    assert set(listed) == set(history.files)
    assert set(listed["CLIPS/A001C001.mov"].hashes) == {"xxh64", "md5"}


def test_a_generation_cut_short_before_its_chain_entry_is_finished_not_repeated(
    card, chain_schema_errors
):
    history = read_history(card)
    entries = receipt_entries(card, history)
    written = write_generation(card, "A001", entries, INFO)
    chain = card / "ascmhl" / "ascmhl_chain.xml"
    after = chain.read_bytes()
    # A power cut between the hash list and the chain file: the chain lacks it.
    chain.write_text(
        chain.read_text().split('<hashlist sequencenr="2">')[0] + "</ascmhldirectory>\n"
    )
    assert written.name not in chain.read_text()

    again = write_generation(card, "A001", entries, INFO)  # the restart's try
    assert again == written
    assert sorted(p.name for p in (card / "ascmhl").glob("*.mhl"))[-1] == written.name
    assert len(list((card / "ascmhl").glob("*.mhl"))) == 2
    assert chain.read_bytes() == after
    assert chain_schema_errors(chain) == []
    assert "Generation 2" in ascmhl("info", "-v", card).stdout
    other = ReceiptInfo("1.0", "bay-3", "Flow Capture: batch 'A002' into 'Show/Dailies'")
    assert write_generation(card, "A001", entries, other).name.startswith("0003_")
