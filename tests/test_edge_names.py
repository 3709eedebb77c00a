"""Names and types that are awkward for a generator still become valid, working code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from tests.conftest import (
    GeneratedPackage,
    RunningServer,
    build_package,
    lint_and_type_check,
    serve_in_thread,
)


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> GeneratedPackage:
    return build_package("tests.edge_app", tmp_path_factory.mktemp("edge"), "edge_gen")


@pytest.fixture(scope="module")
def edge_server(edge: GeneratedPackage) -> Iterator[RunningServer]:
    yield from serve_in_thread(edge.server.app)


def test_generated_package_passes_ruff_and_strict_pyright(edge: GeneratedPackage) -> None:
    lint_and_type_check(edge.directory.parent, "edge_gen")


@pytest.mark.parametrize(
    ("accessor", "path"),
    [
        ("execute_spec_", "execute-spec"),
        ("plain.specs", "plain/specs"),
        ("fail.codes", "fail/codes"),
        ("hello_world", "hello-world"),
        ("hello_world_2", "hello_world"),
        ("job", "job"),
        ("async_job", "async-job"),
    ],
)
async def test_colliding_names_each_reach_their_own_api(
    edge: GeneratedPackage, edge_server: RunningServer, accessor: str, path: str
) -> None:
    async with edge.client.AsyncClient(base_url=edge_server.base_url) as client:
        endpoint = client
        for attribute in accessor.split("."):
            endpoint = getattr(endpoint, attribute)
        by_accessor = await endpoint.execute()
        by_path = await client.execute(path)
    assert by_accessor
    assert by_accessor.data == path
    assert by_path
    assert by_path.data == by_accessor.data


async def test_digit_leading_names(edge: GeneratedPackage, edge_server: RunningServer) -> None:
    async with edge.client.AsyncClient(base_url=edge_server.base_url) as client:
        result = await client.v1.api_2fa.execute()
    assert not result
    assert result.fail.code == "2FA_REQUIRED"
    assert type(result.fail).__name__ == "Code2faRequiredFail"


async def test_fields_named_like_types_enums_and_recursive_aliases_round_trip(
    edge: GeneratedPackage, edge_server: RunningServer
) -> None:
    params = {
        "date": dt.date(2026, 5, 1),
        "start": dt.date(2026, 1, 2),
        "payload": {"a": [1, "two", {"b": None}]},
        "dashes": "red_one",
        "mixed": 1,
        "from": "here",
    }
    async with edge.client.AsyncClient(base_url=edge_server.base_url) as client:
        result = await client.types.shadows.execute(params=params)  # type: ignore[arg-type]
    assert result
    echoed = result.data
    assert echoed.date_ == dt.date(2026, 5, 1)
    assert echoed.start == dt.date(2026, 1, 2)
    assert echoed.payload == {"a": [1, "two", {"b": None}]}
    assert echoed.dashes.value == "red_one"
    assert echoed.mixed.value == 1
    assert echoed.from_ == "here"


def test_docstrings_with_quotes_are_kept(edge: GeneratedPackage) -> None:
    assert edge.client.Shadows.__doc__ == 'A model named "Shadows"'
    assert edge.client.AsyncHelloWorldApi.__doc__.startswith('Says "hi"')
