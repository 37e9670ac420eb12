"""Writes tests/annotation/pii_corpus.jsonl (seeded, so the file is reproducible): python tests/annotation/pii_corpus_make.py"""
import json, random, string
random.seed(15)
rows = []
def pos(kind, value, template):
    rows.append({"text": template.format(v=value), "pii": [{"kind": kind, "value": value}]})
def look(what, text):
    rows.append({"text": text, "pii": [], "lookalike": what})

def luhn_complete(prefix, length):
    digits = prefix + "".join(random.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for d in "0123456789":
        s = digits + d
        tot = 0
        for i, ch in enumerate(reversed(s)):
            n = int(ch)
            if i % 2: n = n*2-9 if n > 4 else n*2
            tot += n
        if tot % 10 == 0: return s
def iban(cc, bban):
    chk = 98 - int("".join(str(int(c,36)) for c in bban + cc + "00")) % 97
    return f"{cc}{chk:02d}{bban}"
def grouped(s, sep=" "):
    return sep.join(s[i:i+4] for i in range(0, len(s), 4))

T = ["Please reply to {v} when you can.", "Contact: {v}", "my details are {v}, thanks", "{v}",
     "Send the invoice to {v}.", "User wrote: 'it's {v} if you need it'", "(see {v})", "Value={v};"]
emails = ["john.smith@example.com", "j@ex.io", "anna-maria+news@mail.example.co.uk", "first_last@sub.domain.org",
          "X.Y.Z@company.travel", "support@verdict.ai", "a1234@uni-mainz.de", "info@bücher.example.com".replace("ü","u"),
          "o'brien@example.ie".replace("'", ""), "ceo@startup.io", "someone.else@gmail.com", "test.user@outlook.fr",
          "m.muller@firma.ch", "dev+ci@github.example", "hello@x.co", "firstname.lastname@agency.gov",
          "jane_doe99@yahoo.co.jp", "admin@intranet.corp.example.net", "ÄNNA@example.com".replace("Ä","A"), "z@z.zz",
          "sales-team@acme-widgets.com", "r.o.b@e.org", "k8s-bot@cluster.example.dev", "ops@example.museum",
          "noreply@notifications.example.com"]
for i, e in enumerate(emails): pos("email", e, T[i % len(T)])
phones = ["+44 20 7946 0958", "+1-202-555-0143", "(415) 555-2671", "+49 30 901820", "+33 1 42 68 53 00",
          "+91 98765 43210", "+81 3-1234-5678", "+61 2 9374 4000", "415.555.2671", "+1 (646) 555-0199",
          "+34 912 345 678", "+39 06 6982 1234", "+7 495 123-45-67", "+55 11 98765-4321", "+86 10 6552 9988",
          "+27 21 123 4567", "+353 1 234 5678", "(212) 555-0175", "+46 8 123 456 78", "+31 20 123 4567",
          "+41 44 668 18 00", "+48 22 123 45 67", "202-555-0187", "+1 312 555 0134", "+82 2-312-3456",
          "555-123-4567", "(555) 555-5555", "+1 555 123 4567", "1-800-555-0199", "+44 7700 900123",
          "123-456-7890", "555.867.5309", "+1 (800) 555-0100"]
TP = ["Call me on {v} tomorrow.", "Phone: {v}", "reach the office at {v} (ext. 12)", "My mobile is {v}",
      "{v} is the hotline", "Tel {v}", "fax to {v} please", "whatsapp {v}"]
for i, p in enumerate(phones): pos("phone", p, TP[i % len(TP)])
pos("phone", "4155552671", "call me at {v} after 5")
pos("phone", "2025550143", "my phone number: {v}")
cards = []
for prefix, length in [("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16),
                       ("65", 16), ("35", 16), ("4", 13), ("36", 14), ("4", 19)]:
    for _ in range(2): cards.append(luhn_complete(prefix, length))
cards.append("4111111111111111"); cards.append("5555555555554444"); cards.append("378282246310005")
TC = ["card number {v} exp 09/27", "Charge it to {v}.", "CC: {v}", "my visa is {v}, cvv on back", "{v}"]
for i, c in enumerate(cards):
    v = grouped(c, [" ", "-", ""][i % 3]) if len(c) == 16 else c
    pos("card", v, TC[i % len(TC)])
ibans = [iban("DE", "370400440532013000"), iban("GB", "NWBK60161331926819"), iban("FR", "20041010050500013M02606"),
         iban("NL", "ABNA0417164300"), iban("ES", "21000418450200051332"), iban("IT", "X0542811101000000123456"),
         iban("CH", "00762011623852957"), iban("BE", "539007547034"), iban("AT", "1904300234573201"),
         iban("PL", "109010140000071219812874"), iban("SE", "50000000058398257466"), iban("NO", "86011117947"),
         iban("DK", "00400440116243"), iban("IE", "AIBK93115212345678"), iban("PT", "000201231234567890154"),
         iban("FI", "12345600000785"), iban("CZ", "08000000192000145399"), iban("HU", "117730161111101800000000"),
         iban("RO", "AAAA1B31007593840000"), iban("LU", "0010001234567891"), iban("GR", "01101250000000012300695"),
         iban("SA", "80000000608010167519"), iban("TR", "0006100519786457841326"), iban("BR", "00360305000010009795493P1"),
         iban("MT", "MALT011000012345MTLCAST001S")]
TI = ["IBAN: {v}", "wire it to {v} by Friday", "Bankverbindung {v}", "account {v}.", "{v}"]
for i, b in enumerate(ibans):
    v = grouped(b) if i % 2 else b
    pos("iban", v, TI[i % len(TI)])
ips = ["192.168.1.20", "10.0.0.1", "8.8.8.8", "172.16.254.3", "203.0.113.77", "255.255.255.0", "127.0.0.1",
       "100.64.12.9", "34.117.59.81", "1.1.1.1", "2001:db8::1", "fe80::1ff:fe23:4567:890a",
       "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "::1", "2606:4700:4700::1111", "::ffff:192.0.2.128",
       "2a00:1450:4001:82b::200e", "fd12:3456:789a:1::1", "198.51.100.14", "93.184.216.34", "45.33.32.156",
       "2001:db8:0:0:1:0:0:1", "169.254.10.10", "64:ff9b::192.0.2.33", "2001:db8::/32"]
TIP = ["the server at {v} is down", "ssh root@host ({v})", "Client IP {v} blocked", "GET / from {v}", "{v}",
       "allow {v} in the firewall"]
for i, ip in enumerate(ips):
    pos("ip", ip, TIP[i % len(TIP)])
pos("ip", "192.168.1.1", "the server {v}:8080 is down")
pos("ip", "2001:db8::42", "curl http://[{v}]:8080/")
ssns = ["123-45-6789", "078-05-1120", "219-09-9999", "457-55-5462", "001-01-0001", "536-22-8726", "321 54 9876",
        "665-12-3456", "772-21-0011", "404-33-1212", "189-76-5432", "523-45-6780", "612 34 5678", "234-56-7890",
        "345-67-8901", "456-78-9012", "567-89-0123", "678-90-1234", "789-01-2345", "890-12-3456"]
TS = ["SSN: {v}", "social security number {v}", "my ssn is {v}", "{v} (SSN)", "Employee SSN {v}."]
for i, s in enumerate(ssns): pos("ssn", s, TS[i % len(TS)])
pos("ssn", "123456789", "SSN: {v}"); pos("ssn", "078051120", "social security number {v}")
rng = random.Random(7)
def rand(chars, n): return "".join(rng.choice(chars) for _ in range(n))
alnum = string.ascii_letters + string.digits
secrets = ["sk-" + rand(alnum, 48), "sk-proj-" + rand(alnum + "_-", 64), "sk-ant-api03-" + rand(alnum + "_-", 80),
           "AKIA" + rand(string.ascii_uppercase + string.digits, 16), "ASIA" + rand(string.ascii_uppercase + string.digits, 16),
           "ghp_" + rand(alnum, 36), "gho_" + rand(alnum, 36), "github_pat_" + rand(alnum + "_", 60),
           "xoxb-" + rand(string.digits, 12) + "-" + rand(string.digits, 12) + "-" + rand(alnum, 24),
           "AIza" + rand(alnum + "_-", 35), "sk_live_" + rand(alnum, 24), "rk_test_" + rand(alnum, 24),
           "glpat-" + rand(alnum, 20), "hf_" + rand(alnum, 34),
           "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + rand(alnum + "_-", 43),
           rand(alnum, 40), rand(alnum + "+/", 44), rand(alnum, 32), rand(alnum, 64), rand(alnum + "_-", 48)]
TK = ["OPENAI_API_KEY={v}", "use the key {v} in the header", "token: {v}", "export AWS_ACCESS_KEY_ID={v}",
      "Authorization: Bearer {v}", "{v}"]
for i, s in enumerate(secrets): pos("secret", s, TK[i % len(TK)])
pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA" + rand(alnum + "+/", 60) + "\n" + rand(alnum + "+/", 64) + "\n-----END RSA PRIVATE KEY-----"
pos("secret", pem, "here is the key:\n{v}\nkeep it safe")
pem2 = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA" + rand(alnum + "+/", 50) + "\n-----END OPENSSH PRIVATE KEY-----"
pos("secret", pem2, "{v}")
pem3 = "-----BEGIN PRIVATE KEY-----\n" + rand(alnum + "+/", 64) + "\n-----END PRIVATE KEY-----"
pos("secret", pem3, "cat key.pem\n{v}")
pos("secret", "hunter2hunter2", "password: {v}")
pos("secret", "a1b2c3d4e5f6g7h8", "api_key={v}")
pos("secret", "Xy9!pQ2#rT", 'DB_PASSWORD="{v}"'.replace("DB_PASSWORD", "password"))
pos("email", "josé.garcía@correo.es", "escríbeme a {v}")
pos("email", "müller@bücher.de", "Kontakt: {v}")
# several kinds in one text
rows.append({"text": "Hi, I'm Jane (jane.doe@example.com, +44 20 7946 0958). Card 4111 1111 1111 1111, "
             "IBAN " + ibans[0] + ", from 192.168.0.7.",
             "pii": [{"kind": "email", "value": "jane.doe@example.com"}, {"kind": "phone", "value": "+44 20 7946 0958"},
                     {"kind": "card", "value": "4111 1111 1111 1111"}, {"kind": "iban", "value": ibans[0]},
                     {"kind": "ip", "value": "192.168.0.7"}]})

# --- look-alikes ---
for n in ["Order #4155552671 has shipped.", "Your order number is 1234567890123456.", "Invoice INV-2024-000123 is due",
          "Tracking 1Z999AA10123456784", "Ref: 202401150001", "order 98765432101 placed", "PO 4500012345",
          "ticket #8675309", "Order ID: 112-3456789-1234567", "case 00012345678",
          "Confirmation code 9981 2241 7754", "account 0012-3456-78", "Your receipt 4000 1234 5678 9010 total",
          "order 12345-67890 confirmed", "ts 1718035200", "SKU 100-2000-30", "invoice 2024-0001-17",
          "customer no. 88231-004", "part 7710-0321"]:
    look("order number", n)
for d in ["Meeting on 2024-01-15 at 10:30.", "Born 12/05/1987", "Deadline: 2023-12-31T23:59:59Z", "on 15.03.2024",
          "Due 01-02-2025", "The log says 2024-06-30 14:22:01,123", "from 1999 to 2004", "Q3 2024 results",
          "timestamp 1718035200", "at 09:45:12 UTC", "20240115", "2024/01/15 08:00"]:
    look("date", d)
for v in ["Upgrade to version 1.2.3.4 today", "Python 3.11.4 and Django 5.2.19", "v2.0.0-rc.1", "build 10.0.19041.1",
          "node v18.17.1", "release 4.0.30319.42000", "lodash@4.17.21", "numpy==2.4.6", "Chrome 120.0.6099.109",
          "firmware v1.10.2.3", "schema version 2.1", "semver ^1.2.3", "kernel 6.1.0-18-amd64"]:
    look("version string", v)
for b in ["ISBN 978-3-16-148410-0", "ISBN-10: 0-306-40615-2", "isbn 9780306406157", "ISBN 978 0 13 235088 4",
          "ISSN 0378-5955", "DOI 10.1000/182", "arXiv:2203.02155"]:
    look("isbn", b)
for g in ["commit 3f786850e387550fdab836ed7e6dc881de23001b", "git show a1b2c3d", "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
          "merged 9fceb02d0ae598e95dc970b74767f19372d61af8 into main", "md5 d41d8cd98f00b204e9800998ecf8427e",
          "docker image sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1"]:
    look("code hash", g)
for u in ["request id 123e4567-e89b-12d3-a456-426614174000", "uuid: 550e8400-e29b-41d4-a716-446655440000",
          "trace 7f1c0b6a-3e0d-4b59-9b4a-2f0e5c1d8a77"]:
    look("uuid", u)
for x in ["MAC 00:1A:2B:3C:4D:5E", "std::vector<int> v;", "use Foo::Bar::baz;", "ratio 16:9 and 4:3",
          "time 12:30:45", "see RFC 1918 section 3", "coordinates 48.8566, 2.3522", "pi is 3.14159265358979",
          "price $1,234,567.89", "temperature 36.6", "score 1.2.3", "room 3.14.1", "port 8080",
          "matrix [[1, 2], [3, 4]]", "user@localhost", "email me later", "@username on twitter",
          "a@b", "ThisIsAVeryLongIdentifierNameForAClassInJava", "path /usr/local/lib/python3.11/site-packages/django",
          "com.example.myapp.MainActivity", "https://example.com/docs/getting-started-with-the-api",
          "the_quick_brown_fox_jumps_over_the_lazy_dog_1234", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
          "0123456789abcdef0123456789abcdef", "ghp_short", "sk-1234", "AKIA1234", "123-456-7890123",
          "phone: ask the front desk", "the year 2001 and 2002", "call 911", "ext. 4471", "zip 90210",
          "population 8,336,817", "serial SN-00012345-XZ", "1-800-FLOWERS", "chapter 1.2.3.4.5",
          "isbn-like 123-45-67890", "part 000-12-3456", "ssn-looking 900-12-3456", "table 4-2-1",
          "DE12 is a postcode prefix", "GB roads A12 B34", "FR 123 456 789", "#define MAX 4096",
          "0x7fffffff", "localhost:8000/api/v1/", "C:\\Users\\Admin\\Documents", "lat/long 40.7128 -74.0060",
          "hash #a1b2c3 color", "snake_case_variable_name_that_is_long_enough", "kebab-case-css-class-name-very-long",
          "the token limit is 4096", "password reset link sent", "secret: none", "max_tokens=2048",
          "tokens: [1, 2, 3]", "use the api key from the settings page", "password: ********"]:
    look("other", x)

with open("tests/annotation/pii_corpus.jsonl", "w") as f:
    for r in rows: f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(len(rows))
