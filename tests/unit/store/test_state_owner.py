"""Only watchd.store.transitions writes a job's state (issue: one owner for job state)."""

import ast
from pathlib import Path

import watchd

PACKAGE = Path(watchd.__file__).parent
OWNER = PACKAGE / "store" / "transitions.py"
ELSEWHERE = PACKAGE / "emulator"  # the emulator's own records, not watchd's jobs


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _name(node.func)
    return ""


def job_state_writes(tree: ast.AST) -> list[int]:
    """Lines that assign a job's state: ``x.state = ...`` (x not a batch),
    ``Job(state=...)`` or ``update(...).values(state=...)``."""
    lines = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            for target in node.targets:
                targets += target.elts if isinstance(target, ast.Tuple) else [target]
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and target.attr == "state"
                and "batch" not in _name(target.value).lower()
            ):
                lines.append(target.lineno)
        if (
            isinstance(node, ast.Call)
            and _name(node.func) in ("Job", "values")
            and any(keyword.arg == "state" for keyword in node.keywords)
        ):
            lines.append(node.lineno)
    return lines


def test_no_module_but_the_transitions_writes_a_jobs_state():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == OWNER or ELSEWHERE in path.parents:
            continue
        for line in job_state_writes(ast.parse(path.read_text(), str(path))):
            offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    assert offenders == []


def test_the_check_finds_the_writes_it_looks_for():
    source = """
job.state = JobState.DONE
row.state, row.error = JobState.FAILED, "x"
session.execute(update(Job).values(state="queued"))
Job(state=JobState.QUEUED)
batch.state = BatchState.CLOSED
"""
    assert sorted(job_state_writes(ast.parse(source))) == [2, 3, 4, 5]
