"""The demo: serve the example app, stream from two of its APIs, print what arrives, stop.

Run with `python -m examples.demo` after `milkio-gen build`.
"""

import asyncio
import socket
import subprocess
import sys
import time

import httpx

from generated.client import AsyncClient


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(base_url: str, server: subprocess.Popen[bytes], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited before serving")
        try:
            httpx.post(f"{base_url}/hello/say", json={"name": "ready?"}, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the server did not start in time")


async def talk(base_url: str) -> None:
    async with AsyncClient(base_url=base_url) as client:
        print("-- your-stream-api: four chunks, then stop (which stops the server's action)")
        call = client.your_stream_api.execute_stream(params={"name": "furina"})
        received = 0
        async for chunk in call.stream:
            print("  chunk:", chunk)
            received += 1
            if received == 4:
                break
        print("  result:", call.get_result())

        print("-- llm/complete: typed token chunks, then a usage chunk")
        llm = client.llm.complete.execute_stream(params={"prompt": "Why stream?", "max_tokens": 8})
        async for piece in llm.stream:
            if piece.type == "token":
                print("  token:", repr(piece.text))
            else:
                print(f"  usage: {piece.prompt_tokens} in, {piece.completion_tokens} out")
        print("  result:", llm.get_result())

        print("-- orders/place: a typed fail")
        order = await client.orders.place.execute(params={"item": "cake", "quantity": 1})
        if order:
            print("  placed:", order.data)
        else:
            print(f"  fail: {order.fail.code}: {order.fail.message}")

        print("-- account/me: refused without a token, by the app's `authenticate` hook")
        anonymous = await client.account.me.execute()
        if not anonymous:
            print(f"  fail: {anonymous.fail.code}: {anonymous.fail.message}")
        session = await client.account.login.execute(params={"name": "furina"})
        if not session:
            raise SystemExit(f"account/login failed: {session.fail.message}")
        token = session.data.token

    async def bearer() -> dict[str, str]:
        """Called before every request: where a client would refresh an expiring token."""
        return {"authorization": f"Bearer {token}"}

    async with AsyncClient(base_url=base_url, headers=bearer) as signed_in:
        me = await signed_in.account.me.execute()
        print("  signed in as:", me.data.name if me else me.fail.message)


def main() -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "milkio_gen", "serve", "--port", str(port), "--log-level", "warning"]
    )
    try:
        wait_until_serving(base_url, server)
        print(f"serving the example app on {base_url}")
        asyncio.run(talk(base_url))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
