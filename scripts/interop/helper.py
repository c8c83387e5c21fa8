#!/usr/bin/env python3
"""Helpers for scripts/interop.sh, run inside the venv that has model-signing 1.1.1.

Subcommands (exit 0 on success; verify exits 1 on a failed verification):
  genkey   --curve p256|p384 --out PREFIX [--password PW]
           Write PREFIX.key (PKCS#8 PEM, encrypted with BestAvailableEncryption
           when --password is given) and PREFIX.pub (SubjectPublicKeyInfo PEM).
  issue    --public-key PEM --ca-cert PEM --ca-key PEM --out PEM [--cn NAME]
           [--eku codeSigning|serverAuth]
           Issue a leaf certificate for the key (private or public PEM):
           KeyUsage digitalSignature (critical), EKU codeSigning (or
           serverAuth: a TLS server certificate), CA:false.
  selfsign --private-key PEM --out PEM [--cn NAME]
           A self-signed signing certificate like the OMS conformance suite's:
           CA:true, KeyUsage digitalSignature only, EKU codeSigning.
  sign   --private-key K [--password PW] [--shard-size N] --signature S
         [--ignore-paths P]... MODEL
  verify --public-key P [--shard-size N] --signature S [--ignore-paths P]... MODEL
           Sign / verify with a key through the model_signing Python API: in
           shards mode when --shard-size is given, with
           hashing.Config().use_shard_serialization(shard_size=N) passed
           explicitly (the 1.1.1 CLI has no shards option), else files mode.
           The password goes to the API as bytes: the 1.1.1 CLI's --password
           passes a str to cryptography and fails ("Cannot convert ... str ...
           to a buffer"). Like the CLI, the signature file is ignored when it
           lies inside the model.
  root     SIG   print the subject (root) digest of a bundle
  field    SIG KEY...  print predicate.serialization[KEY] (JSON) of a bundle
"""

import argparse
import base64
import datetime
import json
import pathlib
import sys


def _statement(sig):
    with open(sig, "rb") as f:
        bundle = json.load(f)
    return json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))


def cmd_genkey(a):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    curve = {"p256": ec.SECP256R1(), "p384": ec.SECP384R1(), "p521": ec.SECP521R1()}[a.curve]
    key = ec.generate_private_key(curve)
    enc = (
        serialization.BestAvailableEncryption(a.password.encode())
        if a.password
        else serialization.NoEncryption()
    )
    pathlib.Path(a.out + ".key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    )
    pathlib.Path(a.out + ".pub").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _load_public(path, password=None):
    from cryptography.hazmat.primitives import serialization

    data = pathlib.Path(path).read_bytes()
    if b"PRIVATE KEY" in data:
        pw = password.encode() if password else None
        return serialization.load_pem_private_key(data, pw).public_key()
    return serialization.load_pem_public_key(data)


def _authority_key_id(ca_cert):
    # The test CA's key identifiers are not the SHA-1 of the key (GnuTLS made
    # them): take the issuer's SKI, or OpenSSL (the reference) finds no issuer.
    from cryptography import x509

    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key())


def cmd_issue(a):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    pub = _load_public(a.public_key, a.password)
    ca_cert = x509.load_pem_x509_certificate(pathlib.Path(a.ca_cert).read_bytes())
    ca_key = serialization.load_pem_private_key(pathlib.Path(a.ca_key).read_bytes(), None)
    now = datetime.datetime.now(datetime.timezone.utc)
    # Valid now and for a while, and inside the issuer's validity (the reference
    # validates the whole chain at the leaf's notBefore).
    not_before = max(now - datetime.timedelta(hours=1), ca_cert.not_valid_before_utc)
    not_after = min(now + datetime.timedelta(days=30), ca_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, a.cn)]))
        .issuer_name(ca_cert.subject)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([_EKU[a.eku]]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        .add_extension(_authority_key_id(ca_cert), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pathlib.Path(a.out).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


_EKU = {}


def _key_usage_signing_only():
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def cmd_selfsign(a):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = serialization.load_pem_private_key(pathlib.Path(a.private_key).read_bytes(), None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, a.cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage_signing_only(), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pathlib.Path(a.out).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _hashing_config(a):
    import model_signing

    model = pathlib.Path(a.model)
    ignored = list(a.ignore_paths or [])
    sig = pathlib.Path(a.signature).resolve()
    try:
        ignored.append(str(sig.relative_to(model.resolve())))
    except ValueError:
        pass
    hc = model_signing.hashing.Config()
    if a.shard_size is not None:
        hc = hc.use_shard_serialization(shard_size=a.shard_size)
    return hc.set_ignored_paths(paths=ignored)


def cmd_sign(a):
    import model_signing

    password = a.password.encode() if a.password is not None else None
    model_signing.signing.Config().use_elliptic_key_signer(
        private_key=a.private_key, password=password
    ).set_hashing_config(_hashing_config(a)).sign(pathlib.Path(a.model), pathlib.Path(a.signature))


def cmd_verify(a):
    import model_signing

    try:
        model_signing.verifying.Config().use_elliptic_key_verifier(
            public_key=a.public_key
        ).set_hashing_config(_hashing_config(a)).verify(
            pathlib.Path(a.model), pathlib.Path(a.signature)
        )
    except Exception as e:  # the reference raises ValueError, InvalidSignature, ...
        print(f"Verification failed with error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print("Verification succeeded")
    return 0


def cmd_root(a):
    print(_statement(a.signature)["subject"][0]["digest"]["sha256"])


def cmd_field(a):
    ser = _statement(a.signature)["predicate"]["serialization"]
    for k in a.keys:
        print(json.dumps(ser.get(k)))


def main(argv):
    from cryptography.x509.oid import ExtendedKeyUsageOID

    _EKU.update(codeSigning=ExtendedKeyUsageOID.CODE_SIGNING, serverAuth=ExtendedKeyUsageOID.SERVER_AUTH)
    p = argparse.ArgumentParser(prog="helper.py")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("genkey")
    s.add_argument("--curve", default="p256")
    s.add_argument("--out", required=True)
    s.add_argument("--password")
    s.set_defaults(func=cmd_genkey)

    s = sub.add_parser("issue")
    s.add_argument("--public-key", required=True)
    s.add_argument("--password")
    s.add_argument("--ca-cert", required=True)
    s.add_argument("--ca-key", required=True)
    s.add_argument("--cn", default="interop-leaf")
    s.add_argument("--eku", choices=["codeSigning", "serverAuth"], default="codeSigning")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_issue)

    s = sub.add_parser("selfsign")
    s.add_argument("--private-key", required=True)
    s.add_argument("--cn", default="interop-self-signed")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_selfsign)

    for name, func, keyarg in (
        ("sign", cmd_sign, "--private-key"),
        ("verify", cmd_verify, "--public-key"),
    ):
        s = sub.add_parser(name)
        s.add_argument(keyarg, required=True)
        if name == "sign":
            s.add_argument("--password")
        s.add_argument("--shard-size", type=int)
        s.add_argument("--signature", required=True)
        s.add_argument("--ignore-paths", action="append")
        s.add_argument("model")
        s.set_defaults(func=func)

    s = sub.add_parser("root")
    s.add_argument("signature")
    s.set_defaults(func=cmd_root)

    s = sub.add_parser("field")
    s.add_argument("signature")
    s.add_argument("keys", nargs="+")
    s.set_defaults(func=cmd_field)

    a = p.parse_args(argv)
    return a.func(a) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
