import Foundation
import XCTest
import TimbreFormats

/// The JSON syntax check and the strict decoder's messages.
final class JSONSyntaxTests: XCTestCase {
    struct R: Codable { var steps: Int; var lr: Double?; var name: String? }

    func message(_ text: String) -> String {
        do { _ = try StrictJSON.decode(R.self, from: Data(text.utf8), file: "r.json"); return "(decoded)" } catch { return "\(error)" }
    }

    func testSyntaxErrorsGiveLineAndColumn() {
        XCTAssertEqual(message("{\n  \"steps\": 3,\n  \"lr\": \n}"), "r.json: not valid JSON: line 4, column 1: unexpected '}', expected a value")
        XCTAssertEqual(message("{\"steps\": 3"), "r.json: not valid JSON: line 1, column 12: unexpected end of file, expected ',' or '}'")
        XCTAssertEqual(message("{\"steps\": 03}"), "r.json: not valid JSON: line 1, column 11: invalid number: leading zero")
        XCTAssertEqual(message("{\"steps\": 3} x"), "r.json: not valid JSON: line 1, column 14: unexpected 'x' after the end of the JSON value")
        XCTAssertEqual(message("{\"name\": \"a\u{1}\", \"steps\": 1}"), "r.json: not valid JSON: line 1, column 12: control character 0x01 inside a string (escape it)")
        XCTAssertEqual(message("{\"steps\": NaN}"), "r.json: not valid JSON: line 1, column 11: unexpected 'N', expected a value")
        XCTAssertEqual(message(String(repeating: "[", count: 600)), "r.json: not valid JSON: line 1, column 513: nested deeper than 512 levels")
    }

    func testDuplicateKeysAreErrors() {
        XCTAssertEqual(message("{\"steps\": 3,\n \"steps\": 4}"), "r.json: not valid JSON: line 2, column 2: duplicate key 'steps' (first at line 1, column 2)")
        XCTAssertEqual(message("{\"steps\": 1, \"o\": {\"a\": [{\"b\": 1, \"b\": 2}]}}"), "r.json: not valid JSON: line 1, column 35: duplicate key 'o.a[0].b' (first at line 1, column 27)")
        // the same key in different objects is fine
        XCTAssertEqual(message("{\"steps\": 3, \"name\": \"x\"}"), "(decoded)")
    }

    func testNumbersTheTypeCannotHoldAreNamed() {
        XCTAssertEqual(message("{\"steps\": 1.5}"), "r.json: 'steps': expected an integer, found 1.5")
        XCTAssertEqual(message("{\"steps\": 1e30}"), "r.json: 'steps': expected an integer, found 1e30 (beyond the 64-bit integer range)")
        XCTAssertEqual(message("{\"steps\": 9223372036854775808}"), "r.json: 'steps': expected an integer, found 9223372036854775808 (beyond the 64-bit integer range)")
        XCTAssertEqual(message("{\"steps\": 2, \"lr\": 1e999}"), "r.json: 'lr': the number 1e999 is beyond the range of a 64-bit float (±1.8e308)")
        XCTAssertEqual(message("{\"steps\": 1e3, \"lr\": 1.5}"), "(decoded)")
        XCTAssertEqual(message("{\"steps\": \"a\"}"), "r.json: 'steps': expected Int")
        XCTAssertEqual(message("{\"steps\": 1, \"lr\": 2, \"extra\": 3}"), "r.json: unknown key 'extra' (misspelt, or not valid here)")
    }

    func testNonFiniteScan() {
        var x = [Float](repeating: 1, count: 10_000)
        XCTAssertEqual(x.withUnsafeBufferPointer { NonFinite.scan($0).count }, 0)
        x[5000] = .nan; x[9999] = -.infinity; x[7] = .infinity
        let (n, first) = x.withUnsafeBufferPointer { NonFinite.scan($0) }
        XCTAssertEqual(n, 3); XCTAssertEqual(first, 7)
        XCTAssertEqual(NonFinite.first(x), 7)
        XCTAssertNil(NonFinite.first([]))
    }
}
