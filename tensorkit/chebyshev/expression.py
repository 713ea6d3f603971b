"""Arithmetic expressions in the coordinates, parsed and evaluated without ``eval``.

Only numbers, the coordinate names, ``+ - * / ** %``, unary signs, one comparison ``< <= > >=`` (for
``where``) and calls of whitelisted torch functions are accepted; anything else (attributes, subscripts, other names) is rejected when parsed.
The size of what is accepted is bounded, so a hostile expression fails at once instead of taking the
machine: at most :data:`MAX_LENGTH` characters and :data:`MAX_DEPTH` levels of nesting, number
literals up to :data:`MAX_CONSTANT` in size, constant exponents up to :data:`MAX_EXPONENT`, and every
part without a coordinate (``2**10``, ``1/0``) finite. Numbers are evaluated as float64 tensors,
never as unbounded Python integers.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Sequence

import torch

FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {
    name: getattr(torch, name)
    for name in ("sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sinh", "cosh", "arctan", "abs", "sign",
                 "minimum", "maximum", "where")
}
FUNCTIONS.update(erf=torch.special.erf, erfc=torch.special.erfc)
CONSTANTS = {"pi": math.pi, "e": math.e}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: operator.pow, ast.Mod: operator.mod}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}
MAX_LENGTH = 2000
MAX_DEPTH = 200
MAX_CONSTANT = 1e300
MAX_EXPONENT = 1000.0


def parse_expression(text: str, variables: Sequence[str]) -> Callable[..., torch.Tensor]:
    """A vectorised function ``f(*coordinates)`` computing ``text``.

    Raises
    ------
    TypeError
        If ``text`` is not a string.
    ValueError
        If ``text`` is not an arithmetic expression in ``variables``, the constants and :data:`FUNCTIONS`,
        or exceeds the bounds above.
    """
    if not isinstance(text, str):
        raise TypeError(f"expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"expression is {len(text)} characters long; at most {MAX_LENGTH} are accepted")
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as err:
        raise ValueError(f"expression {text[:80]!r} is not valid: {err.msg}") from err
    _check(tree, set(variables))

    def f(*xs: torch.Tensor) -> torch.Tensor:
        return _evaluate(tree, dict(zip(variables, xs)))

    return f


def _check(node: ast.AST, variables: set[str], depth: int = 0) -> bool:
    """Reject what is not allowed; return whether ``node`` is free of coordinates (then it is finite)."""
    if depth > MAX_DEPTH:
        raise ValueError(f"expression is nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        if not abs(node.value) <= MAX_CONSTANT:
            raise ValueError(f"expression: number {ast.unparse(node)[:40]!r} is larger than {MAX_CONSTANT:g}")
        return True
    if isinstance(node, ast.Name):
        if node.id not in variables and node.id not in CONSTANTS:
            raise ValueError(f"expression uses unknown names ['{node.id}']; variables are {sorted(variables)}")
        return node.id not in variables
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _check(node.left, variables, depth + 1), _check(node.right, variables, depth + 1)
        if isinstance(node.op, ast.Pow) and right:
            exponent = float(_evaluate(node.right, {}))
            if abs(exponent) > MAX_EXPONENT:
                raise ValueError(f"expression: exponent {ast.unparse(node.right)!r} = {exponent:g} exceeds {MAX_EXPONENT:g}")
        return left and right and _finite(node)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _check(node.operand, variables, depth + 1)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        _check(node.left, variables, depth + 1), _check(node.comparators[0], variables, depth + 1)
        return False
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id not in FUNCTIONS:
            raise ValueError(f"expression uses unknown names ['{node.func.id}']; functions are {sorted(FUNCTIONS)}")
        constant = all([_check(arg, variables, depth + 1) for arg in node.args])
        return constant and _finite(node)
    raise ValueError(f"expression may only hold numbers, variables, + - * / ** % and function calls; got {ast.unparse(node)[:80]!r}")


def _finite(node: ast.AST) -> bool:
    """Evaluate a part without coordinates; raise if it is not finite."""
    try:
        value = _evaluate(node, {})
    except (TypeError, RuntimeError) as err:
        raise ValueError(f"expression: {ast.unparse(node)[:80]!r} cannot be evaluated: {err}") from None
    if not bool(torch.isfinite(value).all()):
        raise ValueError(f"expression: {ast.unparse(node)[:80]!r} is not finite ({float(value.flatten()[0])})")
    return True


def _evaluate(node: ast.AST, values: dict[str, torch.Tensor]) -> torch.Tensor:
    if isinstance(node, ast.Constant):
        return torch.tensor(float(node.value), dtype=torch.float64)
    if isinstance(node, ast.Name):
        return values[node.id] if node.id in values else torch.tensor(CONSTANTS[node.id], dtype=torch.float64)
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, values), _evaluate(node.right, values))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, values))
    if isinstance(node, ast.Compare):
        return _COMPARE[type(node.ops[0])](_evaluate(node.left, values), _evaluate(node.comparators[0], values))
    return FUNCTIONS[node.func.id](*[_evaluate(a, values) for a in node.args])
