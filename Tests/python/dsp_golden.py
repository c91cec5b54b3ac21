"""Generates Tests/python/dsp_golden.json: reference values for Timbre's DSP (TimbreDSP) from
numpy and scipy, following torch.stft / librosa / auraloss conventions.
Run: pip install numpy scipy; python3 Tests/python/dsp_golden.py
(If librosa is installed, its mel filterbank is also compared with the numpy one here.)"""
import json
import os
import numpy as np


def hann(N):
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N) / N)


def stft_mag(x, n_fft, hop, mode):
    x = np.pad(x.astype(np.float64), n_fft // 2, mode="reflect" if mode == "reflect" else "constant")
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    return np.abs(np.fft.rfft(frames * hann(n_fft), axis=-1))


def hz_to_mel(f):
    f = np.asanyarray(f, dtype=np.float64)
    fsp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / fsp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / fsp)


def mel_to_hz(m):
    m = np.asanyarray(m, dtype=np.float64)
    fsp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / fsp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), fsp * m)


def mel_filterbank(sr, n_fft, n_mels, fmin=0.0, fmax=None):
    fmax = sr / 2 if fmax is None else fmax
    fftfreqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    w = np.zeros((n_mels, 1 + n_fft // 2))
    for i in range(n_mels):
        w[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    w *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return w


def aweighting_taps(fs, ntaps=101):
    """auraloss.perceptual.FIRFilter(filter_type="aw") design, verbatim."""
    import scipy.signal
    f1, f2, f3, f4, A1000 = 20.598997, 107.65265, 737.86223, 12194.217, 1.9997
    NUMs = [(2 * np.pi * f4) ** 2 * (10 ** (A1000 / 20)), 0, 0, 0, 0]
    DENs = np.polymul([1, 4 * np.pi * f4, (2 * np.pi * f4) ** 2], [1, 4 * np.pi * f1, (2 * np.pi * f1) ** 2])
    DENs = np.polymul(np.polymul(DENs, [1, 2 * np.pi * f3]), [1, 2 * np.pi * f2])
    b, a = scipy.signal.bilinear(NUMs, DENs, fs=fs)
    w_iir, h_iir = scipy.signal.freqz(b, a, worN=512, fs=fs)
    return scipy.signal.firls(ntaps, w_iir, abs(h_iir), fs=fs)


def mrstft(pred, target, ffts=(2048, 1024, 512, 256, 128, 64, 32)):
    """auraloss 0.4.0 MultiResolutionSTFTLoss(fft_sizes, hop n/4, win n, hann) semantics."""
    total = 0.0
    for n in ffts:
        def mag(x):
            xp = np.pad(x.astype(np.float64), n // 2, mode="reflect")
            frames = np.lib.stride_tricks.sliding_window_view(xp, n)[::n // 4]
            spec = np.fft.rfft(frames * hann(n), axis=-1)
            return np.sqrt(np.maximum(spec.real ** 2 + spec.imag ** 2, 1e-8))
        pm, tm = mag(pred), mag(target)
        total += np.linalg.norm(tm - pm) / np.linalg.norm(tm) + np.mean(np.abs(np.log(tm) - np.log(pm)))
    return total / len(ffts)


def mel_distance(pred, target, sr=44100, windows=(32, 64, 128, 256, 512, 1024, 2048), n_mels=(5, 10, 20, 40, 80, 160, 320)):
    """DAC conf/base.yml MelSpectrogramLoss (log_weight 1, mag_weight 0, pow 1, clamp 1e-5)."""
    total = 0.0
    for w, nm in zip(windows, n_mels):
        fb = mel_filterbank(sr, w, nm)
        def mel(x):
            return stft_mag(x, w, w // 4, "reflect") @ fb.T
        total += np.mean(np.abs(np.log10(np.maximum(mel(pred), 1e-5)) - np.log10(np.maximum(mel(target), 1e-5))))
    return total


def main():
    n = 1000
    t = np.arange(n) / 16000.0
    signal = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * (200 + 3000 * t) * t)
              + 0.1 * np.cos(2 * np.pi * 3111 * t)).astype(np.float32)
    mel = mel_filterbank(44100, 2048, 80)
    try:
        import librosa
        assert np.allclose(librosa.filters.mel(sr=44100, n_fft=2048, n_mels=80), mel, atol=1e-7)
        checked = "librosa " + librosa.__version__
    except ImportError:
        checked = "numpy re-implementation of librosa.filters.mel (librosa not installed)"
    rng = np.random.default_rng(0)
    mel_idx = [(int(i), int(k)) for i, k in zip(rng.integers(0, 80, 40), rng.integers(0, 1025, 40))]
    mel_idx += [(int(i), int(np.argmax(mel[i]))) for i in range(0, 80, 8)]
    big = stft_mag(signal, 128, 32, "constant")
    big_idx = [(int(f), int(k)) for f, k in zip(rng.integers(0, big.shape[0], 30), rng.integers(0, big.shape[1], 30))]
    aw = aweighting_taps(44100)
    aw_filtered = np.convolve(signal.astype(np.float64), aw[::-1], mode="same")  # correlation, zero padding
    i = np.arange(4096)
    lx = (0.4 * np.sin(2 * np.pi * 440 * i / 44100) + 0.2 * np.sin(2 * np.pi * 1234.5 * i / 44100 + 0.3)).astype(np.float32)
    ly = (0.8 * lx.astype(np.float64) + 0.05 * np.cos(2 * np.pi * 3000 * i / 44100)).astype(np.float32)
    out = {
        "mrstft_pair": mrstft(ly, lx),
        "mel_distance_pair": mel_distance(ly, lx),
        "aweighting_44100": aw.tolist(),
        "aweighting_filtered_signal": aw_filtered.tolist(),
        "generator": "Tests/python/dsp_golden.py", "mel_checked_against": checked,
        "signal": signal.tolist(),
        "hann16": hann(16).tolist(),
        "stft32_8_reflect": {"shape": list(stft_mag(signal, 32, 8, "reflect").shape),
                             "values": stft_mag(signal, 32, 8, "reflect").ravel().tolist()},
        "stft128_32_constant": {"shape": list(big.shape), "sum": float(big.sum()),
                                "entries": [[f, k, float(big[f, k])] for f, k in big_idx]},
        "mel_44100_2048_80": {"row_sums": mel.sum(axis=1).tolist(),
                              "entries": [[i, k, float(mel[i, k])] for i, k in mel_idx]},
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dsp_golden.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print("wrote", path)


if __name__ == "__main__":
    main()
