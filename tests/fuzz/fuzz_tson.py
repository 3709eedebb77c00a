"""Fuzz `Tson.loads` with atheris: any bytes are a value or a `ValidationError` that says why,
read alike with TSON in the document or without (`targets.check_tson`).

    .venv/bin/python tests/fuzz/fuzz_tson.py -dict=tests/fuzz/json.dict -max_total_time=600 CORPUS

CORPUS is a directory the fuzzer reads and adds to (start from a copy of
tests/fuzz/seeds/tson); any libFuzzer flag works. A crash leaves its input in `crash-*`, which
the same command given that file runs again.
"""

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports(include=["milkio_gen", "tests.fuzz"]):
    from tests.fuzz.targets import check_tson


def main() -> None:
    atheris.Setup(sys.argv, check_tson)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
