"""Supported locales, choosing one for a recipient, and the per-locale message catalogs.

Each locale's strings live in `messages/<locale>.yaml` (nested keys, `{placeholder}` fields). English is the
reference: every other catalog must hold exactly its keys with the same placeholders, which `catalog()` checks when
it first loads a locale, so a missing translation fails loudly instead of showing a key to a customer.

Locale matching works on the primary language subtag, through `LANGUAGE_LOCALES`:

- `de-DE`, `de-AT`, `de-CH` -> `de` (one German catalog; Swiss spelling differences are minor).
- `pt-BR`, `pt-PT`, `pt` -> `pt-BR`: European Portuguese readers understand Brazilian Portuguese without effort,
  which serves them better than falling back to English.
- `zh`, `zh-CN`, `zh-Hans`, `zh-TW`, `zh-Hant` -> `zh` (Simplified Chinese). Traditional-script readers read it,
  if less comfortably; add a `zh-Hant` catalog and a row in `LANGUAGE_LOCALES` when that market matters.
"""

from __future__ import annotations

import string
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from babel import Locale
from babel.languages import get_official_languages

from tradelane.enums import TrackingStatus

SUPPORTED_LOCALES: tuple[str, ...] = ("en", "de", "fr", "es", "ja", "zh", "pt-BR", "ar")
DEFAULT_LOCALE = "en"

LANGUAGE_LOCALES: dict[str, str] = {
    "en": "en", "de": "de", "fr": "fr", "es": "es", "ja": "ja", "zh": "zh", "pt": "pt-BR", "ar": "ar",
}
"""Primary language subtag (lower case) -> the supported locale that serves it."""


def match_locale(tag: str | None) -> str | None:
    """The supported locale serving a BCP 47 tag (`de-DE`, `pt_PT`, `zh-Hant-TW`), or None when none does."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return LANGUAGE_LOCALES.get(primary)


def resolve_locale(tag: str) -> str:
    """Like `match_locale`, for render functions: an unsupported tag is an error naming the choices.

    Raises:
        ValueError: no supported locale serves `tag`.
    """
    found = match_locale(tag)
    if found is None:
        raise ValueError(f"locale: '{tag}' is not supported (supported: {', '.join(SUPPORTED_LOCALES)}); "
                         "choose one with negotiate_locale()")
    return found


def _accept_language(header: str) -> list[str]:
    """The language tags of an Accept-Language header, best first (RFC 9110 q-values, ties keep header order)."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    # A malformed weight makes the entry unusable; the other entries still count.
                    q = 0.0
        if tag.strip() and 0.0 < q <= 1.0:
            weighted.append((-q, position, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def accept_language_tags(header: str | None) -> list[str]:
    """The language tags an Accept-Language header names, best first by q-value (`fr-CH,fr;q=0.9` ->
    `['fr-CH', 'fr']`); entries with q=0 or a malformed weight are left out."""
    return _accept_language(header or "")


def negotiate_locale(recipient_locale: str | None = None, accept_language: str | None = None,
                     country: str | None = None) -> str:
    """The locale to write to a recipient in.

    Args:
        recipient_locale: The locale the merchant gave for the recipient (`de-DE`); wins when supported.
        accept_language: The browser's Accept-Language header (tracking page); its best supported entry by q-value.
        country: The destination country (ISO alpha-2); its main official language, if supported.

    Returns:
        One of `SUPPORTED_LOCALES`; `en` when nothing else matches.
    """
    found = match_locale(recipient_locale)
    if found:
        return found
    for tag in _accept_language(accept_language or ""):
        found = match_locale(tag)
        if found:
            return found
    if country:
        # CLDR lists a territory's official languages by speaker population; only the first counts as "main".
        languages = get_official_languages(country.upper(), de_facto=True)
        found = match_locale(languages[0]) if languages else None
        if found:
            return found
    return DEFAULT_LOCALE


@cache
def babel_locale(locale: str) -> Locale:
    """Babel's locale object for a supported locale (`pt-BR` -> `pt_BR`)."""
    return Locale.parse(resolve_locale(locale), sep="-")


def text_direction(locale: str) -> Literal["ltr", "rtl"]:
    """Writing direction of a locale, from CLDR."""
    return "rtl" if babel_locale(locale).text_direction == "rtl" else "ltr"


def placeholders(text: str) -> set[str]:
    """The `{name}` fields of a catalog string."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{path}."))
        elif isinstance(value, str):
            flat[path] = value
        else:
            raise ValueError(f"{path}: expected a string or a mapping, got {type(value).__name__}")
    return flat


@cache
def load_strings(locale: str) -> dict[str, str]:
    """The raw strings of `messages/<locale>.yaml`, flattened to dotted keys, unchecked (see `catalog`)."""
    source = resources.files("tradelane.notify").joinpath("messages", f"{locale}.yaml")
    try:
        return _flatten(yaml.safe_load(source.read_text(encoding="utf-8")))
    except ValueError as error:
        raise ValueError(f"messages/{locale}.yaml: {error}") from error


class Catalog:
    """The strings of one locale, looked up by dotted key (`notice.shipped.subject`)."""

    def __init__(self, locale: str, strings: dict[str, str]) -> None:
        self.locale = locale
        self.strings = strings

    def text(self, key: str, **values: object) -> str:
        """The string under `key` with its placeholders filled.

        Raises:
            KeyError: the key is not in the catalog (a programming error: catalogs are checked on load).
        """
        try:
            template = self.strings[key]
        except KeyError:
            raise KeyError(f"messages/{self.locale}.yaml has no key '{key}'") from None
        return template.format_map(values)


def check_catalog(locale: str, strings: dict[str, str], reference: dict[str, str]) -> list[str]:
    """Problems of a catalog against the English reference: missing or extra keys, differing placeholders."""
    problems = [f"{locale}: missing key '{key}'" for key in reference if key not in strings]
    problems += [f"{locale}: extra key '{key}'" for key in strings if key not in reference]
    for key in reference.keys() & strings.keys():
        want, got = placeholders(reference[key]), placeholders(strings[key])
        if want != got:
            problems.append(f"{locale}: '{key}' has placeholders {sorted(got)}, English has {sorted(want)}")
    return sorted(problems)


@cache
def catalog(locale: str) -> Catalog:
    """The checked message catalog of a supported locale (loaded and checked once per process).

    Raises:
        ValueError: the locale is not supported, or its catalog does not match the English one.
    """
    locale = resolve_locale(locale)
    strings = load_strings(locale)
    problems = check_catalog(locale, strings, load_strings(DEFAULT_LOCALE))
    if problems:
        raise ValueError(f"messages/{locale}.yaml does not match messages/en.yaml: {'; '.join(problems)}")
    return Catalog(locale, strings)


def status_label(status: TrackingStatus, locale: str) -> str:
    """The customer-facing words for a tracking status in a locale (`in_transit`, `de` -> `Unterwegs`).

    Raises:
        ValueError: `status` is not a `TrackingStatus` value, or the locale is not supported.
    """
    return catalog(locale).text(f"status.{TrackingStatus(status).value}")
