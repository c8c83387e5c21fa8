"""Writes the MP3 fixtures of internal/dataset/audio (TestAnalyzeMP3) with libsndfile, the library
coqui's audio loading (soundfile) reads MP3 through. Run with a Python that has soundfile and numpy
(e.g. /opt/e2e-venv/bin/python); the files are checked in, so the tests need neither.

    python internal/dataset/audio/testdata/gen_mp3.py
"""

import os

import numpy as np
import soundfile as sf

HERE = os.path.dirname(os.path.abspath(__file__))


def tone(sr, secs, hz, amp):
    t = np.arange(int(sr * secs)) / sr
    return amp * np.sin(2 * np.pi * hz * t)


def main():
    rng = np.random.default_rng(7)
    sr = 22050
    # one second of a 220 Hz tone at -10.5 dBFS peak, mono
    sf.write(os.path.join(HERE, "tone-mono.mp3"), tone(sr, 1.0, 220, 0.3), sr, format="MP3")
    # two seconds, stereo: left the tone, right half as loud
    x = tone(sr, 2.0, 220, 0.3)
    sf.write(os.path.join(HERE, "tone-stereo.mp3"), np.stack([x, 0.5 * x], 1), sr, format="MP3")
    # one second of near silence (white noise at about -80 dBFS), mono, 16 kHz
    sf.write(os.path.join(HERE, "quiet-16k.mp3"), 1e-4 * rng.standard_normal(16000), 16000, format="MP3")


if __name__ == "__main__":
    main()
