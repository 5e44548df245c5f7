"""HogQL parsing for the fake PostHog: PostHog's own parser when installed, else a small one.

PostHog's parser is on PyPI as ``hogql-parser`` (module ``hogql_parser``, C++/ANTLR; source
``PostHog/posthog: common/hogql_parser``). Its module init imports ``posthog.hogql.errors``,
which exists only inside PostHog's Django app; a stand-in module with the same error classes
(``PostHog/posthog: posthog/hogql/errors.py``) is registered for the import and removed after,
so the name ``posthog`` stays free for anything else (PostHog's Python SDK is also ``posthog``).
Its ``parse_select_json`` returns the AST as JSON, and syntax errors inside the JSON.

``hogql-parser`` is a test dependency: the demo runs without it, on ``FallbackParser``, which
reads the HogQL subset csm-tui writes and gives the same AST (tests/test_hogql_parser.py
compares the two on every query the client can write).
"""

from __future__ import annotations

import functools
import json
import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Node = dict[str, Any]

HOGQL_PARSER = "hogql-parser"
FALLBACK = "fallback"


class HogQLSyntaxError(Exception):
    """The text is not HogQL (PostHog answers 400 ``hogql_syntax_error``)."""

    def __init__(self, message: str, start: int = 0, end: int = 0) -> None:
        super().__init__(message)
        self.start = start
        self.end = end


class HogQLInternalError(Exception):
    """PostHog's parser failed on its own (NotImplementedError, ParsingError)."""


def _errors_stand_in() -> types.ModuleType:
    """A module with the error classes PostHog's parser raises (posthog/hogql/errors.py)."""
    module = types.ModuleType("posthog.hogql.errors")

    class BaseHogQLError(Exception):
        def __init__(self, message: str, *, start: int | None = None, end: int | None = None,
                     node: Any = None, fix: str | None = None) -> None:  # fmt: skip
            super().__init__(message)
            self.message, self.start, self.end, self.fix = message, start, end, fix

    class ExposedHogQLError(BaseHogQLError):
        code_name = "hogql_error"

    class InternalHogQLError(BaseHogQLError):
        pass

    class SyntaxError(ExposedHogQLError):  # PostHog's own name
        code_name = "hogql_syntax_error"

    class QueryError(ExposedHogQLError):
        code_name = "hogql_query_error"

    class NotImplementedError(InternalHogQLError):  # PostHog's own name
        pass

    class ParsingError(InternalHogQLError):
        pass

    for cls in (BaseHogQLError, ExposedHogQLError, InternalHogQLError, SyntaxError, QueryError,
                NotImplementedError, ParsingError):  # fmt: skip
        cls.__module__ = module.__name__
        setattr(module, cls.__name__, cls)
    return module


@functools.cache
def posthog_parser() -> Any | None:
    """PostHog's ``hogql_parser`` module, or None when it is not installed."""
    if "hogql_parser" in sys.modules:
        return sys.modules["hogql_parser"]
    added: list[str] = []
    for name in ("posthog", "posthog.hogql", "posthog.hogql.errors"):
        if name not in sys.modules:
            sys.modules[name] = (
                _errors_stand_in() if name.endswith("errors") else types.ModuleType(name)
            )
            added.append(name)
    try:
        import hogql_parser  # test-only dependency (untyped: see [tool.mypy] in pyproject.toml)
    except ImportError:
        return None
    finally:
        for name in added:  # the parser keeps its own reference to the errors module
            sys.modules.pop(name, None)
    return hogql_parser


def parse_select(text: str, *, use: str | None = None) -> tuple[Node, str]:
    """The AST of a SELECT (positions removed) and the parser that read it.

    ``use``: ``"hogql-parser"`` or ``"fallback"`` to choose (default: PostHog's when installed).
    Raises HogQLSyntaxError or HogQLInternalError.
    """
    module = posthog_parser() if use != FALLBACK else None
    if use == HOGQL_PARSER and module is None:
        raise RuntimeError("hogql-parser is not installed")
    if module is None:
        return strip_positions(FallbackParser(text).select()), FALLBACK
    try:
        found = json.loads(module.parse_select_json(text))
    except Exception as exc:  # an error class of the stand-in module
        if type(exc).__name__ == "SyntaxError":
            raise HogQLSyntaxError(str(exc), getattr(exc, "start", 0) or 0) from None
        raise HogQLInternalError(str(exc)) from None
    if isinstance(found, dict) and found.get("error"):
        start = (found.get("start") or {}).get("offset", 0)
        end = (found.get("end") or {}).get("offset", 0)
        message = str(found.get("message") or "Syntax error")
        if found.get("type") == "SyntaxError":
            raise HogQLSyntaxError(message, start, end)
        raise HogQLInternalError(message)
    return strip_positions(found), HOGQL_PARSER


def strip_positions(node: Any) -> Any:
    """The AST without source positions (``start``, ``end``) or empty (null) fields, for
    comparing shapes (the parser leaves some empty fields out and writes others as null)."""
    if isinstance(node, dict):
        return {
            k: strip_positions(v)
            for k, v in node.items()
            if k not in ("start", "end") and v is not None
        }
    if isinstance(node, list):
        return [strip_positions(v) for v in node]
    return node


def walk(node: Any) -> Iterator[Node]:
    """Every AST node, depth first."""
    if isinstance(node, dict):
        if "node" in node:
            yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


# -- the fallback parser ------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<string>'(?:[^'\\]|\\.|'')*')
    |(?P<quoted>`(?:[^`\\]|\\.|``)*`)
    |(?P<number>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    |(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
    |(?P<op>>=|<=|!=|<>|==|=|<|>|\(|\)|,|\.|-|\+|\*|/|%|;)""",
    re.VERBOSE | re.DOTALL,
)
_UNESCAPE = {"b": "\b", "f": "\f", "r": "\r", "n": "\n", "t": "\t", "0": "\0", "a": "\a",
             "v": "\v"}  # fmt: skip
_INTERVAL_UNITS = {"SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR"}
_COMPARE = {"=": "==", "==": "==", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">",
            ">=": ">="}  # fmt: skip
_CLAUSE_WORDS = {"FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET", "AS", "AND",
                 "OR", "NOT", "ASC", "DESC", "BY", "SELECT", "DISTINCT", "INTERVAL"}  # fmt: skip


@dataclass
class _Token:
    kind: str
    text: str
    at: int


def _unquote(text: str) -> str:
    """A quoted literal's text: backslash escapes and doubled quotes undone."""
    body, quote = text[1:-1], text[0]
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            out.append(_UNESCAPE.get(body[i + 1], body[i + 1]))
            i += 2
        elif c == quote and i + 1 < len(body) and body[i + 1] == quote:
            out.append(quote)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


class FallbackParser:
    """A recursive-descent reader of the HogQL subset csm-tui sends, giving the AST PostHog's
    parser gives (without positions): SELECT [DISTINCT] ... FROM table [WHERE] [GROUP BY]
    [HAVING] [ORDER BY] [LIMIT n [OFFSET m]]; expressions with AND, OR, NOT, comparisons,
    + and -, calls, fields, literals, tuples and INTERVAL."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[_Token] = []
        at = 0
        while at < len(text):
            found = _TOKEN.match(text, at)
            if found is None:
                raise HogQLSyntaxError(f"mismatched input {text[at]!r}", at, at + 1)
            kind = found.lastgroup or ""
            if kind != "space":
                self.tokens.append(_Token(kind, found.group(), at))
            at = found.end()
        self.i = 0

    # -- tokens

    def _peek(self, offset: int = 0) -> _Token | None:
        at = self.i + offset
        return self.tokens[at] if at < len(self.tokens) else None

    def _word(self, *words: str) -> bool:
        token = self._peek()
        return token is not None and token.kind == "name" and token.text.upper() in words

    def _op(self, *ops: str) -> bool:
        token = self._peek()
        return token is not None and token.kind == "op" and token.text in ops

    def _take(self) -> _Token:
        token = self._peek()
        if token is None:
            raise HogQLSyntaxError("unexpected end of query", len(self.text), len(self.text))
        self.i += 1
        return token

    def _expect_word(self, word: str) -> None:
        if not self._word(word):
            self._fail(f"expected {word}")
        self.i += 1

    def _expect_op(self, op: str) -> None:
        if not self._op(op):
            self._fail(f"expected {op!r}")
        self.i += 1

    def _fail(self, message: str) -> None:
        token = self._peek()
        at = token.at if token else len(self.text)
        near = repr(token.text) if token else "end of query"
        raise HogQLSyntaxError(f"{message} near {near}", at, at + 1)

    # -- statements

    def select(self) -> Node:
        """The whole text as one SELECT."""
        query = self._select()
        if self._op(";"):
            self.i += 1
        if self._peek() is not None:
            self._fail("extraneous input")
        return query

    def _select(self) -> Node:
        self._expect_word("SELECT")
        distinct = None
        if self._word("DISTINCT"):
            self.i += 1
            distinct = True
        columns = [self._column()]
        while self._op(","):
            self.i += 1
            columns.append(self._column())
        query: Node = {
            "node": "SelectQuery", "ctes": None, "distinct": distinct, "select": columns,
            "select_from": None, "where": None, "prewhere": None, "having": None,
            "group_by": None, "order_by": None, "limit": None, "offset": None,
            "qualify": None,
        }  # fmt: skip
        if self._word("FROM"):
            self.i += 1
            table = self._take()
            if table.kind not in ("name", "quoted"):
                self._fail("expected a table")
            name = table.text if table.kind == "name" else _unquote(table.text)
            query["select_from"] = {
                "node": "JoinExpr", "alias": None, "next_join": None, "sample": None,
                "table": {"node": "Field", "chain": [name]}, "table_final": None,
            }  # fmt: skip
        if self._word("WHERE"):
            self.i += 1
            query["where"] = self._expr()
        if self._word("GROUP"):
            self.i += 1
            self._expect_word("BY")
            query["group_by"] = self._list(self._expr)
        if self._word("HAVING"):
            self.i += 1
            query["having"] = self._expr()
        if self._word("ORDER"):
            self.i += 1
            self._expect_word("BY")
            query["order_by"] = self._list(self._order)
        if self._word("LIMIT"):
            self.i += 1
            query["limit"] = self._expr()
            if self._op(","):  # LIMIT offset, count: ClickHouse's order, as PostHog reads it
                self.i += 1
                query["offset"] = self._expr()
        if self._word("OFFSET"):
            self.i += 1
            query["offset"] = self._expr()
        return query

    def _list(self, item: Any) -> list[Node]:
        items = [item()]
        while self._op(","):
            self.i += 1
            items.append(item())
        return items

    def _column(self) -> Node:
        expr = self._expr()
        if self._word("AS"):
            self.i += 1
            alias = self._take()
            if alias.kind not in ("name", "quoted"):
                self._fail("expected an alias")
            name = alias.text if alias.kind == "name" else _unquote(alias.text)
            return {"node": "Alias", "alias": name, "expr": expr}
        return expr

    def _order(self) -> Node:
        expr = self._expr()
        order = "ASC"
        if self._word("ASC", "DESC"):
            order = self._take().text.upper()
        return {"node": "OrderExpr", "expr": expr, "order": order}

    # -- expressions, loosest first

    def _expr(self) -> Node:
        terms = [self._and()]
        while self._word("OR"):
            self.i += 1
            terms.append(self._and())
        return terms[0] if len(terms) == 1 else {"node": "Or", "exprs": terms}

    def _and(self) -> Node:
        terms = [self._not()]
        while self._word("AND"):
            self.i += 1
            terms.append(self._not())
        return terms[0] if len(terms) == 1 else {"node": "And", "exprs": terms}

    def _not(self) -> Node:
        if self._word("NOT"):
            self.i += 1
            return {"node": "Not", "expr": self._not()}
        return self._compare()

    def _compare(self) -> Node:
        left = self._sum()
        token = self._peek()
        if token is not None and token.kind == "op" and token.text in _COMPARE:
            self.i += 1
            right = self._sum()
            return {"node": "CompareOperation", "left": left, "op": _COMPARE[token.text],
                    "right": right}  # fmt: skip
        return left

    def _sum(self) -> Node:
        left = self._product()
        while self._op("+", "-"):
            op = self._take().text
            left = {"node": "ArithmeticOperation", "left": left, "op": op,
                    "right": self._product()}  # fmt: skip
        return left

    def _product(self) -> Node:
        left = self._unary()
        while self._op("*", "/", "%"):
            op = self._take().text
            left = {"node": "ArithmeticOperation", "left": left, "op": op,
                    "right": self._unary()}  # fmt: skip
        return left

    def _unary(self) -> Node:
        if self._op("-"):
            nxt = self._peek(1)
            if nxt is not None and nxt.kind == "number":
                self.i += 1
                return self._number(negative=True)
        return self._primary()

    def _number(self, *, negative: bool = False) -> Node:
        text = self._take().text
        value: int | float = float(text) if any(c in text for c in ".eE") else int(text)
        return {"node": "Constant", "value": -value if negative else value}

    def _primary(self) -> Node:
        token = self._peek()
        if token is None:
            self._fail("expected an expression")
        assert token is not None
        if token.kind == "number":
            return self._number()
        if token.kind == "string":
            self.i += 1
            return {"node": "Constant", "value": _unquote(token.text)}
        if token.kind == "op" and token.text == "(":
            self.i += 1
            items = self._list(self._expr)
            self._expect_op(")")
            return items[0] if len(items) == 1 else {"node": "Tuple", "exprs": items}
        if token.kind == "quoted":
            self.i += 1
            return self._field([_unquote(token.text)])
        if token.kind != "name" or token.text.upper() in _CLAUSE_WORDS - {"INTERVAL"}:
            self._fail("expected an expression")
        word = token.text.upper()
        if word == "INTERVAL":
            self.i += 1
            amount = self._unary()
            if not self._word(*_INTERVAL_UNITS):
                self._fail("expected an interval unit")
            unit = self._take().text.capitalize()
            return {"node": "Call", "name": f"toInterval{unit}", "args": [amount]}
        if word in ("NULL", "TRUE", "FALSE"):
            self.i += 1
            value = {"NULL": None, "TRUE": True, "FALSE": False}[word]
            return {"node": "Constant", "value": value}
        self.i += 1
        if self._op("("):
            return self._call(token.text)
        return self._field([token.text])

    def _field(self, chain: list[str]) -> Node:
        while self._op("."):
            self.i += 1
            part = self._take()
            if part.kind not in ("name", "quoted", "number"):
                self._fail("expected a field name")
            chain.append(_unquote(part.text) if part.kind == "quoted" else part.text)
        return {"node": "Field", "chain": chain}

    def _call(self, name: str) -> Node:
        self._expect_op("(")
        distinct = False
        args: list[Node] = []
        if self._word("DISTINCT"):
            self.i += 1
            distinct = True
        if not self._op(")"):
            args = self._list(self._expr)
        self._expect_op(")")
        return {"node": "Call", "name": name, "args": args, "distinct": distinct,
                "params": None, "filter_expr": None, "order_by": None}  # fmt: skip
