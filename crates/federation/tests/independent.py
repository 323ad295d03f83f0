"""An independent implementation of draft-cavage HTTP signatures (rsa-sha256), with Python's
`cryptography`, so that a mistake shared by our Rust signer and verifier cannot pass the tests.

  independent.py verify <request.json>   exit 0 if the request's signature and digest are valid
  independent.py sign <request.json>     print the Signature, Date and Digest headers as JSON

request.json: {"method", "path", "headers": {lower-case name: value}, "body": str | null (a GET),
               "public_key_pem" | "private_key_pem", "key_id"}
"""
import base64
import email.utils
import hashlib
import json
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def parse_signature(value):
    fields = {}
    for part in value.split('",'):
        name, _, val = part.partition("=")
        fields[name.strip().lower()] = val.strip().strip('"')
    return fields


def signing_string(method, path, headers, names):
    lines = []
    for name in names:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {path}")
        else:
            lines.append(f"{name}: {headers[name]}")
    return "\n".join(lines)


def verify(req):
    headers = req["headers"]
    fields = parse_signature(headers["signature"])
    names = fields["headers"].split()
    required = ["(request-target)", "host", "date"]
    # A GET has no body, so no digest; anything with a body must carry one that matches.
    if req.get("body") is not None:
        body = req["body"].encode()
        expected = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
        if headers.get("digest") != expected:
            print("digest mismatch", file=sys.stderr)
            return 1
        required.append("digest")
    for required in required:
        if required not in names:
            print(f"{required} not signed", file=sys.stderr)
            return 1
    key = serialization.load_pem_public_key(req["public_key_pem"].encode())
    data = signing_string(req["method"], req["path"], headers, names).encode()
    try:
        key.verify(base64.b64decode(fields["signature"]), data, padding.PKCS1v15(), hashes.SHA256())
    except Exception as e:  # InvalidSignature
        print(f"bad signature: {e!r}", file=sys.stderr)
        return 1
    return 0


def sign(req):
    key = serialization.load_pem_private_key(req["private_key_pem"].encode(), password=None)
    body = req["body"].encode()
    headers = dict(req["headers"])
    headers["date"] = email.utils.formatdate(usegmt=True)
    headers["digest"] = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    names = ["(request-target)", "host", "date", "digest"]
    sig = key.sign(signing_string(req["method"], req["path"], headers, names).encode(), padding.PKCS1v15(), hashes.SHA256())
    headers["signature"] = (
        f'keyId="{req["key_id"]}",algorithm="rsa-sha256",headers="{" ".join(names)}",'
        f'signature="{base64.b64encode(sig).decode()}"'
    )
    print(json.dumps(headers))
    return 0


if __name__ == "__main__":
    with open(sys.argv[2]) as f:
        request = json.load(f)
    sys.exit(verify(request) if sys.argv[1] == "verify" else sign(request))
