"""NVIDIA's nv-local-gpu-verifier 2.7.3 (PyPI), used as a library, as an oracle for cvmsim's simulated
H100 evidence (docs: gpu.md §7.4). Run by scripts/gpu-nvidia-verifier.sh inside its virtual environment.

For each case, `cvmsim gpu evidence` issues evidence into a folder; a child process then calls
`verifier.cc_admin.attest()` with a duck-typed evidence object, the simulated RIM root, and
`cvmsim serve` on a free loopback port (127.0.0.1 only) as its RIM service (`GET /v1/rim/<id>` ->
{"rim": base64}, the RIMs of that folder) and OCSP responder (`POST /ocsp/` -> an RFC 6960 response
signed by the issuing simulated CA, echoing the request nonce; `--revoke` for the revoked case). Good evidence must attest True; every tampered case must attest False.
Exit 0 when every case agrees, 1 otherwise.
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


def attest_one(folder, base, driver, vbios):
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
        "nonce": NONCE,
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
    ok, token = cc_admin.attest(args, NONCE, [Evidence()])
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cvmsim", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--only", help="run only the cases whose name contains this")
    ap.add_argument("--one", nargs=4, metavar=("FOLDER", "BASE_URL", "DRIVER", "VBIOS"))
    a = ap.parse_args()
    a.cvmsim, a.work = (os.path.abspath(x) for x in (a.cvmsim, a.work))
    if a.one:
        folder, base, driver, vbios = a.one
        attest_one(folder, base, driver, vbios)
        return 0
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
        srv = Server(a.cvmsim, seed, rims, serve_opts.get("revoke"))
        try:
            p = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--cvmsim", a.cvmsim, "--work", a.work,
                 "--one", folder, srv.url, driver, vbios],
                capture_output=True, text=True, timeout=300,
                cwd=a.work,  # NVIDIA's verifier writes verifier.log into its working directory
            )
        finally:
            srv.stop()
        lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
        got = json.loads(lines[-1]) if lines else {"overall": None, "error": p.stderr[-2000:]}
        ok = got.get("overall") is expected and reason in json.dumps(got)
        agree += ok
        print("%-4s %-28s expected %-5s (%s) NVIDIA verifier %s" % ("ok" if ok else "FAIL", name, expected, reason, json.dumps(got)))
        if not ok:
            sys.stderr.write(p.stdout[-4000:] + p.stderr[-4000:])
    print("%d passed, %d failed" % (agree, len(cases) - agree))
    return 0 if agree == len(cases) else 1


if __name__ == "__main__":
    sys.exit(main())
