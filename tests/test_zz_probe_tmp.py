import re
from tests.conftest import csrf_from

def test_probe(client, open_case, db):
    case, secret = open_case()
    page = client.get("/pl/follow?reference=" + case.reference)
    print(re.sub(r"\n\s*\n", "\n", page.text.split('<main')[1].split('</main>')[0]))
    r = client.post("/pl/follow", data={"reference": case.reference, "secret": "WRONG-CODE", "csrf_token": csrf_from(page.text)})
    print(r.status_code, re.findall(r'role="alert">(.*?)</div>', r.text))
    r = client.post("/pl/follow", data={"reference": "", "secret": "", "csrf_token": csrf_from(page.text)})
    print(r.status_code, re.sub(r"\n\s*\n", "\n", r.text.split('<main')[1].split('<form')[0]))
    r = client.post("/pl/follow", data={"reference": case.reference, "secret": secret, "csrf_token": csrf_from(page.text)})
    print(re.sub(r"\n\s*\n", "\n", r.text.split('<main')[1].split('</main>')[0]))
