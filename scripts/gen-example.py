#!/usr/bin/python3
"""Generate examples/tiny-vits: a small but real coqui-TTS-style model folder.

What it makes (laid out like a coqui download such as tts_models/en/ljspeech/vits):

  config.json     a trimmed but realistic coqui VITS config ("model": "vits", audio,
                  characters, model_args, datasets, ...), path fields empty/relative.
  model_file.pth  a torch.save'd coqui-trainer-style checkpoint dict:
                  {"config", "model", "optimizer", "step", "epoch", "date", "model_loss"}
                  where "model" is the state_dict of a tiny torch.nn module whose
                  parameter names mimic coqui's Vits (text_encoder.*, duration_predictor.*,
                  waveform_decoder.*, disc.*) and "optimizer" is a list of two AdamW
                  state dicts (generator, discriminator) as coqui's GAN trainer saves.

The model is NOT a working TTS voice: coqui cannot synthesize with it. It exists so that
ttsguard's fetch/manifest/sign/scan/verify code paths run against a genuine PyTorch
checkpoint (zip archive with data.pkl + tensor storages) of realistic shape.

Deterministic: fixed seed, one thread, a fixed date string, no forward pass (gradients
for the single optimizer step are drawn from the seeded RNG), so running it twice gives
byte-identical files with the same torch build.

It needs Debian's torch (python3-torch, python3-numpy), i.e. /usr/bin/python3:

    apt-get install -y python3-torch python3-numpy
    /usr/bin/python3 scripts/gen-example.py --out examples/tiny-vits [--force]

It refuses to replace an existing output folder unless --force is given; it writes into a
temporary sibling folder and renames it into place at the end. Signatures and keys
(examples/tiny-vits/model.sig, examples/keys/) are added afterwards by `make example`;
regenerating with --force drops model.sig, so re-sign after regenerating.
"""

import argparse
import collections
import json
import os
import shutil
import sys
import tempfile

try:
    import torch
    from torch import nn
except ImportError:  # pragma: no cover - depends on the host
    sys.exit("gen-example: torch is missing; run with Debian's /usr/bin/python3 "
             "after `apt-get install -y python3-torch python3-numpy`")

SEED = 1234
DATE = "January 01, 2024"  # coqui's trainer writes datetime.date.today().strftime("%B %d, %Y")
STEP = 1000
EPOCH = 3
MODEL_LOSS = 28.51171875  # exactly representable; coqui stores the best eval loss here

# Tiny dimensions; recorded in config.json's model_args so config and weights agree.
HIDDEN = 16
SPEC_CHANNELS = 9  # out_channels = fft_size // 2 + 1 with fft_size 16
INTER = 8

PAD = "_"
PUNCTUATIONS = "!'(),-.:;? "
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PHONEMES = ("iyɨʉɯuɪʏʊeøɘəɵɤoɛœɜɞʌɔæɐaɶɑɒᵻʘɓǀɗǃʄǂɠǁʛpbtdʈɖcɟkɡqɢʔɴŋɲɳnɱmʙrʀⱱɾɽɸβfvθðszʃʒʂʐçʝxɣχʁ"
            "ħʕhɦɬɮʋɹɻjɰlɭʎʟˈˌːˑʍwɥʜʢʡɕʑɺɧʲɚ˞ɫ")
BLANK = "<BLNK>"
NUM_CHARS = 1 + len(PUNCTUATIONS) + len(LETTERS) + len(PHONEMES) + 1


class TextEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(NUM_CHARS, HIDDEN)
        self.encoder = nn.Conv1d(HIDDEN, HIDDEN, 3, padding=1)
        self.proj = nn.Conv1d(HIDDEN, 2 * INTER, 1)


class DurationPredictor(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_1 = nn.Conv1d(HIDDEN, HIDDEN, 3, padding=1)
        self.norm_1 = nn.LayerNorm(HIDDEN)
        self.proj = nn.Conv1d(HIDDEN, 1, 1)


class PosteriorEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.pre = nn.Conv1d(SPEC_CHANNELS, HIDDEN, 1)
        self.proj = nn.Conv1d(HIDDEN, 2 * INTER, 1)


class WaveformDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_pre = nn.Conv1d(INTER, HIDDEN, 7, padding=3)
        self.ups = nn.ModuleList([nn.ConvTranspose1d(HIDDEN, HIDDEN // 2, 4, stride=2, padding=1)])
        self.conv_post = nn.Conv1d(HIDDEN // 2, 1, 7, padding=3, bias=False)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.nets = nn.ModuleList([
            nn.ModuleDict({"convs": nn.ModuleList([nn.Conv1d(1, 4, 15, padding=7),
                                                   nn.Conv1d(4, 4, 5, padding=2)]),
                           "conv_post": nn.Conv1d(4, 1, 3, padding=1)}),
        ])


class TinyVits(nn.Module):
    def __init__(self):
        super().__init__()
        self.text_encoder = TextEncoder()
        self.duration_predictor = DurationPredictor()
        self.posterior_encoder = PosteriorEncoder()
        self.waveform_decoder = WaveformDecoder()
        self.disc = Discriminator()
        self.emb_g = None  # single speaker, as in ljspeech


def make_config():
    """A trimmed coqui VitsConfig.to_dict(), in coqui's key order."""
    return {
        "output_path": "output",
        "logger_uri": None,
        "run_name": "vits_tiny",
        "project_name": None,
        "run_description": "tiny VITS-shaped example for ttsguard (not a working voice)",
        "print_step": 25,
        "plot_step": 100,
        "model_param_stats": False,
        "wandb_entity": None,
        "dashboard_logger": "tensorboard",
        "log_model_step": 10000,
        "save_step": 10000,
        "save_n_checkpoints": 5,
        "save_checkpoints": True,
        "save_all_best": False,
        "save_best_after": 10000,
        "target_loss": None,
        "print_eval": False,
        "test_delay_epochs": -1,
        "run_eval": True,
        "distributed_backend": "nccl",
        "distributed_url": "tcp://localhost:54321",
        "mixed_precision": False,
        "epochs": 1000,
        "batch_size": 32,
        "eval_batch_size": 16,
        "grad_clip": [1000.0, 1000.0],
        "scheduler_after_epoch": True,
        "lr": 0.001,
        "optimizer": "AdamW",
        "optimizer_params": {"betas": [0.8, 0.99], "eps": 1e-09, "weight_decay": 0.01},
        "lr_scheduler": "",
        "lr_scheduler_params": {},
        "use_grad_scaler": False,
        "cudnn_enable": True,
        "cudnn_benchmark": False,
        "torch_seed": SEED,
        "model": "vits",
        "num_loader_workers": 4,
        "num_eval_loader_workers": 4,
        "use_noise_augment": False,
        "audio": {
            "fft_size": 16,
            "win_length": 16,
            "hop_length": 4,
            "frame_shift_ms": None,
            "frame_length_ms": None,
            "stft_pad_mode": "reflect",
            "sample_rate": 22050,
            "resample": False,
            "preemphasis": 0.0,
            "ref_level_db": 20,
            "do_sound_norm": False,
            "log_func": "np.log10",
            "do_trim_silence": True,
            "trim_db": 45,
            "do_rms_norm": False,
            "db_level": None,
            "power": 1.5,
            "griffin_lim_iters": 60,
            "num_mels": 80,
            "mel_fmin": 0.0,
            "mel_fmax": None,
            "spec_gain": 1,
            "do_amp_to_db_linear": False,
            "do_amp_to_db_mel": True,
            "pitch_fmax": 640.0,
            "pitch_fmin": 1.0,
            "signal_norm": False,
            "min_level_db": -100,
            "symmetric_norm": True,
            "max_norm": 4.0,
            "clip_norm": True,
            "stats_path": None,
        },
        "use_phonemes": False,
        "phonemizer": None,
        "phoneme_language": "en-us",
        "compute_input_seq_cache": False,
        "text_cleaner": "english_cleaners",
        "enable_eos_bos_chars": False,
        "test_sentences_file": "",
        "phoneme_cache_path": None,
        "characters": {
            "characters_class": "TTS.tts.models.vits.VitsCharacters",
            "vocab_dict": None,
            "pad": PAD,
            "eos": "",
            "bos": "",
            "blank": BLANK,
            "characters": LETTERS,
            "punctuations": PUNCTUATIONS,
            "phonemes": PHONEMES,
            "is_unique": False,
            "is_sorted": True,
        },
        "add_blank": True,
        "batch_group_size": 0,
        "loss_masking": None,
        "min_audio_len": 1,
        "max_audio_len": 2147483647,  # coqui writes Infinity here, which is not valid JSON
        "min_text_len": 1,
        "max_text_len": 325,
        "compute_f0": False,
        "compute_linear_spec": True,
        "precompute_num_workers": 0,
        "start_by_longest": False,
        "datasets": [
            {
                "formatter": "ljspeech",
                "dataset_name": "",
                "path": "",
                "meta_file_train": "metadata.csv",
                "ignored_speakers": None,
                "language": "",
                "meta_file_val": "",
                "meta_file_attn_mask": "",
            }
        ],
        "test_sentences": [
            ["It took me quite a long time to develop a voice."],
            ["Be a voice, not an echo."],
        ],
        "eval_split_max_size": None,
        "eval_split_size": 0.01,
        "use_speaker_weighted_sampler": False,
        "use_language_weighted_sampler": False,
        "model_args": {
            "num_chars": NUM_CHARS,
            "out_channels": SPEC_CHANNELS,
            "spec_segment_size": 8,
            "hidden_channels": HIDDEN,
            "inter_channels": INTER,
            "hidden_channels_ffn_text_encoder": 2 * HIDDEN,
            "num_heads_text_encoder": 2,
            "num_layers_text_encoder": 1,
            "kernel_size_text_encoder": 3,
            "dropout_p_text_encoder": 0.1,
            "dropout_p_duration_predictor": 0.5,
            "kernel_size_posterior_encoder": 1,
            "num_layers_posterior_encoder": 1,
            "use_sdp": False,
            "resblock_type_decoder": "1",
            "upsample_rates_decoder": [2],
            "upsample_initial_channel_decoder": HIDDEN,
            "upsample_kernel_sizes_decoder": [4],
            "periods_multi_period_discriminator": [],
            "use_speaker_embedding": False,
            "num_speakers": 0,
            "speakers_file": None,
            "d_vector_file": None,
            "speaker_embedding_channels": 256,
            "use_d_vector_file": False,
            "d_vector_dim": 0,
            "detach_dp_input": True,
            "use_language_embedding": False,
            "embedded_language_dim": 4,
            "num_languages": 0,
            "language_ids_file": None,
            "use_speaker_encoder_as_loss": False,
            "speaker_encoder_config_path": "",
            "speaker_encoder_model_path": "",
            "freeze_encoder": False,
            "freeze_DP": False,
            "freeze_PE": False,
            "freeze_flow_decoder": False,
            "freeze_waveform_decoder": False,
        },
        "lr_gen": 0.0002,
        "lr_disc": 0.0002,
        "lr_scheduler_gen": "ExponentialLR",
        "lr_scheduler_gen_params": {"gamma": 0.999875, "last_epoch": -1},
        "lr_scheduler_disc": "ExponentialLR",
        "lr_scheduler_disc_params": {"gamma": 0.999875, "last_epoch": -1},
        "kl_loss_alpha": 1.0,
        "disc_loss_alpha": 1.0,
        "gen_loss_alpha": 1.0,
        "feat_loss_alpha": 1.0,
        "mel_loss_alpha": 45.0,
        "dur_loss_alpha": 1.0,
        "return_wav": True,
        "r": 1,
        "num_speakers": 0,
        "use_speaker_embedding": False,
        "speakers_file": None,
        "speaker_embedding_channels": 256,
        "language_ids_file": None,
        "use_language_embedding": False,
        "use_d_vector_file": False,
        "d_vector_file": None,
        "d_vector_dim": 0,
    }


def make_checkpoint(config):
    torch.manual_seed(SEED)
    model = TinyVits()
    gen_params = [p for n, p in model.named_parameters() if not n.startswith("disc.")]
    disc_params = list(model.disc.parameters())
    betas = tuple(config["optimizer_params"]["betas"])
    opt_kw = dict(betas=betas, eps=config["optimizer_params"]["eps"],
                  weight_decay=config["optimizer_params"]["weight_decay"], foreach=False)
    opt_gen = torch.optim.AdamW(gen_params, lr=config["lr_gen"], **opt_kw)
    opt_disc = torch.optim.AdamW(disc_params, lr=config["lr_disc"], **opt_kw)
    # One optimizer step so the optimizer state holds real tensors (exp_avg, exp_avg_sq,
    # step). Gradients come from the seeded RNG instead of a forward pass, so only
    # element-wise arithmetic is involved.
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 0.01
    opt_gen.step()
    opt_disc.step()
    state = collections.OrderedDict((k, v.detach().clone().contiguous())
                                    for k, v in model.state_dict().items())
    return {
        "config": config,
        "model": state,
        "optimizer": [opt_gen.state_dict(), opt_disc.state_dict()],
        "scaler": None,
        "step": STEP,
        "epoch": EPOCH,
        "date": DATE,
        "model_loss": MODEL_LOSS,
    }


def fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="examples/tiny-vits", help="output folder (default: %(default)s)")
    ap.add_argument("--force", action="store_true", help="replace an existing output folder")
    args = ap.parse_args()

    out = os.path.abspath(args.out)
    if os.path.lexists(out) and not args.force:
        sys.exit("gen-example: %s exists; pass --force to replace it" % args.out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)

    torch.set_num_threads(1)
    config = make_config()
    ckpt = make_checkpoint(config)

    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(out) + ".tmp-", dir=parent)
    old = None
    try:
        cfg_path = os.path.join(tmp, "config.json")
        with open(cfg_path, "w", encoding="utf-8", newline="\n") as f:
            json.dump(config, f, indent=4, ensure_ascii=False, allow_nan=False)
            f.write("\n")
        # The torch zip archive's top folder is named after the file, so the temp file
        # carries its final name.
        pth_path = os.path.join(tmp, "model_file.pth")
        torch.save(ckpt, pth_path)
        for p in (cfg_path, pth_path):
            os.chmod(p, 0o644)
            fsync_file(p)
        os.chmod(tmp, 0o755)
        fsync_dir(tmp)

        if os.path.lexists(out):  # --force: move the old folder aside, then swap
            old = tempfile.mkdtemp(prefix="." + os.path.basename(out) + ".old-", dir=parent)
            os.rmdir(old)
            os.rename(out, old)
        os.rename(tmp, out)
        tmp = None
        fsync_dir(parent)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    if old is not None:
        if os.path.isdir(old) and not os.path.islink(old):
            shutil.rmtree(old)
        else:
            os.remove(old)

    for name in ("config.json", "model_file.pth"):
        print("%s  %d bytes" % (os.path.join(args.out, name), os.path.getsize(os.path.join(out, name))))


if __name__ == "__main__":
    main()
