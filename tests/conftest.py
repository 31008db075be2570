from pathlib import Path

import pytest

from chartlnn.schema import load_schema

MTSAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "mtsamples" / "mtsamples.csv.gz"


@pytest.fixture(scope="session")
def schema():
    return load_schema()


@pytest.fixture(scope="session")
def mtsamples_path():
    if not MTSAMPLES.exists():
        pytest.skip("MTSamples data not present (../shared/data/mtsamples)")
    return MTSAMPLES
