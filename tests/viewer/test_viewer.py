"""The SMART Health Link viewer in a real browser (headless Chromium through WebDriver).

Against `phrkit serve` on 127.0.0.1 with links made by `phrkit share`: a recipient types
their name and the passcode and reads the shared allergies and medications; a wrong passcode
shows the attempts left; a revoked link says it is gone; U and L links open; the HL7 IG's
IPS vector opens behind a U link with its own key; a hostile record runs nothing and sends
nothing to another origin. Screenshots at phone size go to target/viewer-screenshots/.

Run by scripts/test.sh after the debug build: python3 tests/viewer/test_viewer.py
"""

import base64
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = pathlib.Path(__file__).resolve().parents[2]
PHRKIT = str(ROOT / "target" / "debug" / "phrkit")
SHOTS = ROOT / "target" / "viewer-screenshots"
FIXTURES = ROOT.parent / "shared" / "fixtures" / "shl"
WORK = pathlib.Path(tempfile.mkdtemp(prefix="phrkit-viewer-"))
FAILURES = []


def phrkit(*args, stdin=None):
    done = subprocess.run([PHRKIT, *args], capture_output=True, text=True, input=stdin, cwd=WORK)
    if done.returncode != 0:
        raise RuntimeError(f"phrkit {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve():
    port = free_port()
    data = WORK / "host"
    proc = subprocess.Popen([PHRKIT, "serve", "--data", str(data), "--bind", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/metadata", timeout=1)
            return proc, base
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("phrkit serve did not start")


def share(db, base, *extra, passcode=None, manage="share.json"):
    args = ["share", "--db", db, "--host", base, "--manage-file", manage,
            "--account-token-file", str(WORK / "host" / "accounts"), *extra]
    if passcode:
        (WORK / "passcode").write_text(passcode)
        args += ["--passcode-file", "passcode"]
    out = phrkit(*args)
    links = [l for l in out.splitlines() if "#shlink:/" in l or l.startswith("shlink:/")]
    assert links, out
    return links[-1].strip()


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={WORK / 'chrome'}", "--window-size=360,800"]:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    # A phone's screen: 360 CSS pixels wide.
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": 360, "height": 800, "deviceScaleFactor": 1, "mobile": True})
    return d


def check(name, fn, d=None):
    try:
        fn()
        print(f"ok   {name}")
    except Exception as e:  # noqa: BLE001 - every failure is reported, the run goes on
        FAILURES.append(name)
        detail = ""
        if d is not None:
            d.save_screenshot(str(SHOTS / f"failed-{len(FAILURES)}.png"))
            detail = " | page: " + d.find_element(By.TAG_NAME, "body").text[:300].replace("\n", " / ")
        print(f"FAIL {name}: {e!r}{detail}")


def wait_text(d, text, timeout=20):
    WebDriverWait(d, timeout).until(lambda d: text in d.find_element(By.TAG_NAME, "body").text)


def open_link(d, url, recipient="City Pharmacy", passcode=None):
    d.get("about:blank")
    d.get(url)
    WebDriverWait(d, 10).until(lambda d: d.find_element(By.ID, "open").is_displayed())
    d.find_element(By.ID, "recipient").send_keys(recipient)
    if passcode is not None:
        d.find_element(By.ID, "passcode").send_keys(passcode)
    d.find_element(By.ID, "go").click()


def status_text(d):
    WebDriverWait(d, 20).until(lambda d: d.find_element(By.ID, "status").text not in ("", "Opening…"))
    return d.find_element(By.ID, "status").text


def record_lines(path):
    return [json.loads(l) for l in pathlib.Path(path).read_text().splitlines() if l.strip()]


def label_of(cc):
    c = (cc.get("coding") or [{}])[0]
    return cc.get("text") or c.get("display") or c.get("code")


def main():
    SHOTS.mkdir(parents=True, exist_ok=True)
    record = WORK / "record.ndjson"
    phrkit("generate", "--resources-per-patient", "1200", "--seed", "5", "-o", str(record))
    lines = record_lines(record)
    # A current medication and an allergy the pharmacist must see.
    patient = next(r for r in lines if r["resourceType"] == "Patient")
    pid = patient["id"]
    extra = [
        {"resourceType": "MedicationStatement", "id": "viewer-med", "status": "active",
         "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": "2026-10-01",
         "medicationCodeableConcept": {"text": "Lisinopril 10 mg tablet"}, "dosage": [{"text": "1 tablet daily"}]},
        {"resourceType": "AllergyIntolerance", "id": "viewer-allergy", "criticality": "high",
         "patient": {"reference": f"Patient/{pid}"}, "code": {"text": "Penicillin"},
         "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
         "reaction": [{"manifestation": [{"text": "Hives"}], "severity": "moderate"}]},
    ]
    # The generator's own current prescriptions must show too.
    prescribed = [label_of(r["medicationCodeableConcept"]) for r in lines
                  if r["resourceType"] == "MedicationRequest" and r["status"] == "active"
                  and r["subject"]["reference"] == f"Patient/{pid}"]
    assert prescribed, "the generated patient has no current prescription"
    with open(record, "a") as f:
        for r in extra:
            f.write(json.dumps(r) + "\n")
    phrkit("import", "--db", "phone.db", str(record))
    server, base = serve()
    d = browser()
    try:
        link = share("phone.db", base, "--profile", "pharmacy", passcode="2468")

        def summary():
            assert link.startswith(base + "/view#shlink:/"), link[:60]
            d.get(link)
            WebDriverWait(d, 10).until(lambda d: d.find_element(By.ID, "passcode").is_displayed())
            d.save_screenshot(str(SHOTS / "passcode-prompt.png"))
            open_link(d, link, passcode="2468")
            wait_text(d, "Penicillin")
            body = d.find_element(By.TAG_NAME, "body").text
            assert "Lisinopril 10 mg tablet" in body and "1 tablet daily" in body, body[:500]
            assert "criticality high" in body and "Hives" in body
            for drug in prescribed:
                assert drug in body, (drug, body[:500])
            d.save_screenshot(str(SHOTS / "summary.png"))
            assert d.execute_script("return localStorage.length + sessionStorage.length") == 0

        check("a pharmacy link opens with name and passcode and shows allergies and medications", summary, d)

        def wrong():
            open_link(d, link, recipient="ER nurse", passcode="0000")
            text = status_text(d)
            assert "Wrong passcode" in text and "attempts left" in text, text
            d.save_screenshot(str(SHOTS / "wrong-passcode.png"))

        check("a wrong passcode shows the attempts left", wrong, d)

        def revoked():
            gone = share("phone.db", base, "--profile", "emergency", manage="gone.json")
            phrkit("revoke", "--db", "phone.db", "--manage-file", "gone.json")
            open_link(d, gone)
            text = status_text(d)
            assert "no longer available" in text, text
            d.save_screenshot(str(SHOTS / "revoked.png"))

        check("a revoked link says it is gone", revoked, d)

        def direct_and_long_term():
            u = share("phone.db", base, "--profile", "emergency", "--direct-file", manage="u.json")
            open_link(d, u)
            wait_text(d, "Penicillin")
            lt = share("phone.db", base, "--profile", "pharmacy", "--long-term", manage="l.json")
            open_link(d, lt)
            wait_text(d, "Lisinopril")
            # The host limits how often a link is polled: a refresh too soon is told to wait
            # (Retry-After), and the button comes back when the wait is over.
            button = d.find_element(By.ID, "refresh")
            WebDriverWait(d, 10).until(lambda d: button.is_enabled())
            button.click()
            WebDriverWait(d, 20).until(lambda d: button.is_enabled() and "Opening" not in status_text(d))
            if "wait" in status_text(d):
                button.click()
            wait_text(d, "kept up to date")

        check("U and L links open (L can be refreshed)", direct_and_long_term, d)

        def ips_vector():
            details = json.loads((FIXTURES / "IPS_IG-bundle-01-shl-details.json").read_text())["shlinkJsonPayload"]
            jwe = (FIXTURES / "IPS_IG-bundle-01-enc.txt").read_text().strip()
            expected = json.loads((FIXTURES / "IPS_IG-bundle-01.json").read_text())
            pat = next(e["resource"] for e in expected["entry"] if e["resource"]["resourceType"] == "Patient")
            family = pat["name"][0]["family"]
            account = next(l for l in (WORK / "host" / "accounts").read_text().splitlines()
                           if l.strip() and not l.startswith("#")).split()[1]
            req = urllib.request.Request(base + "/api/shl", data=json.dumps({"flag": "U"}).encode(),
                                         headers={"content-type": "application/json",
                                                  "authorization": "Bearer " + account})
            created = json.load(urllib.request.urlopen(req))
            up = urllib.request.Request(created["url"] + "/file", data=jwe.encode(), headers={
                "content-type": "application/fhir+json", "authorization": "Bearer " + created["managementToken"]})
            urllib.request.urlopen(up)
            payload = {"url": created["url"], "key": details["key"], "flag": "U", "label": "IPS vector"}
            b64 = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
            open_link(d, f"{base}/view#shlink:/{b64}", recipient="Test")
            wait_text(d, family)

        check("the HL7 IG's IPS vector opens with its own key", ips_vector, d)

        def hostile():
            evil = [
                {"resourceType": "AllergyIntolerance", "id": "evil-1", "patient": {"reference": f"Patient/{pid}"},
                 "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>window.pwned=1</script></div>"},
                 "code": {"text": "<img src=x onerror=\"window.pwned=2\">"},
                 "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]}},
                {"resourceType": "MedicationStatement", "id": "evil-2", "status": "active",
                 "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": "2026-10-02",
                 "medicationCodeableConcept": {"text": "<script>window.pwned=3</script>"}},
            ]
            (WORK / "evil.ndjson").write_text("".join(json.dumps(r) + "\n" for r in evil))
            phrkit("import", "--db", "phone.db", "evil.ndjson")
            hl = share("phone.db", base, "--profile", "pharmacy", manage="evil.json")
            d.get_log("performance")
            open_link(d, hl)
            wait_text(d, "<img src=x onerror=")
            assert "<script>window.pwned=3</script>" in d.find_element(By.TAG_NAME, "body").text
            assert d.execute_script("return window.pwned === undefined"), "a script from the record ran"
            assert not d.find_elements(By.CSS_SELECTOR, "#record img, #record script")
            origins = set()
            for entry in d.get_log("performance"):
                msg = json.loads(entry["message"])["message"]
                if msg.get("method") == "Network.requestWillBeSent":
                    url = msg["params"]["request"]["url"]
                    if url.startswith("http"):
                        origins.add("/".join(url.split("/")[:3]))
            assert origins <= {base}, origins

        check("a hostile record runs nothing and sends nothing elsewhere", hostile, d)

        def headers():
            r = urllib.request.urlopen(base + "/view")
            csp = r.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp, csp
            assert r.headers["referrer-policy"] == "no-referrer"
            assert r.headers["cache-control"] == "no-store"

        check("the page is served with a strict CSP, no referrer and no caching", headers, d)
    finally:
        d.quit()
        server.terminate()
        server.wait()
    print(f"screenshots in {SHOTS}")
    if FAILURES:
        print(f"{len(FAILURES)} viewer test(s) failed")
        sys.exit(1)
    print("viewer: all passed")


if __name__ == "__main__":
    main()
