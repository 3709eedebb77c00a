"""Deep fields of the type corpus, as pyright (strict) sees them through the generated client."""

from typing import reveal_type

from corpus_gen.client import Client


def use(client: Client) -> None:
    nested = client.echo.nested.execute(
        params={
            "key": "k",
            "value": {
                "name": "Furina",
                "age": 500,
                "address": {"street": "Main", "city": "Fontaine"},
            },
        }
    )
    if nested:
        reveal_type(nested.data.address.city)  # expect: str
        reveal_type(nested.data.nickname)  # expect: str | None
    page = client.echo.generic.execute(params={"key": "k", "value": {"items": [], "total": 0}})
    if page:
        reveal_type(page.data.items[0].price)  # expect: Decimal
    for tree in client.replay.recursive.execute_stream(params={"key": "k"}).stream:
        reveal_type(tree.children[0].label)  # expect: str
    for pair in client.replay.tuple.execute_stream(params={"key": "k"}).stream:
        reveal_type(pair)  # expect: tuple[int, str, bool]
    for pet in client.replay.discriminated.execute_stream(params={"key": "k"}).stream:
        reveal_type(pet)  # expect: Cat | Dog
    for moment in client.replay.aware_datetime.execute_stream(params={"key": "k"}).stream:
        reveal_type(moment)  # expect: datetime
    for movie in client.replay.partial_typed_dict.execute_stream(params={"key": "k"}).stream:
        reveal_type(movie.count)  # expect: int | None
