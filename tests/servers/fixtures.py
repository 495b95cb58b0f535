"""pytest fixtures: loopback SkyServer, NED, VizieR, SIMBAD (TAP) and ALeRCE for sample sources.

Servers are session-scoped (started once, on 127.0.0.1 with free ports); ``sample_services``
is per test: it resets logs and injected faults, makes clients trust the loopback CA (VizieR
and SIMBAD are https-only in astroquery) through ``REQUESTS_CA_BUNDLE``, and returns the
``services`` config dict pointing at the servers, with a tiny retry backoff.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .alerce import FakeAlerce
from .base import LoopbackServer
from .ned import FakeNed
from .sample_data import NED_LEGACY, SampleSourceData, build_sample_source_data
from .skyserver import FakeSkyServer
from .tap import FakeTap
from .tls import LoopbackCA, make_test_ca
from .vizier import FakeVizier


@pytest.fixture
def short_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    """An answer gets 2 read timeouts (plus its bytes at 100 kB/s), not 10
    (:data:`mwlc.net.DEADLINE_TIMEOUTS`): with a 1 s timeout a trickling answer (the servers'
    ``trickle`` fault) is cut after ~2 s."""
    from mwlc import net

    monkeypatch.setattr(net, "DEADLINE_TIMEOUTS", 2)


@pytest.fixture(scope="session")
def loopback_ca(tmp_path_factory: pytest.TempPathFactory) -> LoopbackCA:
    """A throw-away CA and a 127.0.0.1 server certificate."""
    return make_test_ca(tmp_path_factory.mktemp("loopback-ca"))


@pytest.fixture(scope="session")
def sample_source_data() -> SampleSourceData:
    """The data every sample-source fake serves."""
    return build_sample_source_data()


def _serve(app: object, tls: object = None) -> Iterator[LoopbackServer]:
    server = LoopbackServer(app, tls=tls).start()  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
        close = getattr(app, "close", None)
        if callable(close):
            close()


@pytest.fixture(scope="session")
def sdss_skyserver(sample_source_data: SampleSourceData) -> Iterator[LoopbackServer]:
    """Fake SkyServer over a synthetic ``SpecObj`` (``.app.queries`` logs the SQL)."""
    yield from _serve(FakeSkyServer({"SpecObj": sample_source_data.specobj}))


@pytest.fixture(scope="session")
def ned_service(sample_source_data: SampleSourceData) -> Iterator[LoopbackServer]:
    """Fake NED objsearch (``.app.refcodes`` logs the refcodes)."""
    yield from _serve(FakeNed(sample_source_data.ned_papers, legacy=NED_LEGACY))


@pytest.fixture(scope="session")
def vizier_service(sample_source_data: SampleSourceData, loopback_ca: LoopbackCA) -> Iterator[LoopbackServer]:
    """Fake VizieR over https (``.app.scripts`` logs options and constraints)."""
    yield from _serve(FakeVizier(sample_source_data.vizier_tables), loopback_ca.server_context())


@pytest.fixture(scope="session")
def simbad_service(sample_source_data: SampleSourceData, loopback_ca: LoopbackCA) -> Iterator[LoopbackServer]:
    """Fake SIMBAD TAP at ``/simbad/sim-tap`` over https (``.app.queries`` logs the ADQL)."""
    app = FakeTap(sample_source_data.simbad_tables, prefix="/simbad/sim-tap")
    yield from _serve(app, loopback_ca.server_context())


@pytest.fixture(scope="session")
def alerce_service(sample_source_data: SampleSourceData) -> Iterator[LoopbackServer]:
    """Fake ALeRCE ZTF API at ``/ztf/v1`` (``.app.queries`` logs the oids)."""
    yield from _serve(FakeAlerce(sample_source_data.ztf_objects))


@pytest.fixture
def sample_services(
    monkeypatch: pytest.MonkeyPatch,
    loopback_ca: LoopbackCA,
    sdss_skyserver: LoopbackServer,
    ned_service: LoopbackServer,
    vizier_service: LoopbackServer,
    simbad_service: LoopbackServer,
    alerce_service: LoopbackServer,
) -> dict:
    """The ``services`` config section pointing at the loopback servers (fresh logs/faults)."""
    for server in (sdss_skyserver, ned_service, vizier_service, simbad_service, alerce_service):
        server.reset()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(loopback_ca.bundle))
    return {
        "sdss_skyserver_url": sdss_skyserver.url,
        "ned_url": ned_service.url,
        "vizier_url": vizier_service.url,
        "simbad_url": simbad_service.url + "/simbad/sim-tap",
        "alerce_url": alerce_service.url + "/ztf/v1",
        "timeout_s": 10,
        "retries": 2,
        "retry_backoff_s": 0.01,
    }
