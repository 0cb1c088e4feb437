"""Reads docker-compose.yaml and .env files the way Docker Compose does, for the deploy tests.

No Docker engine runs where the tests run, so the compose file is checked by reading it: YAML
with merge keys (PyYAML's safe loader resolves ``<<``), ``$$`` escapes, and ``${VAR}``,
``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}`` with nested defaults.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yaml"
ENV_EXAMPLE = REPO / ".env.example"
AIRFLOW_SERVICES = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(ValueError):
    """A required variable (``${VAR:?message}``) is unset, as ``docker compose`` would report."""


@dataclass(frozen=True)
class Reference:
    name: str
    operator: str  # "", ":-", "-", ":?", "?"
    argument: str

    @property
    def has_default(self) -> bool:
        return self.operator in (":-", "-")


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a compose ``.env`` file (comments and blank lines skipped)."""
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path.name}: line without '=': {line!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def _scan(text: str) -> Iterator[tuple[int, int, Reference | None]]:
    """Yield (start, end, reference) for each ``${...}``/``$VAR``; ``None`` for a ``$$`` escape."""
    i = 0
    while (i := text.find("$", i)) != -1:
        if text.startswith("$$", i):
            yield i, i + 2, None
            i += 2
        elif text.startswith("${", i):
            depth, j = 1, i + 2
            while depth and j < len(text):
                if text.startswith("${", j):
                    depth, j = depth + 1, j + 2
                    continue
                depth += {"}": -1}.get(text[j], 0)
                j += 1
            if depth:
                raise ValueError(f"unclosed ${{ in {text!r}")
            body = text[i + 2:j - 1]
            name = _NAME.match(body)
            if not name:
                raise ValueError(f"bad variable reference ${{{body}}}")
            rest = body[name.end():]
            operator = next((op for op in (":-", ":?", "-", "?") if rest.startswith(op)), "")
            if rest and not operator:
                raise ValueError(f"bad variable reference ${{{body}}}")
            yield i, j, Reference(name.group(), operator, rest[len(operator):])
            i = j
        elif name := _NAME.match(text, i + 1):
            yield i, name.end(), Reference(name.group(), "", "")
            i = name.end()
        else:
            i += 1


def references(text: str) -> list[Reference]:
    """Every variable reference in ``text``, including those nested in defaults."""
    found = []
    for _, _, ref in _scan(text):
        if ref is not None:
            found.append(ref)
            if ref.has_default:
                found += references(ref.argument)
    return found


def interpolate(text: str, env: Mapping[str, str]) -> str:
    out, last = [], 0
    for start, end, ref in _scan(text):
        out.append(text[last:start])
        last = end
        if ref is None:
            out.append("$")
            continue
        value = env.get(ref.name)
        unset_or_empty = not value
        if ref.operator == ":-" and unset_or_empty or ref.operator == "-" and value is None:
            value = interpolate(ref.argument, env)
        elif ref.operator == ":?" and unset_or_empty or ref.operator == "?" and value is None:
            raise InterpolationError(f"{ref.name}: {ref.argument}")
        out.append(value or "")
    out.append(text[last:])
    return "".join(out)


def strings(node: Any) -> Iterator[str]:
    """Every string (keys and values) in a parsed YAML document."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def service_environment(compose: Mapping[str, Any], service: str, env: Mapping[str, str]) -> dict[str, str]:
    """A service's container environment, interpolated with ``env`` (the ``.env`` values)."""
    raw = compose["services"][service].get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {key: interpolate(str(value), env) for key, value in raw.items()}
