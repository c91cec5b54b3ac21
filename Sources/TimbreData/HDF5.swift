import CHDF5
import Foundation

/// Errors about shards and corpora, naming the file.
public enum DataError: Error, CustomStringConvertible {
    case invalid(String, String)
    case io(String, String)
    public var description: String {
        switch self {
        case .invalid(let f, let m): return "\(f): \(m)"
        case .io(let f, let m): return "\(f): \(m)"
        }
    }
}

/// A thin layer over the HDF5 C API for what shards need: 1-D/2-D numeric datasets (chunked),
/// variable-length UTF-8 string datasets and attributes, hyperslab reads. Files are created with
/// library-version bounds (earliest, v1.10) so any HDF5 ≥ 1.10 and h5py read them.
/// The HDF5 library the shards are read and written with.
public enum HDF5Library {
    /// Its version, as `timbre doctor` prints it.
    public static var version: String {
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        H5get_libversion(&major, &minor, &release)
        return "\(major).\(minor).\(release)"
    }
}

final class H5File {
    let id: hid_t
    let path: String
    static let silenced: Bool = { timbre_H5_silence_errors(); return true }()

    init(create path: String) throws {
        _ = H5File.silenced
        let fapl = H5Pcreate(timbre_H5P_FILE_ACCESS())
        defer { H5Pclose(fapl) }
        H5Pset_libver_bounds(fapl, H5F_LIBVER_EARLIEST, H5F_LIBVER_V110)
        let f = H5Fcreate(path, timbre_H5F_ACC_TRUNC(), timbre_H5P_DEFAULT(), fapl)
        guard f >= 0 else { throw DataError.io(path, "cannot create HDF5 file") }
        id = f; self.path = path
    }

    init(open path: String) throws {
        _ = H5File.silenced
        guard FileManager.default.fileExists(atPath: path) else { throw DataError.io(path, "no such file") }
        let f = H5Fopen(path, timbre_H5F_ACC_RDONLY(), timbre_H5P_DEFAULT())
        guard f >= 0 else { throw DataError.invalid(path, "not an HDF5 file (or unreadable)") }
        id = f; self.path = path
    }

    deinit { H5Fclose(id) }

    func flush() { H5Fflush(id, H5F_SCOPE_GLOBAL) }

    // MARK: writing

    func write<T>(_ name: String, _ values: [T], shape: [Int], fileType: hid_t, memType: hid_t, chunk: Int? = nil) throws {
        var dims = shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(dims.count), &dims, nil)
        defer { H5Sclose(space) }
        let dcpl = H5Pcreate(timbre_H5P_DATASET_CREATE())
        defer { H5Pclose(dcpl) }
        // Chunked with HDF5's Fletcher-32 checksum per chunk, so a corrupted byte is a read error
        // instead of different data (an empty dataset cannot be chunked; there is nothing to check).
        if shape.reduce(1, *) > 0 {
            var c = dims
            c[0] = hsize_t(max(1, min(shape[0], chunk ?? (1 << 16))))
            guard H5Pset_chunk(dcpl, Int32(c.count), &c) >= 0, H5Pset_fletcher32(dcpl) >= 0 else {
                throw DataError.io(path, "cannot set up chunking and checksums for dataset \(name)")
            }
        }
        let ds = H5Dcreate2(id, name, fileType, space, timbre_H5P_DEFAULT(), dcpl, timbre_H5P_DEFAULT())
        guard ds >= 0 else { throw DataError.io(path, "cannot create dataset \(name)") }
        defer { H5Dclose(ds) }
        let st = values.withUnsafeBytes { H5Dwrite(ds, memType, timbre_H5S_ALL(), timbre_H5S_ALL(), timbre_H5P_DEFAULT(), $0.baseAddress) }
        guard st >= 0 else { throw DataError.io(path, "cannot write dataset \(name)") }
    }

    static func utf8Type() -> hid_t {
        let t = H5Tcopy(timbre_H5T_C_S1())
        H5Tset_size(t, timbre_H5T_VARIABLE())
        H5Tset_cset(t, H5T_CSET_UTF8)
        return t
    }

    func writeStrings(_ name: String, _ values: [String]) throws {
        let t = H5File.utf8Type()
        defer { H5Tclose(t) }
        var dims = [hsize_t(values.count)]
        let space = H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        let ds = H5Dcreate2(id, name, t, space, timbre_H5P_DEFAULT(), timbre_H5P_DEFAULT(), timbre_H5P_DEFAULT())
        guard ds >= 0 else { throw DataError.io(path, "cannot create dataset \(name)") }
        defer { H5Dclose(ds) }
        let cstrs = values.map { strdup($0) }
        defer { cstrs.forEach { free($0) } }
        var ptrs: [UnsafePointer<CChar>?] = cstrs.map { UnsafePointer($0) }
        let st = values.isEmpty ? 0 : H5Dwrite(ds, t, timbre_H5S_ALL(), timbre_H5S_ALL(), timbre_H5P_DEFAULT(), &ptrs)
        guard st >= 0 else { throw DataError.io(path, "cannot write dataset \(name)") }
    }

    func setAttribute(_ name: String, _ value: String) throws {
        let t = H5File.utf8Type()
        defer { H5Tclose(t) }
        let space = timbre_H5S_SCALAR_create()
        defer { H5Sclose(space) }
        let a = H5Acreate2(id, name, t, space, timbre_H5P_DEFAULT(), timbre_H5P_DEFAULT())
        guard a >= 0 else { throw DataError.io(path, "cannot create attribute \(name)") }
        defer { H5Aclose(a) }
        let c = strdup(value)
        defer { free(c) }
        var p: UnsafePointer<CChar>? = UnsafePointer(c)
        H5Awrite(a, t, &p)
    }

    func setAttribute(_ name: String, _ value: Int) throws {
        let space = timbre_H5S_SCALAR_create()
        defer { H5Sclose(space) }
        let a = H5Acreate2(id, name, timbre_H5T_STD_I64LE(), space, timbre_H5P_DEFAULT(), timbre_H5P_DEFAULT())
        guard a >= 0 else { throw DataError.io(path, "cannot create attribute \(name)") }
        defer { H5Aclose(a) }
        var v = Int64(value)
        H5Awrite(a, timbre_H5T_NATIVE_INT64(), &v)
    }

    func setAttribute(_ name: String, _ values: [Float]) throws {
        var dims = [hsize_t(values.count)]
        let space = H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        let a = H5Acreate2(id, name, timbre_H5T_IEEE_F32LE(), space, timbre_H5P_DEFAULT(), timbre_H5P_DEFAULT())
        guard a >= 0 else { throw DataError.io(path, "cannot create attribute \(name)") }
        defer { H5Aclose(a) }
        _ = values.withUnsafeBytes { H5Awrite(a, timbre_H5T_NATIVE_FLOAT(), $0.baseAddress) }
    }

    // MARK: reading

    func exists(_ name: String) -> Bool { H5Lexists(id, name, timbre_H5P_DEFAULT()) > 0 }

    /// Opens a dataset; the error names the file and the dataset.
    func dataset(_ name: String) throws -> H5Dataset {
        guard exists(name) else { throw DataError.invalid(path, "dataset \(name) is missing") }
        let d = H5Dopen2(id, name, timbre_H5P_DEFAULT())
        guard d >= 0 else { throw DataError.invalid(path, "cannot open dataset \(name)") }
        return H5Dataset(id: d, name: name, file: path)
    }

    func attributeString(_ name: String) -> String? {
        guard H5Aexists(id, name) > 0 else { return nil }
        let a = H5Aopen(id, name, timbre_H5P_DEFAULT())
        defer { H5Aclose(a) }
        let t = H5Aget_type(a)
        defer { H5Tclose(t) }
        guard H5Tget_class(t) == H5T_STRING else { return nil }
        if H5Tis_variable_str(t) > 0 {
            let mt = H5File.utf8Type()
            defer { H5Tclose(mt) }
            var p: UnsafeMutablePointer<CChar>? = nil
            guard H5Aread(a, mt, &p) >= 0, let p else { return nil }
            defer { H5free_memory(p) }
            return String(cString: p)
        }
        let n = H5Tget_size(t)
        var buf = [CChar](repeating: 0, count: n + 1)
        guard H5Aread(a, t, &buf) >= 0 else { return nil }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func attributeNumbers(_ name: String) -> [Double]? {
        guard H5Aexists(id, name) > 0 else { return nil }
        let a = H5Aopen(id, name, timbre_H5P_DEFAULT())
        defer { H5Aclose(a) }
        let t = H5Aget_type(a)
        defer { H5Tclose(t) }
        let cls = H5Tget_class(t)
        guard cls == H5T_INTEGER || cls == H5T_FLOAT else { return nil }
        let sp = H5Aget_space(a)
        defer { H5Sclose(sp) }
        let n = Int(H5Sget_simple_extent_npoints(sp))
        var out = [Double](repeating: 0, count: max(n, 0))
        guard H5Aread(a, timbre_H5T_NATIVE_DOUBLE(), &out) >= 0 else { return nil }
        return out
    }
}

final class H5Dataset {
    let id: hid_t
    let name: String, file: String
    init(id: hid_t, name: String, file: String) { self.id = id; self.name = name; self.file = file }
    deinit { H5Dclose(id) }

    var shape: [Int] {
        let sp = H5Dget_space(id)
        defer { H5Sclose(sp) }
        let r = Int(H5Sget_simple_extent_ndims(sp))
        var dims = [hsize_t](repeating: 0, count: max(r, 0))
        H5Sget_simple_extent_dims(sp, &dims, nil)
        return dims.map { Int($0) }
    }

    /// The stored element class and size (e.g. integer 2 for int16).
    var storedType: (cls: H5T_class_t, size: Int) {
        let t = H5Dget_type(id)
        defer { H5Tclose(t) }
        return (H5Tget_class(t), H5Tget_size(t))
    }

    /// Reads elements [start, start + count) along axis 0 (all of the other axes) into `buf`,
    /// converting to `memType`.
    func read(_ buf: UnsafeMutableRawPointer, memType: hid_t, start: Int, count: Int) throws {
        let s = shape
        guard start >= 0, count >= 0, start + count <= (s.first ?? 0) else {
            throw DataError.invalid(file, "\(name): rows \(start)..<\(start + count) outside its \(s.first ?? 0) rows")
        }
        if count == 0 { return }
        let fs = H5Dget_space(id)
        defer { H5Sclose(fs) }
        var st = [hsize_t(start)] + s.dropFirst().map { _ in hsize_t(0) }
        var cnt = [hsize_t(count)] + s.dropFirst().map { hsize_t($0) }
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &st, nil, &cnt, nil)
        let ms = H5Screate_simple(Int32(cnt.count), &cnt, nil)
        defer { H5Sclose(ms) }
        guard H5Dread(id, memType, ms, fs, timbre_H5P_DEFAULT(), buf) >= 0 else {
            throw DataError.invalid(file, "\(name): read of rows \(start)..<\(start + count) failed: "
                                    + (hasChecksum ? "its Fletcher-32 checksum does not match (the file is corrupt)" : "the file is corrupt or unreadable"))
        }
    }

    /// Whether the dataset was written with HDF5's Fletcher-32 filter (shards before it were not).
    var hasChecksum: Bool {
        let dcpl = H5Dget_create_plist(id)
        defer { H5Pclose(dcpl) }
        var flags: UInt32 = 0, nelmts = 0, values = [UInt32](repeating: 0, count: 4), config: UInt32 = 0
        var name = [CChar](repeating: 0, count: 64)
        return H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32, &flags, &nelmts, &values, name.count, &name, &config) >= 0
    }

    func readAll<T: Numeric>(_: T.Type, memType: hid_t) throws -> [T] {
        let n = shape.reduce(1, *)
        var out = [T](repeating: 0, count: n)
        try out.withUnsafeMutableBytes { try read($0.baseAddress!, memType: memType, start: 0, count: shape.first ?? 0) }
        return out
    }

    func readStrings() throws -> [String] {
        guard storedType.cls == H5T_STRING else { throw DataError.invalid(file, "\(name) is not a string dataset") }
        let n = shape.first ?? 0
        let t = H5Dget_type(id)
        defer { H5Tclose(t) }
        if H5Tis_variable_str(t) > 0 {
            let mt = H5File.utf8Type()
            defer { H5Tclose(mt) }
            var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
            if n > 0 {
                guard H5Dread(id, mt, timbre_H5S_ALL(), timbre_H5S_ALL(), timbre_H5P_DEFAULT(), &ptrs) >= 0 else {
                    throw DataError.invalid(file, "\(name): cannot read strings")
                }
            }
            defer { ptrs.forEach { if let p = $0 { H5free_memory(p) } } }
            return ptrs.map { $0.map { String(cString: $0) } ?? "" }
        }
        let size = H5Tget_size(t)
        var buf = [CChar](repeating: 0, count: n * size)
        if n > 0 {
            guard H5Dread(id, t, timbre_H5S_ALL(), timbre_H5S_ALL(), timbre_H5P_DEFAULT(), &buf) >= 0 else {
                throw DataError.invalid(file, "\(name): cannot read strings")
            }
        }
        return (0..<n).map { i in
            String(decoding: buf[(i * size)..<((i + 1) * size)].prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}
