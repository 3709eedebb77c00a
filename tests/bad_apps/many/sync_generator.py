from collections.abc import Iterator

from milkio_gen import define_api


@define_api()
def action() -> Iterator[int]:
    yield 1
