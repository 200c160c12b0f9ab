"""The French catalogue: complete, and its committed .mo compiled from the committed .po."""

import gettext
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.conftest import REPO_ROOT

CATALOGUES = sorted((REPO_ROOT / "locale").glob("*/LC_MESSAGES/django.po"))
each_catalogue = pytest.mark.parametrize("po_path", CATALOGUES, ids=lambda path: path.parts[-3])
FRENCH = REPO_ROOT / "locale" / "fr" / "LC_MESSAGES" / "django.po"
NBSP = "\u00a0"
PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +-]?\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def _po(path: Path):
    with path.open("rb") as source:
        return read_po(source)


def _messages(path: Path) -> list[Message]:
    """The catalogue's messages, without its header."""
    return [message for message in _po(path) if message.id]


def _forms(message: Message) -> tuple[str, ...]:
    """msgstr, or msgstr[0], msgstr[1]... of a plural message."""
    return tuple(message.string) if message.pluralizable else (message.string,)


def _name(message: Message) -> str:
    msgid = message.id[0] if message.pluralizable else message.id
    return f"{message.context}|{msgid}" if message.context else msgid


def _key(message: Message) -> tuple:
    """(msgctxt, msgid) or (msgctxt, (msgid, msgid_plural)), as read from a .po or a .mo."""
    return message.context, tuple(message.id) if message.pluralizable else message.id


def test_there_is_a_french_catalogue():
    assert [path.parts[-3] for path in CATALOGUES] == ["fr"]


@each_catalogue
def test_the_header_says_the_language_and_its_plural_rule(po_path):
    catalogue = _po(po_path)
    assert str(catalogue.locale) == po_path.parts[-3]
    assert not catalogue.fuzzy  # a fuzzy header: pybabel compile skips the whole catalogue
    if po_path == FRENCH:
        assert catalogue.plural_forms == "nplurals=2; plural=(n > 1);"


@each_catalogue
def test_every_message_is_translated_and_none_is_fuzzy(po_path):
    catalogue = _po(po_path)
    missing = [
        _name(message)
        for message in _messages(po_path)
        if message.fuzzy
        or not all(_forms(message))
        or (message.pluralizable and len(_forms(message)) != catalogue.num_plurals)
    ]
    assert missing == []


@each_catalogue
def test_translations_keep_the_placeholders(po_path):
    """Every %(name)s of the English is in the translation, and no other; a plural's first form
    may leave out the count (French "Dernier jour" for n = 1). No lone % either."""
    wrong = []
    for message in _messages(po_path):
        if not message.python_format:
            continue
        english = message.id if message.pluralizable else (message.id,)
        known = {name for text in english for name in PLACEHOLDER.findall(text)}
        for index, form in enumerate(_forms(message)):
            source = english[min(index, len(english) - 1)]
            used = set(PLACEHOLDER.findall(form))
            first_of_plural = message.pluralizable and index == 0
            required = set() if first_of_plural else set(PLACEHOLDER.findall(source))
            if not required <= used <= known or "%" in PLACEHOLDER.sub("", form).replace("%%", ""):
                wrong.append((_name(message), index, form))
    assert wrong == []


def test_french_typography_puts_a_no_break_space_before_double_punctuation():
    """U+00A0 (as Django's French number format) before : ; ? ! and %, inside « »; never a
    plain or a narrow no-break space there."""
    wrong = []
    for message in _messages(FRENCH):
        for form in _forms(message):
            text = PLACEHOLDER.sub("X", form)
            if message.python_format:
                text = text.replace("%%", "%")
            if (
                "\u202f" in text
                or re.search(rf"(?<!{NBSP})[:;?!](?=\s|$)", text)
                or re.search(r"[\w ]%", text)
                or re.search(rf"«(?!{NBSP})|(?<!{NBSP})»", text)
            ):
                wrong.append((_name(message), form))
    assert wrong == []


@each_catalogue
def test_the_committed_mo_is_compiled_from_the_po(po_path):
    # given the .po's messages
    messages = _messages(po_path)
    mo_path = po_path.with_suffix(".mo")
    # when the .mo next to it is loaded as Django loads it
    with mo_path.open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    # then it has the .po's plural rule, and each message, each plural form, each context is
    # looked up as the .po says (else: make messages)
    assert compiled.info()["plural-forms"] == _po(po_path).plural_forms
    a_number_for = {}  # plural form index -> an n that selects it
    for n in range(200):
        a_number_for.setdefault(compiled.plural(n), n)
    expected, found = {}, {}
    for message in messages:
        context = message.context
        if message.pluralizable:
            singular, plural = message.id
            for index, form in enumerate(_forms(message)):
                n = a_number_for[index]
                expected[(context, singular, index)] = form
                found[(context, singular, index)] = (
                    compiled.npgettext(context, singular, plural, n)
                    if context
                    else compiled.ngettext(singular, plural, n)
                )
        else:
            expected[(context, message.id)] = message.string
            found[(context, message.id)] = (
                compiled.pgettext(context, message.id) if context else compiled.gettext(message.id)
            )
    assert found == expected


@each_catalogue
def test_the_committed_mo_holds_nothing_else(po_path):
    with po_path.with_suffix(".mo").open("rb") as mo:
        compiled = read_mo(mo)
    in_mo = {_key(m): _forms(m) for m in compiled if m.id}
    in_po = {_key(m): _forms(m) for m in _messages(po_path)}
    assert in_mo == in_po
