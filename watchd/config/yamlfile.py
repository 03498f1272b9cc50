"""Reading one YAML config file, remembering the line of every key.

PyYAML quietly keeps the last of two equal keys; here a repeated key is a
problem, because it is almost always a copy-and-paste mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from watchd.config.problems import KeyPath, Origin, Problem, format_key

MAX_CONFIG_BYTES = 1024 * 1024  # a config file larger than this is a mistake, not a config
MAX_DEPTH = 32  # key lines are recorded this deep at most


@dataclass
class YamlFile:
    """A parsed file: its data (None if empty or unreadable), key lines and problems."""

    path: Path
    data: Any = None
    lines: dict[KeyPath, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def origin(self) -> Origin:
        return Origin(self.path, (), self.lines)


def read_yaml(path: Path) -> YamlFile:
    """Parse ``path``; unreadable files and syntax errors land in ``problems``, never raise."""
    result = YamlFile(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        result.problems.append(Problem(path, "", f"cannot read: {exc.strerror or exc}"))
        return result
    if len(raw) > MAX_CONFIG_BYTES:
        result.problems.append(Problem(path, "", "file is larger than 1 MiB; is it a config?"))
        return result
    try:
        text = raw.decode("utf-8")
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            result.data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except UnicodeDecodeError:
        result.problems.append(Problem(path, "", "not UTF-8 text"))
        return result
    except yaml.MarkedYAMLError as exc:
        result.problems.append(_syntax_problem(path, exc))
        return result
    except yaml.YAMLError as exc:
        result.problems.append(Problem(path, "", f"YAML error: {exc}"))
        return result
    if node is not None:
        _walk(node, (), result)
    return result


def _syntax_problem(path: Path, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    what = ": ".join(str(part) for part in (exc.context, exc.problem) if part)
    return Problem(path, "", f"YAML syntax error: {what}", mark.line + 1 if mark else None)


def _walk(node: Node, path: KeyPath, out: YamlFile) -> None:
    """Record the line of each key below ``node``; report repeated keys."""
    if len(path) > MAX_DEPTH:  # recursive aliases; nothing sane nests this deep
        return
    if isinstance(node, MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                message = f"repeated key (first given on line {seen[key]})"
                out.problems.append(Problem(out.path, format_key((*path, key)), message, line))
                continue
            seen[key] = line
            out.lines[(*path, key)] = line
            _walk(value_node, (*path, key), out)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            out.lines[(*path, index)] = item.start_mark.line + 1
            _walk(item, (*path, index), out)
