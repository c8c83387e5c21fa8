"""Writes the fixtures of internal/inspect with coqui-tts 0.28's own classes.

    /opt/e2e-venv/bin/python internal/inspect/testdata/gen.py

shapes.json: for several VITS configs (model_args overrides), the names and
shapes of the state dict Vits(config) builds, which the Go rules must give
exactly. tiny-vits/: a tiny VITS built by Vits(config), its config.json as
coqui writes it and its checkpoint as coqui's trainer saves it
({"model": state dict, "config": ..., "step": ...}), weights zeroed so that
the file stays small; tampered-extra/ and tampered-shape/ are copies whose
checkpoint gained a tensor or has a layer of another shape.
"""

import json
import os
import shutil
import tempfile

import torch
from TTS.tts.configs.vits_config import VitsConfig
from TTS.tts.models.vits import Vits

HERE = os.path.dirname(os.path.abspath(__file__))

TINY = {
    "hidden_channels": 4, "hidden_channels_ffn_text_encoder": 6, "num_heads_text_encoder": 2,
    "num_layers_text_encoder": 1, "out_channels": 9, "num_layers_posterior_encoder": 2,
    "num_layers_flow": 1, "upsample_initial_channel_decoder": 8, "upsample_rates_decoder": [2, 2],
    "upsample_kernel_sizes_decoder": [4, 4], "resblock_kernel_sizes_decoder": [3],
    "resblock_dilation_sizes_decoder": [[1, 3, 5]], "use_sdp": False, "init_discriminator": False,
}

CASES = [
    ("tiny", TINY, 0, 0),
    ("tiny sdp", {**TINY, "use_sdp": True}, 0, 0),
    ("resblock 2", {**TINY, "resblock_type_decoder": "2", "resblock_kernel_sizes_decoder": [3, 5],
                    "resblock_dilation_sizes_decoder": [[1, 3], [1, 3]]}, 0, 0),
    ("speakers dp", {**TINY, "use_speaker_embedding": True, "speaker_embedding_channels": 6}, 3, 0),
    ("speakers sdp", {**TINY, "use_sdp": True, "use_speaker_embedding": True, "speaker_embedding_channels": 6}, 3, 0),
    ("sdp not on speaker", {**TINY, "use_sdp": True, "use_speaker_embedding": True, "speaker_embedding_channels": 6,
                            "condition_dp_on_speaker": False}, 2, 0),
    ("d-vectors", {**TINY, "use_d_vector_file": True, "d_vector_dim": 10}, 2, 0),
    ("languages", {**TINY, "use_sdp": True, "use_language_embedding": True, "embedded_language_dim": 2,
                   "num_heads_text_encoder": 3}, 0, 3),
    ("languages dp", {**TINY, "use_language_embedding": True, "embedded_language_dim": 2}, 0, 2),
    ("discriminator", {**TINY, "init_discriminator": True, "periods_multi_period_discriminator": [2, 3]}, 0, 0),
    ("spectral discriminator", {**TINY, "init_discriminator": True, "use_spectral_norm_disriminator": True,
                                "periods_multi_period_discriminator": [5]}, 0, 0),
    ("defaults", {}, 0, 0),
]


def build(args, speakers, languages):
    cfg = VitsConfig()
    for k, v in args.items():
        setattr(cfg.model_args, k, v)
    cfg.audio.hop_length = 1
    for r in cfg.model_args.upsample_rates_decoder:
        cfg.audio.hop_length *= r
    if speakers and not cfg.model_args.use_d_vector_file:
        cfg.speakers = [f"s{i}" for i in range(speakers)]
    if languages:
        path = os.path.join(tempfile.mkdtemp(), "language_ids.json")
        with open(path, "w") as f:
            json.dump({f"l{i}": i for i in range(languages)}, f)
        cfg.model_args.language_ids_file = path
    m = Vits(cfg)
    return cfg, m


def main():
    shapes = []
    for name, args, speakers, languages in CASES:
        cfg, m = build(args, speakers, languages)
        sd = m.state_dict()
        shapes.append({"name": name, "model_args": args, "state_dict": {k: list(v.shape) for k, v in sd.items()}})
    with open(os.path.join(HERE, "shapes.json"), "w") as f:
        json.dump(shapes, f, indent=0)
        f.write("\n")

    cfg, m = build(TINY, 0, 0)
    sd = {k: torch.zeros_like(v) for k, v in m.state_dict().items()}
    def save(folder, state):
        d = os.path.join(HERE, folder)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        cfg.save_json(os.path.join(d, "config.json"))
        torch.save({"model": state, "config": cfg.to_dict(), "step": 10, "epoch": 1}, os.path.join(d, "model.pth"))
    save("tiny-vits", sd)
    extra = dict(sd)
    extra["text_encoder.backdoor.weight"] = torch.zeros(3, 4)
    save("tampered-extra", extra)
    wrong = dict(sd)
    wrong["waveform_decoder.conv_pre.weight"] = torch.zeros(8, 5, 7)
    save("tampered-shape", wrong)


if __name__ == "__main__":
    main()
