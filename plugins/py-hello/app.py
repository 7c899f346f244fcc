"""`example:py-hello`: a ward plugin written in Python (see `wit/py-hello.wit`).

componentize-py builds it into a component whose typed commands are the methods of `WitWorld`.
A result's error is raised as `Err(value)`; any other exception that leaves a method is a trap,
which ward reports as a failed call.
"""

import wit_world
from wit_world.imports import log
from componentize_py_types import Err


class WitWorld(wit_world.WitWorld):
    def greet(self, name: str) -> str:
        log.log(log.Level.INFO, "greet called")
        return f"Hello, {name}!"

    def count(self, text: str) -> wit_world.Counts:
        words = text.split()
        longest = max(words, key=len) if words else ""
        return wit_world.Counts(words=len(words), chars=len(text), longest=longest)

    def divide(self, a: int, b: int) -> int:
        if b == 0:
            raise Err("division by zero")
        # WIT's s64 division truncates towards zero, like Rust's.
        quotient = abs(a) // abs(b)
        quotient = quotient if (a < 0) == (b < 0) else -quotient
        if not -(2**63) <= quotient < 2**63:
            raise Err(f"{a} / {b} overflows s64")
        return quotient

    def crash(self, message: str) -> str:
        raise RuntimeError(message)
