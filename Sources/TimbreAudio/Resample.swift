import CEbur128
import CSoxr
import Foundation

/// Sample-rate conversion with libsoxr at its "very high quality" setting (28-bit precision,
/// linear phase, 95 % passband).
public enum Resampler {
    public static func resample(_ x: [Float], from inRate: Int, to outRate: Int) throws -> [Float] {
        if inRate == outRate || x.isEmpty { return x }
        let outLen = Int((Double(x.count) * Double(outRate) / Double(inRate)).rounded())
        var out = [Float](repeating: 0, count: outLen)
        var done = 0
        var q = soxr_quality_spec(UInt(SOXR_VHQ), 0)
        var io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I)
        let err = x.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                soxr_oneshot(Double(inRate), Double(outRate), 1, xb.baseAddress, x.count, nil,
                             ob.baseAddress, outLen, &done, &io, &q, nil)
            }
        }
        if let err { throw AudioError.resample(String(cString: err)) }
        if done < outLen { out.removeLast(outLen - done) }
        return out
    }

    public static func resample(_ a: Audio, to rate: Int) throws -> Audio {
        var r = Audio(samples: try resample(a.samples, from: a.sampleRate, to: rate), sampleRate: rate)
        r.sourceChannels = a.sourceChannels
        return r
    }
}

/// EBU R 128 loudness through libebur128.
public enum Loudness {
    /// Integrated loudness in LUFS (−∞ for silence, as libebur128 reports it).
    public static func integrated(_ x: [Float], sampleRate: Int) -> Double {
        guard let st = ebur128_init(1, UInt(sampleRate), Int32(EBUR128_MODE_I.rawValue)) else { return .nan }
        var state: UnsafeMutablePointer<ebur128_state>? = st
        defer { ebur128_destroy(&state) }
        _ = x.withUnsafeBufferPointer { ebur128_add_frames_float(st, $0.baseAddress, $0.count) }
        var out: Double = 0
        ebur128_loudness_global(st, &out)
        return out
    }

    /// Scales to `target` LUFS (no change for silence); returns the gain applied in dB.
    @discardableResult
    public static func normalise(_ x: inout [Float], sampleRate: Int, target: Double = -23) -> Double {
        let l = integrated(x, sampleRate: sampleRate)
        guard l.isFinite else { return 0 }
        let g = Float(Foundation.pow(10, (target - l) / 20))
        for i in x.indices { x[i] *= g }
        return target - l
    }
}
