"""Coverage-guided fuzzing of one target with atheris (libFuzzer for Python): the long run.

    python -m tests.reliability.fuzz_atheris plan|usage|policy|review [CORPUS_DIR] [libFuzzer flags]

The product is instrumented (``cloudcostguard.*``, imported and warmed up inside
``atheris.instrument_imports``), so libFuzzer keeps the inputs that reach new branches. Each input's
first byte picks the mode: even, the rest is the raw input (plan file, usage file, policy YAML, review
body); odd, the rest drives ``fuzz_targets.mutate`` on a real fixture, so mutations stay past the parser.
The corpus starts from the fixtures in both modes. A crash is any exception the target lets through
(not a ``cloudcostguard.errors`` error, a failed assertion, a bound exceeded): atheris prints it, writes
the input to ``crash-<sha1>`` and exits non-zero. Per-input bounds: ``fuzz_targets.bounded`` (time, peak
RSS) and libFuzzer's ``-timeout``/``-rss_limit_mb`` as a backstop.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["cloudcostguard"]):
    from tests.reliability import fuzz_targets

    # The estimator and its pricers are imported on first use: use them here, under instrumentation.
    for _target in fuzz_targets.TARGETS.values():
        for _seed in _target.seeds()[:3]:
            _target.check_bytes(_seed)


class ProviderChooser:
    def __init__(self, provider: atheris.FuzzedDataProvider) -> None:
        self._provider = provider

    def pick(self, count: int) -> int:
        return int(self._provider.ConsumeIntInRange(0, count - 1)) if count > 1 else 0

    def text(self) -> str:
        return str(self._provider.ConsumeUnicodeNoSurrogates(8))


def one_input(name: str) -> Callable[[bytes], None]:
    target = fuzz_targets.TARGETS[name]
    check_bytes = target.check_bytes
    check_document = target.check_document
    if name == "review":
        loop = (
            asyncio.new_event_loop()
        )  # one loop for the run: asyncio.run per input costs more than a review

        def check_bytes(raw: bytes) -> None:
            fuzz_targets.check_review_bytes(raw, loop)

        def check_document(document: object) -> None:
            fuzz_targets.check_review_document(document, loop)

    def test_one_input(data: bytes) -> None:
        if not data:
            return
        if data[0] % 2 == 0:
            with fuzz_targets.bounded(name):
                check_bytes(data[1:])
        else:
            document = target.mutated(ProviderChooser(atheris.FuzzedDataProvider(data[1:])))
            with fuzz_targets.bounded(name):
                check_document(document)

    return test_one_input


def write_seed_corpus(name: str, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(fuzz_targets.TARGETS[name].seeds()):
        (directory / f"raw-{index:03d}").write_bytes(b"\x00" + seed)
        (directory / f"mutated-{index:03d}").write_bytes(b"\x01" + seed[:64])


def main(argv: list[str]) -> None:
    name, *rest = argv[1:]
    corpus = [arg for arg in rest if not arg.startswith("-")]
    if corpus:
        write_seed_corpus(name, Path(corpus[0]))
    flags = [
        f"-timeout={int(fuzz_targets.SECONDS_PER_INPUT * 2)}",
        "-rss_limit_mb=2048",
        "-max_len=262144",
        "-print_final_stats=1",
    ]
    atheris.Setup([argv[0], *flags, *rest], one_input(name))
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
