"""Arithmetic expressions in the coordinates, parsed and evaluated without ``eval``.

Only numbers, the coordinate names, ``+ - * / ** %``, unary signs, one comparison ``< <= > >=`` (for
``where``) and calls of whitelisted torch functions are accepted; anything else (attributes, subscripts, other names) is rejected when parsed.
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


def parse_expression(text: str, variables: Sequence[str]) -> Callable[..., torch.Tensor]:
    """A vectorised function ``f(*coordinates)`` computing ``text``.

    Raises
    ------
    ValueError
        If ``text`` is not an arithmetic expression in ``variables``, the constants and :data:`FUNCTIONS`.
    """
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as err:
        raise ValueError(f"expression {text!r} is not valid: {err.msg}") from err
    _check(tree, set(variables))

    def f(*xs: torch.Tensor) -> torch.Tensor:
        return _evaluate(tree, dict(zip(variables, xs)))

    return f


def _check(node: ast.AST, variables: set[str]) -> None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return
    if isinstance(node, ast.Name):
        if node.id not in variables and node.id not in CONSTANTS:
            raise ValueError(f"expression uses unknown names ['{node.id}']; variables are {sorted(variables)}")
        return
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check(node.left, variables), _check(node.right, variables)
        return
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        _check(node.operand, variables)
        return
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        _check(node.left, variables), _check(node.comparators[0], variables)
        return
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id not in FUNCTIONS:
            raise ValueError(f"expression uses unknown names ['{node.func.id}']; functions are {sorted(FUNCTIONS)}")
        for arg in node.args:
            _check(arg, variables)
        return
    raise ValueError(f"expression may only hold numbers, variables, + - * / ** % and function calls; got {ast.unparse(node)!r}")


def _evaluate(node: ast.AST, values: dict[str, torch.Tensor]) -> torch.Tensor:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return values[node.id] if node.id in values else CONSTANTS[node.id]
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, values), _evaluate(node.right, values))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, values))
    if isinstance(node, ast.Compare):
        return _COMPARE[type(node.ops[0])](_evaluate(node.left, values), _evaluate(node.comparators[0], values))
    args = [torch.as_tensor(_evaluate(a, values)) for a in node.args]
    return FUNCTIONS[node.func.id](*args)
