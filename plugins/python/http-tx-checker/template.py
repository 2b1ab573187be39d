"""URL templates: ``http://127.0.0.1:9000/tx/{transaction}``.

Placeholders, each replaced by a percent-encoded value of the half message:

=========================== ==================================================
placeholder                 value
=========================== ==================================================
``{transaction}``, ``{id}`` the transaction id (the half message's id)
``{topic}``                 the topic the message is for
``{key}``                   its first business key (empty when it has none)
``{tag}``                   its tag (empty when it has none)
``{checks}``                how many check-backs came before this one
=========================== ==================================================

``{{`` and ``}}`` stand for literal braces. The template must be an ``http://`` or
``https://`` URL; whether the broker lets the request through is the binding's
allowlist's decision.
"""

from __future__ import annotations

from urllib.parse import quote

import weir

#: The placeholders, by name, and the part of the template each becomes.
PLACEHOLDERS = {
    "transaction": "transaction",
    "id": "transaction",
    "topic": "topic",
    "key": "key",
    "tag": "tag",
    "checks": "checks",
}


class TemplateError(ValueError):
    pass


class UrlTemplate:
    """A parsed template: literal text and placeholders, in order."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[tuple[str, str]]) -> None:
        #: ``("literal", text)`` or ``("placeholder", what)`` pieces.
        self.parts = parts

    @classmethod
    def parse(cls, template: str) -> "UrlTemplate":
        """Parses a template (``TemplateError`` when it is not valid)."""
        if not (template.startswith("http://") or template.startswith("https://")):
            raise TemplateError(f"{template!r} is not an http:// or https:// URL")
        parts: list[tuple[str, str]] = []
        literal: list[str] = []
        i = 0
        while i < len(template):
            c = template[i]
            if c == "{" and template.startswith("{", i + 1):
                literal.append("{")
                i += 2
            elif c == "}" and template.startswith("}", i + 1):
                literal.append("}")
                i += 2
            elif c == "{":
                end = template.find("}", i + 1)
                if end < 0:
                    raise TemplateError(f"unclosed `{{` in {template!r}")
                name = template[i + 1 : end]
                if name not in PLACEHOLDERS:
                    raise TemplateError(f"unknown placeholder `{{{name}}}`")
                if literal:
                    parts.append(("literal", "".join(literal)))
                    literal = []
                parts.append(("placeholder", PLACEHOLDERS[name]))
                i = end + 1
            elif c == "}":
                raise TemplateError(f"unmatched `}}` in {template!r}")
            else:
                literal.append(c)
                i += 1
        if literal:
            parts.append(("literal", "".join(literal)))
        return cls(parts)

    def render(self, half: weir.Message, checks: int) -> str:
        """The URL for ``half`` at its ``checks``-th check."""
        values = {
            "transaction": half.id,
            "topic": half.topic,
            "key": half.keys[0] if half.keys else "",
            "tag": half.tag or "",
        }
        url = []
        for kind, value in self.parts:
            if kind == "literal":
                url.append(value)
            elif value == "checks":
                url.append(str(checks))
            else:
                url.append(encode(values[value]))
        return "".join(url)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UrlTemplate) and self.parts == other.parts

    def __repr__(self) -> str:
        return f"UrlTemplate({self.parts!r})"


def encode(value: str) -> str:
    """``value`` percent-encoded as UTF-8: everything but RFC 3986's unreserved
    characters (``A-Z a-z 0-9 - . _ ~``)."""
    return quote(value, safe="", encoding="utf-8", errors="strict")
