"""Writes tests/annotation/pii_corpus_heldout.jsonl: a second, independent corpus (issue 15, held out).

Written before the detectors were run on it, with formats the first corpus (pii_corpus_make.py) does
not use: e-mails with +tags and deep subdomains, phones in the national formats of many countries with
extensions, dots, parentheses and 00/+ international prefixes, cards of several networks grouped with
spaces or dashes, IBANs of other countries with and without spaces, IPv4/IPv6 in other contexts, SSNs,
secrets (sk-, sk-proj-, AKIA, ghp_, github_pat_, xoxb-, private-key blocks, JWTs, long random tokens),
and look-alikes. Seeded: `python tests/annotation/pii_corpus_heldout_make.py` rewrites the same file.
"""
import json
import random
import string

rng = random.Random(2026)
rows = []


def pos(kind, value, template):
    rows.append({"text": template.format(v=value), "pii": [{"kind": kind, "value": value}]})


def look(what, text):
    rows.append({"text": text, "pii": [], "lookalike": what})


def rand(chars, n):
    return "".join(rng.choice(chars) for _ in range(n))


def luhn_complete(prefix, length):
    body = prefix + rand(string.digits, length - len(prefix) - 1)
    for d in "0123456789":
        s = body + d
        total = 0
        for i, ch in enumerate(reversed(s)):
            n = int(ch)
            if i % 2:
                n = n * 2 - 9 if n > 4 else n * 2
            total += n
        if total % 10 == 0:
            return s


def iban(cc, bban):
    check = 98 - int("".join(str(int(c, 36)) for c in bban + cc + "00")) % 97
    return f"{cc}{check:02d}{bban}"


# --- e-mail: +tags, subdomains, digits, hyphens, quotes around, at sentence ends -----------------
emails = ["peter.parker+spam@mail.dailybugle.example.com", "billing+2024-q3@eu.accounts.example.org",
          "x_y-z.123@dept.cs.university.edu", "first.m.last@sub1.sub2.example.co.nz", "tom+a+b@example.io",
          "a.b@c-d.example.info", "help-desk@support.example.com.au", "user.name+filter@googlemail.com",
          "ml-ops+alerts@team.example.ai", "maria.lopez92@correo.example.mx", "root+cron@srv-01.example.net",
          "HR.Department@Example.COM", "o.reilly@publisher.example.uk", "n.nakamura@example.ne.jp",
          "jdoe+newsletter@lists.example.edu", "sales.eu+leads@crm.eu-west.example.com",
          "a@b.cd", "wei.zhang@example.com.cn", "e.kowalski+faktury@firma.example.pl", "nobody+x@localhost.example"]
TE = ['"{v}" wrote:', "<{v}>", "cc: {v}; bcc: none", "Forwarded from {v}.", "mailto:{v}",
      "Reply-To: {v}", "email me ({v}) please", "Owner - {v}"]
for i, e in enumerate(emails):
    pos("email", e, TE[i % len(TE)])

# --- phones: national formats of many regions, extensions, dots, parentheses, 00 prefixes -------
phones = [
    "020 7946 0958", "07700 900 461", "+44 (0)20 7946 0123", "0044 20 7946 0958",       # GB
    "030 901820", "+49 (0) 30 12345678", "0049 89 1234567", "0171 1234567",              # DE
    "01 42 68 53 00", "06 12 34 56 78", "+33 6 12 34 56 78", "0033 1 42 68 53 00",      # FR
    "098765 43210", "+91-98765-43210",                                                   # IN
    "03-1234-5678", "090-1234-5678", "+81 90 1234 5678",                                 # JP
    "(02) 9374 4000", "0412 345 678", "+61 412 345 678",                                 # AU
    "06 6982 1234", "+39 347 123 4567",                                                  # IT
    "912 345 678", "+34 612 34 56 78",                                                   # ES
    "020-123 4567", "+31 6 12345678",                                                    # NL
    "(11) 98765-4321", "+55 (21) 2345-6789",                                             # BR
    "+52 55 1234 5678", "+27 82 123 4567", "+65 6123 4567", "+971 50 123 4567",
    "+86 138 0013 8000", "+82 10-1234-5678", "+353 87 123 4567", "+46 70 123 45 67",
    "(415) 555-2671 ext. 204", "415.555.2671 x12", "+1 415 555 2671 ext 3",
    "+1.212.555.0199", "1 (800) 555-0142", "(646) 555 0199",
]
TPH = ["Ring me on {v}.", "tel: {v}", "Mobil: {v}", "Tél. {v}", "Telefon {v}", "my number is {v}",
       "Call {v} for support", "contact {v} (office)", "Phone {v}"]
for i, p in enumerate(phones):
    pos("phone", p, TPH[i % len(TPH)])

# --- cards of several networks, grouped with spaces or dashes ----------------------------------
cards = []
for prefix, length in [("4", 16), ("53", 16), ("2720", 16), ("34", 15), ("37", 15), ("6011", 16), ("644", 16),
                       ("3528", 16), ("36", 14), ("4", 16), ("51", 16), ("65", 16)]:
    for _ in range(2):
        cards.append(luhn_complete(prefix, length))


def card_grouped(c, sep):
    if len(c) == 15:  # Amex 4-6-5
        return sep.join((c[:4], c[4:10], c[10:]))
    if len(c) == 14:  # Diners 4-6-4
        return sep.join((c[:4], c[4:10], c[10:]))
    return sep.join(c[i:i + 4] for i in range(0, len(c), 4))


TCA = ["Pay with {v} please", "card: {v} (expires 11/28)", "The number on the card is {v}", "Kartennummer {v}",
       "billing card {v}."]
for i, c in enumerate(cards):
    pos("card", card_grouped(c, " " if i % 2 else "-"), TCA[i % len(TCA)])

# --- IBANs of other countries, with and without spaces -----------------------------------------
ibans = [iban("DE", "500105175407324931"), iban("GB", "BARC20000055779911"), iban("FR", "30006000011234567890189"),
         iban("ES", "00491500051234567892"), iban("IT", "S0300203280000400162854"), iban("NL", "RABO0123456789"),
         iban("BE", "096123456769"), iban("AT", "6119043002345732"), iban("CH", "04835012345678009"),
         iban("IE", "BOFI90001712345678"), iban("PL", "249010140000071219812874"),
         iban("SE", "12000000012345678901"), iban("DK", "50002222222222"), iban("FI", "21421000049513"),
         iban("NO", "93861111794"), iban("PT", "000700000012345678952"), iban("GR", "01720250005250077812345"),
         iban("HR", "10010051863000160"), iban("SI", "263300012039086"), iban("LT", "1000011101001000"),
         iban("EE", "2200221020145685"), iban("CY", "002001280000001200527600"),
         iban("AE", "0331234567890123456"), iban("IL", "0108000000099999999"), iban("KW", "CBKU0000000000001234560101")]
TIB = ["Überweisung an {v}", "Our bank details: {v}.", "IBAN {v} (BIC on request)", "pay into {v}", "to {v}"]
for i, b in enumerate(ibans):
    v = " ".join(b[j:j + 4] for j in range(0, len(b), 4)) if i % 2 == 0 else b
    pos("iban", v, TIB[i % len(TIB)])

# --- IP addresses ------------------------------------------------------------------------------
ips = ["81.2.69.142", "192.0.2.235", "10.20.30.40", "172.31.0.2", "198.18.0.1", "62.210.16.6", "185.199.108.153",
       "2001:db8:abcd:12::5", "fe80::a00:27ff:fe4e:66a1", "2a03:2880:f12f:83:face:b00c::25de",
       "2001:4860:4860::8888", "::ffff:10.0.0.5", "2620:fe::fe", "fd00::1:2", "2001:db8:85a3::8a2e:370:7334",
       "203.0.113.254", "100.100.100.100", "11.22.33.44", "2001:DB8:0:0:8:800:200C:417A", "240e:3b0::1"]
TIP = ["Failed login from {v}", "X-Forwarded-For: {v}", "nameserver {v}", "ping {v}", "host={v}",
       "banned {v} for 24h"]
for i, ip in enumerate(ips):
    pos("ip", ip, TIP[i % len(TIP)])

# --- US SSNs -----------------------------------------------------------------------------------
ssns = ["132-54-7689", "401-23-5581", "587-66-1243", "212-78-9034", "305-11-4472", "618-42-0096",
        "749-25-3310", "058-73-2219", "227 46 8831", "363-08-5127", "499-61-7770", "120-09-4458",
        "676-32-1108", "543 21 0987", "731-55-6602", "084-29-3316", "262-87-4409", "418-60-2295",
        "355-44-1290", "190-72-3381"]
TSS = ["SSN {v}", "Social Security No. {v}", "her SSN: {v}", "SSN#{v}", "(ssn {v})"]
for i, s in enumerate(ssns):
    pos("ssn", s, TSS[i % len(TSS)])

# --- secrets -----------------------------------------------------------------------------------
alnum = string.ascii_letters + string.digits
up = string.ascii_uppercase + string.digits
secrets = ["sk-" + rand(alnum, 48), "sk-proj-" + rand(alnum + "_-", 120), "sk-proj-" + rand(alnum, 56),
           "AKIA" + rand(up, 16), "AKIA" + rand(up, 16), "ghp_" + rand(alnum, 36), "ghp_" + rand(alnum, 36),
           "github_pat_11" + rand(up, 20) + "_" + rand(alnum, 59), "xoxb-" + rand(string.digits, 11) + "-" +
           rand(string.digits, 13) + "-" + rand(alnum, 24), "xoxp-" + rand(string.digits, 12) + "-" + rand(string.digits, 12)
           + "-" + rand(string.digits, 13) + "-" + rand("0123456789abcdef", 32),
           "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTcwMDAwMDAwMH0." + rand(alnum + "_-", 86),
           "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjoiYm9iIn0." + rand(alnum + "_-", 43),
           rand(alnum, 36), rand(alnum, 50), rand(alnum + "_-", 40), rand(alnum, 33)]
TSE = ["curl -H 'Authorization: Bearer {v}' https://api.example.com", "key = \"{v}\"", "aws_access_key_id {v}",
       "Leaked: {v}", "GITHUB_TOKEN={v}", "set it to {v} and restart", "bearer {v}"]
for i, s in enumerate(secrets):
    pos("secret", s, TSE[i % len(TSE)])
pem = ("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI" + rand(alnum + "+/", 55) + "\n" + rand(alnum + "+/", 40)
       + "==\n-----END EC PRIVATE KEY-----")
pos("secret", pem, "Config:\n{v}\n")
pem2 = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(rand(alnum + "+/", 64) for _ in range(3)) + "\n-----END PRIVATE KEY-----"
pos("secret", pem2, "pasted: {v} (oops)")
pem3 = "-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + rand(alnum + "+/", 64) + "\n-----END ENCRYPTED PRIVATE KEY-----"
pos("secret", pem3, "{v}")

# several kinds in one text
rows.append({"text": f"Name: A. Person, mail a.person+work@corp.example.com, mobile 07700 900 461, "
                     f"IBAN {ibans[1]}, IP 81.2.69.142, SSN 401-23-5581.",
             "pii": [{"kind": "email", "value": "a.person+work@corp.example.com"},
                     {"kind": "phone", "value": "07700 900 461"}, {"kind": "iban", "value": ibans[1]},
                     {"kind": "ip", "value": "81.2.69.142"}, {"kind": "ssn", "value": "401-23-5581"}]})

# --- look-alikes ---------------------------------------------------------------------------------
for text in ["Order no. 302-7719925-4410 shipped", "Bestellnummer 1000234987", "order #A-55-1200-77",
             "Invoice 2025/000417", "RMA 44501-2239", "Auftrag 7788 2231 0045", "Reference 4567 8901 2345",
             "your booking ref is 8842 1190 33", "ticket 2025-11-30-0042", "claim number 0098 7766 5544",
             "Order 5102 3344 5566 7788 is on its way", "parcel 00340434161234567890", "item 12 345 678",
             "receipt no 000123456789", "Transaction ID 7301 9921 0044 1276", "PNR 4K9L2Z",
             "quote Q-2025-00981", "ledger entry 11-22-3333", "batch 2025.11.30.1", "store #0421, lane 7"]:
    look("order number", text)
for text in ["Released 30.11.2025", "on 2025-11-30 at 17:45", "01/12/2025 09:00", "11-30-2025", "Sun, 30 Nov 2025",
             "2025-11-30T17:45:00+01:00", "week 48/2025", "fiscal 2024-2025", "FY25 Q4", "1701388800000",
             "between 1990-1995", "dated 30/11/25"]:
    look("date", text)
for text in ["pip install torch==2.13.0", "tested on Ubuntu 24.04.1 LTS", "OpenSSL 3.0.13 30 Jan 2024",
             "Java 21.0.2+13-58", "postgres 16.4 (Debian 16.4-1.pgdg120+2)", "gcc 13.2.0", "rustc 1.83.0",
             "version=10.4.12.1", "v3.12.0a7", "iOS 17.6.1", "Windows 10.0.22631.4460", "app 2.45.1 (build 20451)",
             "ver 192.168.0 of the doc"]:
    look("version string", text)
for text in ["ISBN 978-0-596-52068-7", "ISBN-13 978-1-4028-9462-6", "ISBN 0-19-852663-6", "isbn: 9781449355739",
             "ISBN 978 1 59327 584 6", "ISSN 2049-3630", "EAN 4006381333931", "UPC 036000291452"]:
    look("isbn", text)
for text in ["HEAD is now at 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709",
             "blake2 786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce",
             "etag \"33a64df551425fcc55e4d42a148795d9f25f89d4\"", "Digest: sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4",
             "crc32 cbf43926", "object id 5f2b8c1e9a7d4e3f"]:
    look("code hash", text)
for text in ["room 101, floor 3", "call me maybe", "phone it in", "the number 42", "email is down today",
             "AKIAxxxxxxxxxxxxxxxx placeholder", "sk-...redacted", "ghp_XXXXXXXX", "-----BEGIN CERTIFICATE-----",
             "see @jdoe", "mailto: (none)", "IP address: unknown", "0.0.0", "1.2.3", "255.255.255.255.1",
             "12:34:56:78", "port 5432 on db", "ETA 10-15 min", "score: 98.7%", "size 1920x1080",
             "ratio 1:2:3", "100-200-300", "route 66", "HTTP 404", "PR #1234", "issue 15", "step 3 of 10",
             "x = 1234 * 5678", "array[12][34]", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF", "0000-0000-0000-0000",
             "1111 2222 3333 4444", "the quick brown fox", "user_id=12345678", "id 9f8e7d6c-5b4a-3210-fedc-ba9876543210",
             "font-size: 14px; line-height: 1.5", "SELECT * FROM users WHERE id = 123456789",
             "ThisIsALongCamelCaseFunctionNameWithoutDigits", "base64 aGVsbG8gd29ybGQ=", "GB 12345 road"]:
    look("other", text)

if __name__ == "__main__":
    with open("tests/annotation/pii_corpus_heldout.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(len(rows))
