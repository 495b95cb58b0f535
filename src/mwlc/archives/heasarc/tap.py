"""HEASARC through its TAP service: the sample uploaded in chunks, one query per catalog and chunk."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from mwlc.archives._tap import TapClient, TapOverflow, column, upload_positions
from mwlc.archives.heasarc.catalogs import Catalog, Matcher, NeutrinoCatalog
from mwlc.errors import ArchiveError
from mwlc.net import RetryPolicy

log = logging.getLogger(__name__)


def tap_matcher(url: str, policy: RetryPolicy, maxrec: int | None) -> Matcher:
    """The matching function of the TAP service at ``url`` (see :func:`tap_matches`)."""
    client = TapClient(url.rstrip("/"), policy, maxrec, service_name="HEASARC TAP")
    return lambda catalog, chunk, what: tap_matches(client, catalog, chunk, what)


def tap_matches(client: TapClient, catalog: Catalog, chunk: pd.DataFrame, what: str) -> pd.DataFrame:
    """Matches of one chunk from the TAP service; a truncated answer splits the chunk in two."""
    try:
        table = client.run_upload(catalog.adql(), upload_positions(chunk), what=what)
    except TapOverflow as overflow:
        if len(chunk) == 1:
            raise ArchiveError(f"{overflow}; even a single object overflows: raise maxrec") from overflow
        half = len(chunk) // 2
        log.warning("%s; splitting the chunk into %d + %d objects", overflow, half, len(chunk) - half)
        parts = [chunk.iloc[:half], chunk.iloc[half:]]
        return pd.concat(
            [tap_matches(client, catalog, part, f"{what}, part {i + 1}/2") for i, part in enumerate(parts)],
            ignore_index=True,
        )
    matches = {
        "objectid": column(table, "objectid", np.int64, what=what),
        "time": column(table, "time", np.float64, what=what),
    }
    if isinstance(catalog, NeutrinoCatalog):
        matches["event_energy"] = column(table, "event_energy", np.float64, what=what)
    return pd.DataFrame(matches)
