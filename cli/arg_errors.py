"""One-line messages for what the command line parser refuses, and config files checked as data.

jsonargparse reports a misspelt option of a model or DataModule as several lines ("Does not validate
against any of the Union subtypes ..."), a misspelt trainer option as "unrecognized arguments", and a
config file that is not YAML, not a mapping, or asks for a Python object without naming the file.
:func:`summarize` turns the first kinds into one line naming the option, the class and the closest
valid names (:mod:`difflib`); :func:`check_config_files` reads every ``--config`` file first, with
jsonargparse's own YAML loader (a ``yaml.SafeLoader``: data only, no ``!!python/...`` objects), and
says which file is wrong and how.
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from semcolor.errors import SemcolorError


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` of ``candidates`` closest to ``name`` (difflib's ratio >= 0.6), best first."""
    return difflib.get_close_matches(name, sorted(set(candidates)), n=n, cutoff=0.6)


def _suggest(name: str, candidates: Iterable[str]) -> str:
    near = closest(name, candidates)
    return f"; closest: {', '.join(near)}" if near else ""


def class_options(class_path: str) -> list[str]:
    """The init arguments jsonargparse accepts for ``class_path`` (its own view: ``**kwargs`` followed up
    the class chain); empty when the class cannot be imported."""
    from jsonargparse import ArgumentParser

    module, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
        parser = ArgumentParser(exit_on_error=False)
        parser.add_class_arguments(cls)
    except Exception:  # an unimportable class is reported by jsonargparse itself
        return []
    return sorted({key.split(".")[0] for key in parser.get_defaults().keys()})


def _parser_keys(parser: Any) -> list[str]:
    """Dotted keys and ``--option`` strings a (sub)command parser knows."""
    keys = set()
    for action in getattr(parser, "_actions", []):
        keys |= {s for s in action.option_strings if s.startswith("--")}
        if isinstance(action.dest, str):
            keys.add(action.dest)
    return sorted(keys)


_CLASS_PROBLEM = re.compile(r"Parser key \"([\w.]+)\":.*?Problem with given class_path '([\w.]+)':\s*\n\s*(.+?)\s*$",
                            re.S | re.M)
_NOT_ACCEPTED = re.compile(r"Option '([^']+)' is not accepted")
_WRONG_VALUE = re.compile(r"Parser key \"([\w.]+)\":\s*\n\s*(.+)")


def summarize(message: str, parser: Any = None) -> str | None:
    """One line for a jsonargparse error ``message`` (None when it is not one of the kinds handled).

    ``parser`` is the (sub)command parser that refused the arguments: its options are the candidates
    for an unrecognised ``--option``.
    """
    m = _CLASS_PROBLEM.search(message)
    if m:
        group, class_path, reason = m.groups()
        short = class_path.rpartition(".")[2]
        bad = _NOT_ACCEPTED.match(reason)
        if bad:
            key = bad.group(1)
            return (f"--{group}.init_args.{key}: {short} ({class_path}) has no option '{key}'"
                    + _suggest(key, class_options(class_path)))
        inner = _WRONG_VALUE.search(message[m.start(3):])
        if inner:
            return f"--{group}.init_args.{inner.group(1)}: {inner.group(2).strip()} ({class_path})"
        return f"--{group}: {reason.strip()} ({class_path})"
    m = re.search(r"unrecognized arguments: (.+)", message)
    if m:
        names = [a.split("=", 1)[0] for a in m.group(1).split() if a.startswith("-")]
        if names:
            options = [k for k in _parser_keys(parser) if k.startswith("--")]
            return "; ".join(f"unknown option {n}" + _suggest(n, options) for n in names)
    m = re.search(r"Subcommand '(\w+)' does not accept option '([\w.]+)'", message)
    if m:
        sub, key = m.groups()
        keys = [k for k in _parser_keys(parser) if not k.startswith("-")]
        return f"a config file sets '{key}', which `{sub}` does not accept" + _suggest(key, keys)
    return None


# ----------------------------------------------------------------------------------------------
# config files
# ----------------------------------------------------------------------------------------------
def config_paths(argv: Sequence[str]) -> list[Path]:
    """The existing files given to ``--config`` / ``-c`` in ``argv`` (inline YAML strings are left out)."""
    out: list[Path] = []
    for i, arg in enumerate(argv):
        value = None
        if arg in ("--config", "-c") and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--config="):
            value = arg.split("=", 1)[1]
        if value is not None and Path(value).is_file():
            out.append(Path(value))
    return out


def check_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping in the YAML file ``path``, read as data by jsonargparse's loader; a
    :class:`SemcolorError` naming the file when it is not YAML, not a mapping, or holds a Python object tag."""
    import yaml
    from jsonargparse import get_loader

    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise SemcolorError(f"config file '{path}' cannot be read as text ({type(exc).__name__})") from exc
    try:
        value = get_loader("yaml")(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if isinstance(exc, yaml.constructor.ConstructorError) and "python/" in str(problem):
            raise SemcolorError(f"config file '{path}'{where}: {problem}; config files are read as plain data "
                                f"(no Python objects)") from exc
        raise SemcolorError(f"config file '{path}' is not valid YAML{where}: {problem}") from exc
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SemcolorError(f"config file '{path}' holds a {type(value).__name__}; expected a mapping of options "
                            f"(e.g. 'trainer:', 'model:', 'data:')")
    return value


def check_config_files(argv: Sequence[str]) -> None:
    """:func:`check_config_file` for every ``--config`` file of ``argv``."""
    for path in config_paths(argv):
        check_config_file(path)
