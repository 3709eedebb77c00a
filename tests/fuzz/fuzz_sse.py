"""Fuzz `SSEDecoder` with atheris: any bytes, cut anywhere, decode into the events the WHATWG
algorithm gives (`targets.check_sse`).

    .venv/bin/python tests/fuzz/fuzz_sse.py -dict=tests/fuzz/sse.dict -max_total_time=600 CORPUS

CORPUS is a directory the fuzzer reads and adds to (start from a copy of
tests/fuzz/seeds/sse); any libFuzzer flag works. A crash leaves its input in `crash-*`, which
the same command given that file runs again.
"""

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports(include=["milkio_gen", "tests.fuzz"]):
    from tests.fuzz.targets import check_sse


def one_input(data: bytes) -> None:
    # The last bytes say where to cut the rest (the fuzzer explores the cuts too), and the
    # stream keeps its start, where a byte order mark may be.
    count = data[-1] % 9 if len(data) > 17 else 0
    stream, tail = (data[: -1 - 2 * count], data[-1 - 2 * count : -1]) if count else (data, b"")
    check_sse(stream, [int.from_bytes(tail[i : i + 2], "little") for i in range(0, len(tail), 2)])


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
