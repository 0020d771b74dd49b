"""NVIDIA's nv-local-gpu-verifier 2.7.3 (PyPI), used as a library, as an oracle for cvmsim's simulated
H100 evidence (docs: gpu.md §7.4). Run by scripts/gpu-nvidia-verifier.sh inside its virtual environment.

For each case, `cvmsim gpu evidence` issues evidence into a folder; a child process then calls
`verifier.cc_admin.attest()` with a duck-typed evidence object, the simulated RIM root, and
`cvmsim serve` on a free loopback port (127.0.0.1 only) as its RIM service (`GET /v1/rim/<id>` ->
{"rim": base64}, the RIMs of that folder) and OCSP responder (`POST /ocsp/` -> an RFC 6960 response
signed by the issuing simulated CA, echoing the request nonce; `--revoke` for the revoked case). Good evidence must attest True; every tampered case must attest False.
Exit 0 when every case agrees, 1 otherwise.

`--catalogue vectors/catalogue/gpu` scores the verifier on every GPU case of the conformance catalogue
instead (each folder's report, chain, RIMs and trusted root; the nonce of its policy.json when it has
one): exit 0 when the disagreements are exactly CATALOGUE_DISAGREEMENTS.
"""

import argparse
import base64
import json
import os
import re
import subprocess
import sys
import threading

NONCE = "4cff7f5380ead8fad8ec2c531c110aca4302a88f603792801a8ca29ee151af2e"

FIRMWARE = {
    "h100-550": [],
    "h100-580": ["--driver", "580.95.05", "--vbios", "96.00.74.00.1A"],
    "hgx-590": ["--driver", "590.12", "--vbios", "96.00.A5.00.01", "--project", "G520", "--chip-sku", "885"],
}

# (case, firmware, seed, cvmsim extra args, `cvmsim serve` options, expected overall result, and a text that
# must appear in the verifier's answer: the claim or error that names the reason for a rejection)
CASES = [
    ("good/h100-550/seed0", "h100-550", 0, [], {}, True, '"measres": "success"'),
    ("good/h100-580/seed1", "h100-580", 1, [], {}, True, '"measres": "success"'),
    ("good/hgx-590/seed2", "hgx-590", 2, [], {}, True, '"measres": "success"'),
    ("tamper/measurement", "h100-550", 0, ["--tamper", "measurement"], {}, False, '"measres": "fail"'),
    ("tamper/vbios-measurement", "h100-550", 0, ["--tamper", "vbios-measurement"], {}, False, '"measres": "fail"'),
    ("tamper/signature", "h100-550", 0, ["--tamper", "signature"], {}, False, "report-signature-verified"),
    ("tamper/wrong-key", "h100-550", 0, ["--tamper", "wrong-key"], {}, False, "report-signature-verified"),
    ("tamper/fwid", "h100-550", 0, ["--tamper", "fwid"], {}, False, "cert-chain-fwid-match"),
    ("tamper/nonce", "h100-550", 0, ["--tamper", "nonce"], {}, False, "report-nonce-match"),
    ("tamper/four-certs", "h100-550", 0, ["--tamper", "four-certs"], {}, False, "number of certificates"),
    ("tamper/rim-hash", "h100-550", 0, ["--tamper", "rim-hash"], {"rims": True}, False, "driver-rim-signature-verified"),
    ("tamper/rim-wrong-signer", "h100-550", 0, ["--tamper", "rim-wrong-signer"], {"rims": True}, False, "driver-rim-signature-verified"),
    ("tamper/devtools", "h100-550", 0, ["--cc-mode", "devtools"], {}, False, '"measres": "fail"'),
    # Verifiers disagree here (gpu.md §4.3): NVAT and cvmsim skip index 35 when NVDEC0 is disabled;
    # NVIDIA's Python verifier compares it anyway and rejects.
    ("disputed/nvdec0-index35", "h100-550", 0, ["--tamper", "nvdec0-index35"], {}, False, '"measres": "fail"'),
    ("revoked/device-l3-ocsp", "h100-550", 0, [], {"revoke": "device-l3"}, False, '"ocsp_status": "revoked"'),
    ("revoked/rim-signer-ocsp", "h100-550", 0, [], {"revoke": "rim-signer"}, False, "OCSP validation of driver RIM failed"),
]


# Catalogue cases where NVIDIA's verifier is known to answer differently from the case's expected
# verdict, with the reason (vectors/catalogue/INDEPENDENT-VERIFIERS.md). `--catalogue` fails if the
# set of disagreements differs from this one, so a change on either side is noticed.
CATALOGUE_DISAGREEMENTS = {
    "gpu/rim-compare/nvdec0-disabled-index35-off-golden":
        "NVIDIA's Python verifier compares RIM index 35 even when NVDEC0 is disabled; NVAT and cvmsim skip it (gpu.md §4.3)",
}


def pem_blocks(text):
    return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?", text, re.S)


class Server:
    """`cvmsim serve` on a free loopback port: the RIM service (RIMs derived from their ids, or the
    tampered ones of a case's `rims/` folder) and the OCSP responder of the simulated PKI, with
    `--revoke` for revoked cases."""

    def __init__(self, cvmsim, seed, rims=None, revoke=None):
        cmd = [cvmsim, "serve", "--addr", "127.0.0.1:0", "--seed", str(seed), "--quiet"]
        if rims:
            cmd += ["--rims", rims]
        if revoke:
            cmd += ["--revoke", revoke]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        timer = threading.Timer(30, self.proc.kill)  # never wait forever for the first line
        timer.start()
        line = self.proc.stdout.readline().strip()
        timer.cancel()
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError("cvmsim serve did not start: " + line + self.proc.stderr.read()[-2000:])
        self.url = line

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: graceful shutdown
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def attest_one(folder, base, driver, vbios, nonce=NONCE):
    """Runs in a child process: LGV keeps per-architecture state in module globals."""
    import logging

    import OpenSSL.crypto as crypto
    from verifier import cc_admin
    from verifier.config import BaseSettings
    from verifier.nvml import NvmlHandler

    # No GPU here: the failure path asks NVML for the DevTools mode and the ready state.
    NvmlHandler.is_cc_dev_mode = staticmethod(lambda: False)
    NvmlHandler.get_gpu_ready_state = staticmethod(lambda: False)
    NvmlHandler.set_gpu_ready_state = staticmethod(lambda s: None)

    rim_root = os.path.join(folder, "rim_root_ca.pem")
    root_dir = os.path.join(folder, "rim-root-dir")
    os.makedirs(root_dir, exist_ok=True)
    with open(rim_root) as f, open(os.path.join(root_dir, "rim_root_ca.pem"), "w") as g:
        g.write(f.read())
    BaseSettings.RIM_ROOT_CERT = rim_root
    BaseSettings.ROOT_CERT_DIR = root_dir

    with open(os.path.join(folder, "report.bin"), "rb") as f:
        report = f.read()
    with open(os.path.join(folder, "certchain.pem")) as f:
        chain = [crypto.load_certificate(crypto.FILETYPE_PEM, b.encode()) for b in pem_blocks(f.read())]
    # As NVIDIA's verifier does with a GPU attached (verifier/nvml/gpu_cert_chains.py): the device's own
    # root certificate is dropped and the verifier's trusted device root appended, here the folder's
    # root_ca.pem (the simulated root, or whatever root a catalogue case says the verifier trusts).
    # Handed a chain directly, the verifier would trust whatever root ends it.
    root = os.path.join(folder, "root_ca.pem")
    if os.path.exists(root) and chain:
        with open(root) as f:
            chain = chain[:-1] + [crypto.load_certificate(crypto.FILETYPE_PEM, f.read().encode())]

    class Evidence:
        def get_gpu_architecture(self):
            return 9  # NVML_DEVICE_ARCH_HOPPER

        def get_uuid(self):
            return "GPU-cvmsim-simulated"

        def get_driver_version(self):
            return driver

        def get_vbios_version(self):
            return vbios

        def get_attestation_report(self):
            return report

        def get_attestation_cert_chain(self):
            return list(chain)

    errors = []

    class Collect(logging.Handler):
        def emit(self, record):
            errors.append(record.getMessage().strip())

    for lg in [logging.getLogger()] + [l for l in logging.root.manager.loggerDict.values() if isinstance(l, logging.Logger)]:
        lg.addHandler(Collect(level=logging.ERROR))

    args = {
        "nonce": nonce,
        "test_no_gpu": False,
        "user_mode": True,
        "allow_hold_cert": False,
        "driver_rim": None,
        "vbios_rim": None,
        "ocsp_nonce_disabled": False,
        "ocsp_url": base + "/ocsp/",
        "rim_service_url": base + "/v1/rim/",
        "service_key": None,
        "verbose": False,
        "claims_version": "3.0",
    }
    ok, token = cc_admin.attest(args, nonce, [Evidence()])
    claims = {}
    try:
        jwt = token[1]["GPU-0"]
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except Exception:  # noqa: BLE001 - the claims are only shown
        pass
    false = sorted(k for k, v in claims.items() if v is False or v == "fail")
    chain = claims.get("x-nvidia-gpu-attestation-report-cert-chain") or {}
    print(json.dumps({
        "overall": bool(ok),
        "false_claims": false,
        "measres": claims.get("measres"),
        "cert_status": chain.get("x-nvidia-cert-status"),
        "ocsp_status": chain.get("x-nvidia-cert-ocsp-status"),
        "errors": errors[-3:],
    }))


def firmware_of(cvmsim, folder):
    """(driver, vbios) versions the report itself names, as the verifier's NVML would report them;
    the defaults of `cvmsim gpu evidence` when the report does not parse."""
    p = subprocess.run([cvmsim, "gpu", "show", "--json", os.path.join(folder, "report.bin")],
                       capture_output=True, text=True)
    try:
        d = json.loads(p.stdout)["decoded"]
        return d["driver_version"], d["vbios_version"].lower()
    except (ValueError, KeyError, TypeError):
        return "550.90.07", "96.00.9f.00.01"


def seed_of(manifest):
    m = re.search(r"seed (\d+)", manifest.get("provenance", ""))
    return int(m.group(1)) if m else 0


def run_case(a, folder, seed, driver, vbios, rims, revoke, nonce=NONCE):
    """NVIDIA's verifier on one folder (report.bin, certchain.pem, rim_root_ca.pem), with
    `cvmsim serve` as its RIM service and OCSP responder; the child's JSON answer."""
    srv = Server(a.cvmsim, seed, rims, revoke)
    try:
        p = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--cvmsim", a.cvmsim, "--work", a.work,
             "--one", folder, srv.url, driver, vbios, nonce],
            capture_output=True, text=True, timeout=300,
            cwd=a.work,  # NVIDIA's verifier writes verifier.log into its working directory
        )
    finally:
        srv.stop()
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    return (json.loads(lines[-1]) if lines else {"overall": None, "error": p.stderr[-2000:]}), p


def catalogue(a):
    """Scores NVIDIA's verifier on every GPU case of the catalogue (`vectors/catalogue/gpu`): the case's
    report.bin, certchain.pem and trusted root_ca.pem, the expected nonce, its RIMs served in place of
    derived ones, the simulated RIM root. Prints one line per case and the disagreements."""
    cases = sorted(d for d in os.listdir(a.catalogue) if os.path.isfile(os.path.join(a.catalogue, d, "manifest.json")))
    if a.only:
        cases = [c for c in cases if a.only in c]
    agree, found = 0, {}
    for name in cases:
        src = os.path.join(a.catalogue, name)
        with open(os.path.join(src, "manifest.json")) as f:
            manifest = json.load(f)
        # The nonce the verifier expects: the case's policy.json when it names one (a replayed report
        # answers another), else the one the evidence was made for.
        with open(os.path.join(src, "evidence.json")) as f:
            nonce = json.load(f)[0]["nonce"]
        if os.path.exists(os.path.join(src, "policy.json")):
            with open(os.path.join(src, "policy.json")) as f:
                nonce = json.load(f).get("nonce", nonce)
        # The child reads report.bin, certchain.pem and rim_root_ca.pem from a scratch copy (it writes a
        # root-certificate folder beside them).
        folder = os.path.join(a.work, "catalogue", name)
        os.makedirs(folder, exist_ok=True)
        for f in ("report.bin", "certchain.pem", "rim_root_ca.pem", "root_ca.pem"):
            if os.path.exists(os.path.join(src, f)):
                with open(os.path.join(src, f), "rb") as i, open(os.path.join(folder, f), "wb") as o:
                    o.write(i.read())
        if not os.path.exists(os.path.join(folder, "rim_root_ca.pem")):
            subprocess.run([a.cvmsim, "gpu", "evidence", "--out", os.path.join(a.work, "roots"), "--nonce", NONCE],
                           check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(a.work, "roots", "rim_root_ca.pem"), "rb") as i, open(os.path.join(folder, "rim_root_ca.pem"), "wb") as o:
                o.write(i.read())
        driver, vbios = firmware_of(a.cvmsim, folder)
        rims = os.path.join(src, "rims") if os.path.isdir(os.path.join(src, "rims")) else None
        got, p = run_case(a, folder, seed_of(manifest), driver, vbios, rims, None, nonce)
        expected = manifest["result"] == "valid"
        ok = got.get("overall") is expected
        agree += ok
        if not ok:
            found[manifest["id"]] = got
            if manifest["id"] not in CATALOGUE_DISAGREEMENTS:
                sys.stderr.write(p.stdout[-4000:] + p.stderr[-4000:])
        print("%-5s %-55s expected %-7s NVIDIA verifier %s" % ("agree" if ok else "DIFF", manifest["id"], manifest["result"], json.dumps(got)))
    print("%d of %d cases agree" % (agree, len(cases)))
    known = {k for k in CATALOGUE_DISAGREEMENTS if not a.only or any(k.replace("/", "__") in c for c in cases)}
    if set(found) != known:
        print("disagreements changed: new %s, gone %s" % (sorted(set(found) - known), sorted(known - set(found))))
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cvmsim", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--only", help="run only the cases whose name contains this")
    ap.add_argument("--one", nargs=5, metavar=("FOLDER", "BASE_URL", "DRIVER", "VBIOS", "NONCE"))
    ap.add_argument("--catalogue", help="score the verifier on every case folder of this directory")
    a = ap.parse_args()
    a.cvmsim, a.work = (os.path.abspath(x) for x in (a.cvmsim, a.work))
    if a.one:
        folder, base, driver, vbios, nonce = a.one
        attest_one(folder, base, driver, vbios, nonce)
        return 0
    if a.catalogue:
        return catalogue(a)
    agree = 0
    cases = [c for c in CASES if not a.only or a.only in c[0]]
    for name, fw, seed, extra, serve_opts, expected, reason in cases:
        folder = os.path.join(a.work, name.replace("/", "_"))
        cmd = [a.cvmsim, "gpu", "evidence", "--out", folder, "--nonce", NONCE, "--seed", str(seed)]
        subprocess.run(cmd + FIRMWARE[fw] + extra, check=True, stdout=subprocess.DEVNULL)
        driver = "550.90.07"
        vbios = "96.00.9f.00.01"
        if "--driver" in FIRMWARE[fw]:
            driver = FIRMWARE[fw][FIRMWARE[fw].index("--driver") + 1]
            vbios = FIRMWARE[fw][FIRMWARE[fw].index("--vbios") + 1].lower()
        # The service derives every RIM from its id, as `cvmsim gpu evidence` does; a case whose RIMs
        # were tampered with serves that folder's RIMs instead (`--rims`).
        rims = os.path.join(folder, "rims") if serve_opts.get("rims") else None
        got, p = run_case(a, folder, seed, driver, vbios, rims, serve_opts.get("revoke"))
        ok = got.get("overall") is expected and reason in json.dumps(got)
        agree += ok
        print("%-4s %-28s expected %-5s (%s) NVIDIA verifier %s" % ("ok" if ok else "FAIL", name, expected, reason, json.dumps(got)))
        if not ok:
            sys.stderr.write(p.stdout[-4000:] + p.stderr[-4000:])
    print("%d passed, %d failed" % (agree, len(cases) - agree))
    return 0 if agree == len(cases) else 1


if __name__ == "__main__":
    sys.exit(main())
