"""Summarise a py-spy `--format raw` profile: where the CPU samples went, by library and frame.

    uv run python bench/profile_summary.py bench/results/profile-gateway-w1-<pid>.txt

Self time is charged to the library of the innermost frame; inclusive time to every distinct
frame on the stack. Line numbers are dropped so a function counts once.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^:()]*)(?::\d+)?\)$")

# Libraries are named by the first part of py-spy's short path; these get friendlier names.
OTEL = ("opentelemetry", "trace", "sdk", "context", "attributes", "propagate", "propagators")
STDLIB = ("urllib", "re", "json", "collections", "uuid", "contextlib", "typing", "enum")
GROUPS = {
    **dict.fromkeys(OTEL, "opentelemetry"),
    **dict.fromkeys(STDLIB, "python stdlib"),
    "telemetry": "fastapi native telemetry",
    "prometheus_client": "prometheus_client",
    "sqlalchemy": "sqlalchemy",
    "asyncpg": "asyncpg",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic",
    "twilio": "twilio validator",
    "phonenumbers": "phonenumbers",
    "starlette": "starlette",
    "fastapi": "fastapi",
    "uvicorn": "uvicorn",
    "asyncio": "asyncio",
    "structlog": "structlog",
}


@dataclass
class Profile:
    total: int = 0
    by_library: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)

    def add(self, frames: list[str], samples: int) -> None:
        self.total += samples
        self.by_library[_library(frames[-1]) if frames else "?"] += samples
        for frame in {_without_line(f) for f in frames}:
            self.inclusive[frame] += samples


def _without_line(frame: str) -> str:
    return re.sub(r":\d+\)$", ")", frame)


def _library(frame: str) -> str:
    match = FRAME.match(frame)
    if match is None:
        return "native / idle"  # py-spy's process line: time in C code outside Python frames
    path = match.group("file")
    if "/" not in path:
        return "python stdlib" if path.endswith(".py") or path.startswith("<") else path
    head = path.split("/", 1)[0]
    if head in ("fastapi",) and "/telemetry/" in path:
        return GROUPS["telemetry"]
    return GROUPS.get(head, head)


def load(path: Path) -> Profile:
    profile = Profile()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            profile.add(stack.split(";"), int(count))
    return profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--frames", type=int, default=40, help="inclusive frames to show")
    parser.add_argument("--match", default=None, help="only frames containing this text")
    args = parser.parse_args()
    profile = load(args.profile)
    print(f"{profile.total} samples\n\nself time by library")
    for library, samples in profile.by_library.most_common():
        print(f"  {100 * samples / profile.total:5.1f}%  {library}")
    print("\ninclusive time by frame")
    frames = [f for f in profile.inclusive.most_common() if not args.match or args.match in f[0]]
    for frame, samples in frames[: args.frames]:
        print(f"  {100 * samples / profile.total:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
