"""Loopback servers that answer the real protocols, so real clients run with only a base URL changed.

* :class:`~tests.servers.base.LoopbackServer` - threaded HTTP(S) on 127.0.0.1, request log,
  fault injection (``fail_next``, ``fail_always``, ``delay_next``);
* :class:`~tests.servers.tap.FakeTap` - IVOA TAP sync + uploads + capabilities over SQLite
  (SIMBAD here; reusable for HEASARC with ``prefix="/xamin/vo/tap"``);
* :class:`~tests.servers.skyserver.FakeSkyServer` - SDSS SkyServer SQL search;
* :class:`~tests.servers.ned.FakeNed` - NED refcode search (VOTable);
* :class:`~tests.servers.vizier.FakeVizier` - VizieR ``viz-bin/votable``;
* :class:`~tests.servers.alerce.FakeAlerce` - ALeRCE ZTF objects API (JSON);
* :func:`~tests.servers.tls.make_test_ca` - a CA for https fakes (clients trust it through
  ``REQUESTS_CA_BUNDLE``).

pytest fixtures for the sample sources are in :mod:`tests.servers.fixtures`.
"""

from .alerce import FakeAlerce
from .base import LoopbackServer, Request, Response
from .ned import FakeNed
from .skyserver import FakeSkyServer
from .tap import FakeTap
from .tls import LoopbackCA, make_test_ca
from .vizier import FakeVizier

__all__ = [
    "FakeAlerce",
    "FakeNed",
    "FakeSkyServer",
    "FakeTap",
    "FakeVizier",
    "LoopbackCA",
    "LoopbackServer",
    "Request",
    "Response",
    "make_test_ca",
]
