"""Reference rows: runs coqui's own formatter on a dataset and prints what it
yields as JSON, for TestCoquiDifferential (run only when
TTSGUARD_COQUI_PYTHON names a Python with coqui-tts installed).

usage: coqui_ref.py < [{"name", "formatter", "root", "meta"}, ...]
"""
import importlib.util
import json
import os
import sys

import TTS

# Load formatters.py alone: importing TTS.tts.datasets pulls in torch.
path = os.path.join(os.path.dirname(TTS.__file__), "tts", "datasets", "formatters.py")
spec = importlib.util.spec_from_file_location("coqui_formatters", path)
formatters = importlib.util.module_from_spec(spec)
spec.loader.exec_module(formatters)


def run(name, root, meta):
    fn = getattr(formatters, name)
    try:
        items = fn(root, meta or None)
    except Exception as e:  # the formatter fails: coqui loads nothing
        return {"error": type(e).__name__}
    rows = []
    for it in items:
        p = it["audio_file"]
        if not os.path.isabs(p) or p.startswith(root + os.sep):
            p = os.path.relpath(p, root)
        rows.append({"text": it["text"], "audio": p, "speaker": it["speaker_name"]})
    return {"rows": rows}


jobs = json.load(sys.stdin)
print(json.dumps({j["name"]: run(j["formatter"], j["root"], j["meta"]) for j in jobs}))
