#!/usr/bin/python3
"""Stands in for coqui's tts-server in ttsguard's tests.

It takes tts-server's arguments, reads the model and config files as the
real server does, and answers GET or POST /api/tts with a short WAV. It
reports in response headers what it could do inside the sandbox, and exits
after --requests requests (default 1). Standard library only.
"""
import argparse
import http.server
import io
import json
import os
import socket
import wave

parser = argparse.ArgumentParser()
parser.add_argument("--model_path", required=True)
parser.add_argument("--config_path", required=True)
parser.add_argument("--speakers_file_path")
parser.add_argument("--vocoder_path")
parser.add_argument("--vocoder_config_path")
parser.add_argument("--port", type=int, default=5002)
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--requests", type=int, default=1)
parser.add_argument("--forbidden", help="a file the sandbox must not let it read")
args = parser.parse_args()

with open(args.config_path) as f:
    config = json.load(f)
model_path = args.model_path
if os.path.isdir(model_path):
    model_path = os.path.join(model_path, "model.pth")
with open(model_path, "rb") as f:
    weights = f.read()


def attempt(fn):
    try:
        fn()
        return "allowed"
    except OSError as e:
        return "denied:" + (os.strerror(e.errno) if e.errno else str(e))


def read_forbidden():
    with open(args.forbidden, "rb") as f:
        f.read()


def connect_out():
    socket.create_connection(("127.0.0.1", args.port + 1), timeout=2).close()


def write_cache():
    with open(os.path.join(os.environ["HOME"], "cache.txt"), "w") as f:
        f.write("ok")


def wav(text):
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(b"\x00\x01" * (200 * len(text)))
    return out.getvalue()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.answer("")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.answer(self.rfile.read(n).decode())

    def answer(self, body):
        if not self.path.startswith("/api/tts"):
            self.send_error(404)
            return
        text = self.headers.get("text") or body or "hello"
        data = wav(text)
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Model-Family", str(config.get("model")))
        self.send_header("X-Model-Bytes", str(len(weights)))
        self.send_header("X-Args", json.dumps(vars(args)))
        self.send_header("X-Uid", str(os.getuid()))
        self.send_header("X-Cache", attempt(write_cache))
        self.send_header("X-Connect", attempt(connect_out))
        if args.forbidden:
            self.send_header("X-Forbidden", attempt(read_forbidden))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


server = http.server.HTTPServer((args.host, args.port), Handler)
print("LISTENING", flush=True)
for _ in range(args.requests):
    server.handle_request()
server.server_close()
