"""PII detectors and masking; no Django here (the policy is in services.py).

Kinds: email, phone, card, iban, ip, ssn, secret. Each detector is a regular expression that finds
candidates plus a validator that keeps only real ones: phone numbers are parsed and validated by
`phonenumbers` (Google's libphonenumber); payment cards pass the Luhn check and start with a known
issuer prefix; IBANs have their country's length and the ISO 7064 mod-97 check; IP addresses go
through `ipaddress`; SSNs follow the SSA's allocation rules. Secrets are known key shapes (OpenAI/
Anthropic `sk-`, AWS `AKIA`/`ASIA`, GitHub `ghp_`…, Slack, Google, Stripe, JWTs, PEM private-key
blocks) and long high-entropy tokens (mixed case and digits, Shannon entropy per character above a
threshold, so hex hashes and UUIDs do not count).

Why not Presidio or scrubadub: presidio-analyzer installs spaCy as a hard dependency and its engine
expects a downloaded language model (workers have no internet); its pattern recognizers are the
same regex + checksum idea as here. scrubadub's last release is from 2023 and brings its own NLP
stack. `phonenumbers` is the maintained library for the hard part (international phone formats).

Look-alikes the validators are there to refuse (tests/annotation/pii_corpus.jsonl): order numbers,
dates and times, version strings, ISBNs, git hashes, UUIDs, MAC addresses, C++ `a::b` names.
"""
import ipaddress
import math
import re
from collections import Counter
from dataclasses import dataclass

import phonenumbers

KINDS = ("email", "phone", "card", "iban", "ip", "ssn", "secret")
PLACEHOLDERS = {kind: f"[{kind.upper()}]" for kind in KINDS}


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    value: str


# --- secrets with a known shape (checked first: a key must not be half-masked as something else) ---
_KEY_BLOCK = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?"
                        r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)", re.S)
_KNOWN_SECRETS = re.compile(r"""
    (?<![\w-])(?:
      sk-(?:proj-|ant-(?:api\d\d-)?|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}   # OpenAI / Anthropic
    | (?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}                            # Stripe
    | (?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}                         # AWS access key ids
    | (?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}                              # GitHub tokens
    | github_pat_[A-Za-z0-9_]{22,}
    | glpat-[A-Za-z0-9_\-]{20,}                                             # GitLab
    | xox[abposr]-[A-Za-z0-9-]{10,}                                         # Slack
    | AIza[0-9A-Za-z_\-]{35}                                                # Google API keys
    | hf_[A-Za-z0-9]{30,}                                                   # Hugging Face
    | eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}          # JWTs
    )(?![\w-])""", re.X)
# A long run of token characters; kept only with mixed case, digits and high entropy (see _high_entropy).
_TOKEN = re.compile(r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{32,}={0,2}(?![A-Za-z0-9+/=_\-])")
ENTROPY_MIN_BITS = 4.0

# Unicode letters allowed (josé@exämple.de); the top-level domain is letters only, so npm's name@1.2.3 is no e-mail.
_EMAIL = re.compile(r"(?<![\w.+-])[^\W_][\w.%+'-]{0,63}@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+"
                    r"[^\W\d_]{2,24}(?![\w-])")
# A value assigned to a secret-sounding name (password: …, api_key=…), whatever its shape.
_ASSIGNED_SECRET = re.compile(r"""(?i)\b(?:api[_-]?key|secret(?:[_-]?key)?|access[_-]?key|auth[_-]?token|token|"""
                              r"""password|passwd|pwd|client[_-]?secret)\b["']?\s*[:=]\s*["']?([^\s"',;]{8,})""")
_CARD = re.compile(r"(?<![\w.-])\d(?:[ -]?\d){12,18}(?![\w]|[.-]\d)")
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[068]|35|6(?:011|5|4[4-9]|2))")
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2})(\d{2})(?=[ ]?[A-Z0-9])")
_SSN = re.compile(r"(?<![\w-])(?!000|666|9\d\d)(\d{3})([- ])(?!00)(\d{2})\2(?!0000)(\d{4})(?![\w-])")
_SSN_BARE = re.compile(r"(?i)\b(?:ssn|social security(?: number| no\.?)?)\s*(?:#|no\.?|number)?\s*[:=]?\s*"
                       r"((?!000|666|9\d\d)\d{3}(?!00)\d{2}(?!0000)\d{4})\b")
_IPV4 = re.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
                   r"(?![\w]|\.\d)")
_VERSION_BEFORE = re.compile(r"(?i)\b(?:v|version|release|build|ver\.?|firmware)\s*[=:]?\s*$")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?"
                   r"(?:/\d{1,3})?(?![\w:]|\.\d)")
_NANP_SHAPE = re.compile(r"^(?:\+?1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}$")
_REFERENCE_CONTEXT = re.compile(r"(?i)\b(?:order|invoice|inv|ref|reference|id|sku|part|case|ticket|account|acct|"
                                r"po|serial|tracking|confirmation|receipt|customer|item|batch|lot|build|claim|booking|policy|"
                                r"membership|"
                                r"isbn(?:-1[03])?|issn|ean|upc|doi)\b[^\n]{0,16}$")
# Shapes that are not phone numbers whatever the region reads into them: dates (01-02-2025, 09/27,
# 2024-01-15), hyphenated ISBN-10s (0-306-40615-2: four groups, a single check character last) and the
# US SSN shape 123-45-6789 (the SSN detector's, or a look-alike of one).
_NOT_PHONE_SHAPE = re.compile(r"^(?:\d{1,4}[-/.]\d{1,2}(?:[-/.]\d{2,4})?|\d{1,5}-\d{1,7}-\d{1,7}-[\dX]|"
                              r"\d{3}-\d{2}-\d{4,5})$")
PHONE_MIN_DIGITS = 7  # shorter ones (911, extensions, "the number 42") identify no one
# English and the words of the default regions' languages (Telefon, Tél., móvil, cellulare, Handy, 電話…)
_PHONE_CONTEXT = re.compile(r"(?i)(?:\b(?:call|phone|tel|telephone|mobile|cell|fax|sms|text|whatsapp|contact|"
                            r"reach|dial|number|ring|mobil|handy|telefon|telefone|telefono|teléfono|tél|"
                            r"téléphone|portable|móvil|celular|cellulare|numero|número|nummer|rufnummer)\b|"
                            r"電話|携帯|手机|电话)[^\n]{0,24}$")

IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def iban_ok(compact: str) -> bool:
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def entropy_bits(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _high_entropy(token: str) -> bool:
    core = token.strip("=-_")
    if len(core) < 32:
        return False
    classes = sum((any(c.islower() for c in core), any(c.isupper() for c in core), any(c.isdigit() for c in core)))
    return classes == 3 and entropy_bits(core) >= ENTROPY_MIN_BITS


def _cards(text: str):
    for m in _CARD.finditer(text):
        raw = m.group()
        digits = re.sub(r"\D", "", raw)
        separators = set(re.findall(r"[ -]", raw))
        if len(separators) > 1 or not 13 <= len(digits) <= 19:
            continue
        if _CARD_PREFIX.match(digits) and luhn_ok(digits):
            yield m.start(), m.end()


def _ibans(text: str):
    for m in _IBAN_START.finditer(text):
        length = IBAN_LENGTHS.get(m.group(1))
        if not length:
            continue
        i, compact = m.start(), ""
        while i < len(text) and len(compact) < length:
            ch = text[i]
            if ch.isascii() and (ch.isdigit() or ch.isupper()):
                compact += ch
            elif ch != " " or (compact and text[i - 1] == " "):
                break
            i += 1
        if len(compact) == length and not (i < len(text) and text[i].isalnum()) and iban_ok(compact):
            yield m.start(), i


def _ipv6(text: str):
    for m in _IPV6.finditer(text):
        value = m.group().split("/")[0]
        if len(value) < 3 or not any(c.isdigit() for c in value):
            continue
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            continue
        yield m.start(), m.end()


def _ipv4(text: str):
    for m in _IPV4.finditer(text):
        if not _VERSION_BEFORE.search(text[max(0, m.start() - 12):m.start()]):
            yield m.start(), m.end()


def _ssns(text: str):
    for m in _SSN.finditer(text):
        yield m.start(), m.end()
    for m in _SSN_BARE.finditer(text):
        yield m.start(1), m.end(1)


DEFAULT_PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN", "JP", "AU", "IT", "ES", "NL", "BR", "MX", "CN")


_DIGIT_RUN = re.compile(r"\d(?:[\s().\-/]{0,3}\d){%d,}" % (PHONE_MIN_DIGITS - 1))


def _valid_spans(text: str, region: str) -> set[tuple[int, int]]:
    """Spans libphonenumber's stricter VALID matching finds (valid number, national prefix where required)."""
    return {(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, region,
                                                                       leniency=phonenumbers.Leniency.VALID)}


def _phones(text: str, regions: tuple[str, ...]):
    """Numbers libphonenumber finds possible in any of `regions` (national formats differ: 020 7946 0958
    is London only when read as GB); kept when they are valid for one of them, or written the way phone
    numbers are (+country code, the North American (555) 123-4567 shape) — fictional 555 numbers are
    not "valid" but are still someone's way of writing a phone. A bare run of digits is as likely an
    order or account number: it counts only after a word such as "call" or "phone"; a number after a
    word such as "order" or "invoice" counts only with a + country code. Where the regions read
    overlapping numbers, the longest wins (0049 89 1234567 as a German number, not 1234567)."""
    if not _DIGIT_RUN.search(text):  # cheap: no PHONE_MIN_DIGITS digits close together, no phone number
        return
    kept: dict[tuple[int, int], bool] = {}
    for region in regions:
        valid = None
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE):
            start, end, raw = match.start, match.end, match.raw_string
            before = text[start - 1] if start else " "
            if before.isalnum() or before in "-/#_":  # part of a reference such as INV-2024-000123
                continue
            if sum(ch.isdigit() for ch in raw) < PHONE_MIN_DIGITS or _NOT_PHONE_SHAPE.match(raw):
                continue
            if raw.startswith("+"):
                keep = True
            elif _REFERENCE_CONTEXT.search(text[max(0, start - 30):start]):
                keep = False
            elif _PHONE_CONTEXT.search(text[max(0, start - 40):start]):
                keep = True
            elif raw.isdigit():
                keep = False
            elif _NANP_SHAPE.match(raw):
                keep = True
            else:  # otherwise only what libphonenumber's stricter VALID matching (grouping too) finds
                valid = _valid_spans(text, region) if valid is None else valid
                keep = (start, end) in valid
            kept[(start, end)] = kept.get((start, end), False) or keep
    taken: list[tuple[int, int]] = []
    for start, end in sorted(kept, key=lambda span: span[0] - span[1]):  # longest first
        if kept[(start, end)] and not any(start < e and s < end for s, e in taken):
            taken.append((start, end))
    yield from taken


def _regex(pattern):
    return lambda text: ((m.start(), m.end()) for m in pattern.finditer(text))


def _assigned(text: str):
    for m in _ASSIGNED_SECRET.finditer(text):
        value = m.group(1)
        # not a value: ******** (already hidden), [SECRET] (a placeholder), ${VAR} / $VAR (a reference)
        if any(c.isalnum() for c in value) and not value.startswith(("[", "$", "{", "<")):
            yield m.start(1), m.end(1)


def _tokens(text: str):
    for m in _TOKEN.finditer(text):
        if _high_entropy(m.group()):
            yield m.start(), m.end()


def _regions(phone_region) -> tuple[str, ...]:
    if not phone_region:
        return DEFAULT_PHONE_REGIONS
    return (phone_region,) if isinstance(phone_region, str) else tuple(phone_region)


def find(text: str, *, phone_region: str | tuple[str, ...] | None = None) -> list[Finding]:
    """Every PII value in `text`, in order, without overlaps (an earlier detector below wins a span).
    `phone_region`: the region(s) national phone numbers are read in (default DEFAULT_PHONE_REGIONS)."""
    regions = _regions(phone_region)
    detectors = [
        ("secret", _regex(_KEY_BLOCK)), ("secret", _regex(_KNOWN_SECRETS)), ("email", _regex(_EMAIL)),
        ("iban", _ibans), ("card", _cards), ("ssn", _ssns), ("ip", _ipv6), ("ip", _ipv4),
        ("phone", lambda t: _phones(t, regions)), ("secret", _assigned), ("secret", _tokens),
    ]
    taken: list[Finding] = []
    if not text:
        return taken
    for kind, detect in detectors:
        for start, end in detect(text):
            if not any(start < f.end and f.start < end for f in taken):
                taken.append(Finding(kind, start, end, text[start:end]))
    return sorted(taken, key=lambda f: f.start)


def mask(text: str, *, phone_region: str | tuple[str, ...] | None = None) -> tuple[str, Counter]:
    """`text` with every PII value replaced by its placeholder ([EMAIL], [PHONE], ...), and counts per kind."""
    findings = find(text, phone_region=phone_region)
    if not findings:
        return text, Counter()
    parts, last = [], 0
    for f in findings:
        parts += [text[last:f.start], PLACEHOLDERS[f.kind]]
        last = f.end
    parts.append(text[last:])
    return "".join(parts), Counter(f.kind for f in findings)


def partly_hidden(value: str, kind: str) -> str:
    """What an admin page shows of a value: enough to recognise it, not enough to use it
    (j***@e***.com, +44 *** 58, ****-1111)."""
    if kind == "email":
        local, _, domain = value.partition("@")
        host, _, tld = domain.rpartition(".")
        return f"{local[:1]}***@{host[:1]}***.{tld}"
    if kind == "secret":
        return value[:4] + "…" + f"({len(value)} chars)"
    keep = 2 if len(value) > 8 else 1
    return value[:keep] + "***" + value[-keep:]
