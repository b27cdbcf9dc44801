import DrillCore
import Foundation
import Testing

@testable import Reports

@Suite struct JSONReportTests {
    @Test(arguments: ["mixed", "passing", "allSkipped"])
    func roundTripsToAnEqualDrillResult(_ fixture: String) throws {
        let result =
            switch fixture {
            case "mixed": Fixture.mixed()
            case "passing": Fixture.passing()
            default: Fixture.allSkipped()
            }
        let data = try JSONReport.render(result)
        let decoded = try JSONDecoder().decode(DrillResult.self, from: data)
        #expect(decoded == result)
        #expect(decoded.checks.map(\.subject) == result.checks.map(\.subject))
    }

    @Test func carriesFormatVersionAndVerdict() throws {
        let data = try JSONReport.render(Fixture.mixed())
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["format"] as? String == "restore-drill/drill-report")
        #expect(object["format_version"] as? Int == 1)
        #expect(object["verdict"] as? String == "fail")
        let passing = try #require(
            try JSONSerialization.jsonObject(with: try JSONReport.render(Fixture.passing())) as? [String: Any])
        #expect(passing["verdict"] as? String == "pass")
    }

    @Test func keysAreSortedAndOutputIsPretty() throws {
        let text = String(decoding: try JSONReport.render(Fixture.mixed()), as: UTF8.self)
        let topKeys = text.split(separator: "\n")
            .filter { $0.hasPrefix("  \"") }
            .map { line -> String in
                let afterQuote = line.dropFirst(3)
                return String(afterQuote.prefix { $0 != "\"" })
            }
        #expect(topKeys.count >= 15)
        #expect(topKeys == topKeys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        #expect(text.hasSuffix("}\n"))
        #expect(text.contains("\"set_path\" : \"/backups/maia/full_20251020_030001\""))
    }

    @Test func nonFiniteTimeIsAnErrorNamingTheDrill() {
        var result = Fixture.passing()
        result.rtoSeconds = .nan
        #expect {
            try JSONReport.render(result)
        } throws: { error in
            guard let error = error as? RestoreDrillError, case .runtime(let message) = error else { return false }
            return message.contains(result.drillID.description) && message.contains("rto_seconds")
        }
    }
}
