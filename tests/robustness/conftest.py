import pytest

from tests.robustness.world import World, build_world


@pytest.fixture
def world(db: None) -> World:
    return build_world()
