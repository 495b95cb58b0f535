"""Reading back the params Snakemake recorded for a job (mwlc.records)."""

from __future__ import annotations

import pytest

from mwlc.records import kept_mapping, kept_value, recorded_mapping, recorded_mappings

PARAMS = {"bands": ["WISE_W1", "WISE_W2"], "batch_rows": 131072, "radius_arcsec": 1.0}


def test_the_archive_params_are_the_one_mapping_among_a_fetch_jobs_recorded_params():
    # as Snakemake 9 records a fetch job: the repr of each param, sorted
    recorded = sorted(["'DEMO RUN - synthetic'", "'resources/demo/wise'", "None", repr(PARAMS)])
    got = recorded_mapping(recorded)
    assert got == PARAMS and list(got) == list(PARAMS)
    assert repr(got) == repr(PARAMS)  # handed back, Snakemake serializes it as it was


def test_no_record_no_mapping_or_two_mappings_give_none():
    assert recorded_mapping(None) is None
    assert recorded_mapping([]) is None
    assert recorded_mapping(["'a source'", "None"]) is None
    assert recorded_mapping([repr(PARAMS), repr({"other": 1})]) is None


def test_a_param_that_is_no_literal_is_passed_over():
    recorded = ["<object object at 0x7f>", "{'unterminated': ", repr(PARAMS), "1e999999"]
    assert recorded_mapping(recorded) == PARAMS


NOTE = "DEMO RUN - synthetic"
FETCH = ["resources/demo/wise", PARAMS, None]  # source, archive params, S3 endpoint


def recorded_with(note) -> list[str]:
    """A fetch job's record (Snakemake 9: the repr of each param, sorted) written with ``note``."""
    return sorted(repr(value) for value in [*FETCH, note])


@pytest.mark.parametrize(
    ("record", "others", "expected"),
    [
        (recorded_with(NOTE), FETCH, NOTE),  # the other params as recorded: the recorded note
        (recorded_with(""), FETCH, ""),
        (recorded_with('it\'s "quoted"\n'), FETCH, 'it\'s "quoted"\n'),
        # a note equal to another param's value (None): any value that keeps the recorded set
        (recorded_with(None), FETCH, "one of the others"),
        (None, FETCH, "today's"),  # no record: the job runs, with today's note
        (recorded_with(NOTE), ["resources/demo/other", PARAMS, None], "today's"),  # reruns anyway
        (recorded_with(NOTE), [*FETCH, "an extra param"], "today's"),
        ([*recorded_with(NOTE), "'an older param'"], FETCH, "today's"),  # two left: reruns anyway
        ([*recorded_with(NOTE)[:-1], "<object object at 0x7f>"], FETCH[:2], "today's"),  # no literal
        ([repr(NOTE)], [], NOTE),  # a job whose only param is the note (a demo snapshot)
    ],
)
def test_a_param_that_never_reruns_a_job_mirrors_its_record(record, others, expected):
    kept = kept_value(record, "today's", others)
    assert kept in others if expected == "one of the others" else kept == expected
    if expected != "today's":  # Snakemake then sees the recorded params, unchanged
        assert sorted({repr(value) for value in [*others, kept]}) == sorted(set(record))


URLS = {"ned_url": "https://ned.ipac.caltech.edu", "vizier_url": "https://vizier.cds.unistra.fr"}
HOW = ("timeout_s", "retries")


def test_a_mapping_param_leaves_out_how_a_job_works_unless_its_record_holds_it():
    services = {**URLS, "timeout_s": 600, "retries": 8}
    assert kept_mapping(recorded_mappings(None), services, HOW) == URLS  # a new sample: the URLs only
    older = {**URLS, "timeout_s": 60, "retries": 3}  # a sample recorded while they were params
    sample = {"sources": [{"source": "file", "path": "objects.csv"}]}
    recorded = sorted([repr(sample), repr(older), "'a note'"])
    kept = kept_mapping(recorded_mappings(recorded), services, HOW)
    assert kept == older and repr(kept) == repr(older)  # Snakemake sees its record unchanged
    assert kept_mapping(recorded_mappings([repr(sample), repr(URLS)]), services, HOW) == URLS
    # another URL is another sample: today's
    moved = {**services, "ned_url": "https://ned.example.org"}
    assert kept_mapping(recorded_mappings(recorded), moved, HOW) == {
        **URLS,
        "ned_url": "https://ned.example.org",
    }
