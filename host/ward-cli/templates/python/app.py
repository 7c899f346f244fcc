"""{{plugin}}: a ward plugin written in Python.

componentize-py builds this module into a component (`sh build.sh`). Each method of `WitWorld` is a
command declared in `wit/{{name}}.wit`. A `result` error is raised as `Err(value)`.
"""

import functools

import wit_world
from componentize_py_types import Err
from wit_world.imports import log


def command(method):
    """Turns any exception that leaves `method` into the command's error result.

    An uncaught exception in a componentize-py component is a trap, which tells the caller
    nothing. Every command here returns `result<T, string>`: `Err(text)` is passed on as it is,
    and any other exception becomes `Err("ExceptionType: message")`, logged by type only.
    Keep this decorator on every command.
    """

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except Err:
            raise
        except BaseException as error:  # noqa: BLE001 - the boundary catches everything
            log.log(log.Level.ERROR, f"{method.__name__} failed: {type(error).__name__}")
            raise Err(f"{type(error).__name__}: {error}")

    return wrapper


class WitWorld(wit_world.WitWorld):
    @command
    def greet(self, name: str) -> str:
        if not name:
            raise ValueError("name is empty")
        log.log(log.Level.INFO, "greet called")
        return f"Hello, {name}!"
