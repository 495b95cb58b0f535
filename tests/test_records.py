"""Reading back the params Snakemake recorded for a fetch shard (mwlc.records)."""

from __future__ import annotations

from mwlc.records import recorded_mapping

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
