"""Independent numpy implementation of resemblyzer 0.1.4's VoiceEncoder.embed_utterance (without
webrtcvad trimming), used to check Timbre's Swift speaker encoder.

usage: ge2e_reference.py WEIGHTS.safetensors A.f32 [B.f32 ...]   (raw float32, 16 kHz)
Prints JSON {"A.f32": [256 floats], ...}.
"""
import json
import sys

import numpy as np
from safetensors.numpy import load_file

from dsp_golden import hann, mel_filterbank

SR, N_FFT, HOP, N_MELS, PARTIAL, RATE, MIN_COVERAGE = 16000, 400, 160, 40, 160, 1.3, 0.75


def normalize_volume(wav, target_dbfs=-30):
    change = target_dbfs - 10 * np.log10(np.mean(wav ** 2))
    return wav if change < 0 else wav * (10 ** (change / 20))


def mel_spectrogram(wav):
    """librosa.feature.melspectrogram(sr=16000, n_fft=400, hop_length=160, n_mels=40): centred,
    reflect padding (librosa < 0.10), periodic Hann, power 2, Slaney mel."""
    x = np.pad(wav.astype(np.float64), N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP]
    power = np.abs(np.fft.rfft(frames * hann(N_FFT), axis=-1)) ** 2
    return (power @ mel_filterbank(SR, N_FFT, N_MELS).T).astype(np.float32)


def partial_slices(n_samples):
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round((SR / RATE) / HOP))
    steps = max(1, n_frames - PARTIAL + step + 1)
    starts = list(range(0, steps, step))
    coverage = (n_samples - starts[-1] * HOP) / (PARTIAL * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts = starts[:-1]
    return starts


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def lstm_last_hidden(w, x):
    """3-layer torch.nn.LSTM (gates i, f, g, o), batch_first; returns the top layer's final h."""
    for layer in range(3):
        wih, whh = w[f"lstm.weight_ih_l{layer}"].astype(np.float64), w[f"lstm.weight_hh_l{layer}"].astype(np.float64)
        b = (w[f"lstm.bias_ih_l{layer}"] + w[f"lstm.bias_hh_l{layer}"]).astype(np.float64)
        B, T, _ = x.shape
        H = whh.shape[1]
        h, c = np.zeros((B, H)), np.zeros((B, H))
        out = np.zeros((B, T, H))
        for t in range(T):
            g = x[:, t] @ wih.T + h @ whh.T + b
            i, f, gg, o = sigmoid(g[:, :H]), sigmoid(g[:, H:2 * H]), np.tanh(g[:, 2 * H:3 * H]), sigmoid(g[:, 3 * H:])
            c = f * c + i * gg
            h = o * np.tanh(c)
            out[:, t] = h
        x = out
    return h


def embed(w, wav):
    wav = normalize_volume(wav.astype(np.float64))
    starts = partial_slices(len(wav))
    need = (starts[-1] + PARTIAL) * HOP
    if need >= len(wav):
        wav = np.pad(wav, (0, need - len(wav)))
    mel = mel_spectrogram(wav)
    mels = np.stack([mel[s:s + PARTIAL] for s in starts]).astype(np.float64)
    h = lstm_last_hidden(w, mels)
    e = np.maximum(h @ w["linear.weight"].T.astype(np.float64) + w["linear.bias"], 0)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    m = e.mean(axis=0)
    return m / np.linalg.norm(m)


def main():
    w = load_file(sys.argv[1])
    out = {p: embed(w, np.fromfile(p, dtype="<f4")).tolist() for p in sys.argv[2:]}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
