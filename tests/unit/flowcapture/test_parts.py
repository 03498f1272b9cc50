import itertools

import pytest

from watchd.flowcapture.parts import (
    MAX_OBJECT_BYTES,
    MAX_PART_BYTES,
    MAX_PARTS,
    MIB,
    MIN_PART_BYTES,
    choose_part_size,
    plan_parts,
)


def test_preferred_part_size_is_kept_when_the_file_fits():
    assert choose_part_size(100 * MIB, 16 * MIB) == 16 * MIB


def test_part_size_is_raised_to_the_s3_minimum():
    assert choose_part_size(100 * MIB, 1 * MIB) == MIN_PART_BYTES


def test_part_size_grows_so_a_huge_file_fits_in_ten_thousand_parts():
    size = 200 * 1024 * MIB  # 200 GiB
    part = choose_part_size(size, 5 * MIB)
    assert part % MIB == 0
    assert len(plan_parts(size, part)) <= MAX_PARTS
    assert part < 2 * (size / MAX_PARTS) + MIB


def test_a_file_larger_than_s3_allows_is_refused():
    with pytest.raises(ValueError, match="larger than a multipart upload"):
        choose_part_size(MAX_OBJECT_BYTES + 1, 16 * MIB)


def test_parts_cover_the_file_exactly_with_only_the_last_one_short():
    size = 3 * 5 * MIB + 123
    parts = plan_parts(size, 5 * MIB)
    assert [p.number for p in parts] == [1, 2, 3, 4]
    assert sum(p.size for p in parts) == size
    assert all(p.size == 5 * MIB for p in parts[:-1])
    assert parts[-1].size == 123
    for before, after in itertools.pairwise(parts):
        assert after.offset == before.offset + before.size


def test_an_exact_multiple_has_no_empty_trailing_part():
    parts = plan_parts(10 * MIB, 5 * MIB)
    assert [p.size for p in parts] == [5 * MIB, 5 * MIB]


def test_an_empty_file_is_one_empty_part():
    parts = plan_parts(0, 5 * MIB)
    assert len(parts) == 1
    assert parts[0].size == 0


@pytest.mark.parametrize("bad", [MIN_PART_BYTES - 1, MAX_PART_BYTES + 1])
def test_plan_refuses_part_sizes_outside_the_s3_limits(bad):
    with pytest.raises(ValueError, match="outside"):
        plan_parts(100 * MIB, bad)
