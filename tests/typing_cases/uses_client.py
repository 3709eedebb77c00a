"""A user's file: what pyright (strict) infers from the generated client, and what it refuses."""

from typing import reveal_type

from generated.client import AsyncClient, Client


async def use_async(client: AsyncClient) -> None:
    call = client.your_stream_api.execute_stream(params={"name": "furina"})
    async for chunk in call.stream:
        reveal_type(chunk)  # expect: str
    by_path = client.execute_stream("llm/complete", params={"prompt": "hi"})
    async for piece in by_path.stream:
        reveal_type(piece)  # expect: Token | Usage
        if piece.type == "usage":
            reveal_type(piece.completion_tokens)  # expect: int
    result = await client.hello.say.execute(params={"name": "a"})
    if result:
        reveal_type(result.data.at)  # expect: datetime
    else:
        reveal_type(result.fail.code)  # expect: fail codes
    message = client.chat.subscribe.execute_stream(params={"room": "1"})
    async for chunk in message.stream:
        reveal_type(chunk.sent_at)  # expect: datetime
    client.hello.say.execute(params={"nmae": "a"})  # error: wrong key
    client.execute("hello/say", params={"name": 1})  # error: wrong type
    client.execute_stream("no/such/path", params={})  # error: unknown path


def use_sync(client: Client) -> None:
    call = client.execute_stream("chat/subscribe", params={"room": "1"})
    for chunk in call.stream:
        reveal_type(chunk)  # expect: Message
