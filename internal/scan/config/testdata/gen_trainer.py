"""Generates the trainer fixtures of internal/scan/config and internal/pull.

Trains a tiny multi-speaker VITS (d-vectors) for one step with coqui's own
Trainer (coqui-tts 0.28, coqui-tts-trainer 0.4) on CPU, on four synthetic
clips, the way a coqui user's training script does, then keeps:

  trainer_vits_config.json  the config.json the trainer wrote into its run
                            folder (absolute speakers_file,
                            model_args.speakers_file, d_vector_file,
                            datasets[].path, output_path), byte for byte;
  trainer_vits_files.txt    the names of the files of that run folder, one a
                            line, after the user copied the d-vector file
                            into it (as the issue describes a shipped model).

Checkpoints and the run's TensorBoard log are not kept (too large), but a
small event log written by the same TensorBoard writer (one scalar) is, as
internal/scan/walk/testdata/events.out.tfevents.small.

Run: /opt/e2e-venv/bin/python internal/scan/config/testdata/gen_trainer.py [--keep]
(from the repository root; about a minute on two cores; no network). The
run folder (about 1.7 GB of checkpoints) is removed unless --keep is given,
which prints its path for manual checks (ttsguard scan / pull).
"""

import json
import os
import shutil
import sys

import numpy as np
import soundfile as sf

from trainer import Trainer, TrainerArgs
from TTS.config.shared_configs import BaseAudioConfig, BaseDatasetConfig
from TTS.tts.configs.vits_config import VitsArgs, VitsConfig
from TTS.tts.datasets import load_tts_samples
from TTS.tts.models.vits import Vits

# A fixed place, so that the fixture's absolute paths are stable.
ROOT = "/tmp/ttsguard-trainer-fixture"
HERE = os.path.dirname(os.path.abspath(__file__))


def make_dataset(data):
    os.makedirs(os.path.join(data, "wavs"))
    rng = np.random.default_rng(0)
    rows = ["audio_file|text|speaker_name|emotion_name"]
    dvec = {}
    for i, spk in enumerate(["alice", "bob", "alice", "bob"]):
        name = f"wavs/{spk}_{i}.wav"
        t = np.arange(int(22050 * 0.6)) / 22050
        wav = 0.3 * np.sin(2 * np.pi * (180 + 40 * i) * t) + 0.01 * rng.standard_normal(t.size)
        sf.write(os.path.join(data, name), wav.astype(np.float32), 22050)
        rows.append(f"{name}|hello there, speaker {spk}.|{spk}|neutral")
        emb = rng.standard_normal(8)
        dvec["#" + name[:-4]] = {"name": spk, "embedding": (emb / np.linalg.norm(emb)).tolist()}
    with open(os.path.join(data, "metadata.csv"), "w", encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n")
    with open(os.path.join(data, "d_vectors.json"), "w", encoding="utf-8") as f:
        json.dump(dvec, f)


def small_event_log():
    from torch.utils.tensorboard import SummaryWriter

    logdir = os.path.join(ROOT, "tb")
    w = SummaryWriter(log_dir=logdir)
    w.add_scalar("loss", 0.5, 1)
    w.close()
    (name,) = os.listdir(logdir)
    dst = os.path.join(HERE, "..", "..", "walk", "testdata")
    os.makedirs(dst, exist_ok=True)
    shutil.copy(os.path.join(logdir, name), os.path.join(dst, "events.out.tfevents.small"))


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    os.makedirs(ROOT)
    small_event_log()
    data, out = os.path.join(ROOT, "data"), os.path.join(ROOT, "runs")
    make_dataset(data)
    dataset = BaseDatasetConfig(formatter="coqui", path=data, meta_file_train="metadata.csv")
    audio = BaseAudioConfig(sample_rate=22050, fft_size=1024, win_length=1024, hop_length=256, num_mels=80,
                            mel_fmin=0, mel_fmax=None)
    args = VitsArgs(hidden_channels=16, hidden_channels_ffn_text_encoder=32, num_layers_text_encoder=1,
                    num_layers_posterior_encoder=1, num_layers_flow=1, upsample_initial_channel_decoder=16,
                    use_d_vector_file=True, d_vector_dim=8, d_vector_file=[os.path.join(data, "d_vectors.json")],
                    spec_segment_size=8, use_sdp=False)
    config = VitsConfig(model_args=args, audio=audio, run_name="vits_tiny_multispeaker", batch_size=1,
                        eval_batch_size=1, num_loader_workers=0, num_eval_loader_workers=0, run_eval=False,
                        test_delay_epochs=-1, epochs=1, text_cleaner="basic_cleaners", use_phonemes=False,
                        phoneme_cache_path=os.path.join(out, "phoneme_cache"), print_step=1, mixed_precision=False,
                        output_path=out, datasets=[dataset], use_d_vector_file=True, d_vector_dim=8,
                        d_vector_file=[os.path.join(data, "d_vectors.json")], test_sentences=[], save_step=1,
                        min_audio_len=1, max_audio_len=10**9, min_text_len=1)
    train_samples, eval_samples = load_tts_samples(config, eval_split=True, eval_split_size=0.5)
    model = Vits(config)
    trainer = Trainer(TrainerArgs(), config, out, model=model, train_samples=train_samples,
                      eval_samples=eval_samples)
    trainer.fit()
    (run,) = [os.path.join(out, d) for d in os.listdir(out) if d.startswith("vits_tiny_multispeaker")]
    # Shipping the model: the d-vector file goes into the run folder under
    # its own name, where the config's absolute path no longer points.
    shutil.copy(os.path.join(data, "d_vectors.json"), run)
    shutil.copy(os.path.join(run, "config.json"), os.path.join(HERE, "trainer_vits_config.json"))
    names = sorted(os.path.relpath(os.path.join(d, f), run) for d, _, fs in os.walk(run) for f in fs)
    with open(os.path.join(HERE, "trainer_vits_files.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(names) + "\n")
    if "--keep" in sys.argv:
        print(run, file=sys.stderr)
    else:
        shutil.rmtree(ROOT)


if __name__ == "__main__":
    main()
