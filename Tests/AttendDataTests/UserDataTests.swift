// Data sets from a user's files: every format round-trips a tiny file written here (JSON lines,
// CSV and TSV with RFC 4180 quoting, text pairs, plain text for language modelling, folders of
// PNG/PGM images, IDX), records are found across read-chunk boundaries, labels map to ids in a
// stable order, the seeded validation split is a partition, and malformed inputs give errors
// naming the file, the line and the problem.
import AttendCore
import Foundation
import Testing

@testable import AttendData

/// Writes `text` to `name` in `folder` and returns the path.
private func write(_ text: String, _ name: String, in folder: String) throws -> String {
    let path = folder + "/" + name
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// The `DataError` `body` throws, or nil.
private func dataError(_ body: () throws -> Void) -> DataError? {
    do {
        try body()
        return nil
    } catch {
        return error as? DataError
    }
}

/// Every example of `split` as (text, label name).
private func texts(_ task: UserTextTask, _ split: Split) -> [(String, String)] {
    (0..<task.count(of: split)).map { i in
        let e = task.example(i, in: split)
        return (ByteTokenizer.decodeText(e.tokens), task.classNames[e.label])
    }
}

@Suite struct UserDataTests {
    @Test func jsonLinesRoundTripWithStringLabels() throws {
        try withTemporaryFolder { folder in
            let path = try write(
                """
                {"text": "good film", "label": "pos"}
                {"text": "dull plot", "label": "neg"}

                {"label": "pos", "text": "héros, \\"great\\""}
                """, "reviews.jsonl", in: folder)
            var c = UserDataConfiguration(format: .jsonl, train: path)
            c.validationFraction = 0
            let task = try UserTextTask(c)
            #expect(task.classNames == ["neg", "pos"])
            #expect(task.kind == .classification && task.vocabularySize == 257)
            #expect(
                texts(task, .train).map { $0.0 } == ["good film", "dull plot", "héros, \"great\""])
            #expect(texts(task, .train).map { $0.1 } == ["pos", "neg", "pos"])
            #expect(task.example(2, in: .train).tokens == ByteTokenizer.encode("héros, \"great\""))
            #expect(task.line(of: 2, in: .train) == 4)
            #expect(task.maxLength == "héros, \"great\"".utf8.count)
            #expect(task.summary.labelCounts.map { $0.count } == [1, 2])
            #expect(task.resolvedConfiguration.labels == ["neg", "pos"])
        }
    }

    @Test func integerLabelsAreOrderedNumerically() throws {
        try withTemporaryFolder { folder in
            let path = try write(
                "{\"text\": \"a\", \"label\": 10}\n{\"text\": \"b\", \"label\": 2.0}\n"
                    + "{\"text\": \"c\", \"label\": \"1\"}\n",
                "numbers.jsonl", in: folder)
            var c = UserDataConfiguration(format: .jsonl, train: path)
            c.validationFraction = 0
            let task = try UserTextTask(c)
            #expect(task.classNames == ["1", "2", "10"])
            #expect((0..<3).map { task.example($0, in: .train).label } == [2, 1, 0])
        }
    }

    @Test func booleanAndFractionalLabelsAreRefused() throws {
        try withTemporaryFolder { folder in
            for value in ["true", "1.5", "[1]"] {
                let path = try write(
                    "{\"text\": \"a\", \"label\": \(value)}\n", "labels.jsonl", in: folder)
                let error = dataError {
                    _ = try UserTextTask(UserDataConfiguration(format: .jsonl, train: path))
                }
                guard case .malformedRecord(_, 1, let reason) = error else {
                    Issue.record("label \(value) must be refused, got \(String(describing: error))")
                    continue
                }
                #expect(reason.hasPrefix("\"label\" must be a string or an integer"), "\(reason)")
            }
        }
    }

    @Test func mixedLabelsAreOrderedAsStrings() {
        #expect(LabelMap(collecting: ["b", "a", "10", "a"]).names == ["10", "a", "b"])
        #expect(LabelMap(collecting: ["10", "-1", "2"]).names == ["-1", "2", "10"])
    }

    @Test func summaryReportsQuantilesAndTruncation() {
        var summary = DataSummary()
        summary.lengths = [7, 3, 10, 1, 5, 9, 2, 8, 4, 6]
        summary.labelCounts = [("neg", 4), ("pos", 6)]
        summary.counts = [.train: 10, .validation: 2, .test: 0]
        let q = summary.lengthQuantiles!
        let quantiles: [Int] = [q.min, q.median, q.p90, q.max]
        #expect(quantiles == [1, 6, 10, 10])
        #expect(summary.truncated(at: 7) == 3)
        #expect(
            summary.report(maximumLength: 7) == [
                "data: 10 train, 2 validation, 0 test examples", "labels: neg 4, pos 6",
                "length in tokens: min 1, median 6, 90% 10, max 10; 3 of 10 training examples cut "
                    + "to --seq-len 7",
            ])
    }

    @Test func csvQuotingHoldsSeparatorsQuotesAndLineBreaks() throws {
        try withTemporaryFolder { folder in
            let path = try write(
                "id,text,label\r\n1,\"one, two\",a\r\n"
                    + "2,\"say \"\"hi\"\"\nthen\nleave\",b\n3,plain,a\n",
                "data.csv", in: folder)
            var c = UserDataConfiguration(format: .csv, train: path)
            c.validationFraction = 0
            let task = try UserTextTask(c)
            #expect(
                texts(task, .train).map { $0.0 } == [
                    "one, two", "say \"hi\"\nthen\nleave", "plain",
                ])
            #expect(texts(task, .train).map { $0.1 } == ["a", "b", "a"])
            // The record after the three-line one (lines 3 to 5) starts on line 6.
            #expect(task.line(of: 2, in: .train) == 6)
        }
    }

    @Test func tsvAndConfiguredFieldNames() throws {
        try withTemporaryFolder { folder in
            let path = try write(
                "sentence\tclass\nfirst one\tx\nsecond\ty\n", "data.tsv", in: folder)
            var c = UserDataConfiguration(format: .tsv, train: path)
            c.fields = FieldNames(text: "sentence", label: "class")
            c.validationFraction = 0
            let task = try UserTextTask(c)
            #expect(texts(task, .train).map { $0.0 } == ["first one", "second"])
            #expect(task.classNames == ["x", "y"])
        }
    }

    @Test func textPairsMakeAPairTask() throws {
        try withTemporaryFolder { folder in
            let path = try write(
                "{\"text_a\": \"cat\", \"text_b\": \"a cat\", \"label\": 1}\n"
                    + "{\"text_a\": \"dog\", \"text_b\": \"a car\", \"label\": 0}\n",
                "pairs.jsonl", in: folder)
            #expect(
                FieldNames.firstRecordFields(of: path, format: .jsonl).map(Set.init) == [
                    "text_a", "text_b", "label",
                ])
            var c = UserDataConfiguration(format: .jsonl, train: path)
            c.fields = FieldNames(text: "text_a", pair: "text_b")
            c.validationFraction = 0
            let task = try UserTextTask(c)
            #expect(task.kind == .pairClassification)
            let e = task.example(0, in: .train)
            #expect(
                e.tokens == ByteTokenizer.encode("cat")
                    && e.pairTokens == ByteTokenizer.encode("a cat")
            )
            #expect(e.label == 1)
        }
    }

    @Test func recordsAreFoundAcrossReadChunks() throws {
        try withTemporaryFolder { folder in
            let path = try write(
                "a,b\n\"x\ny\",1\nz,2\n\n\"q,\"\"r\",3\n", "chunks.csv", in: folder)
            let file = try RecordFile(path: path)
            for chunkSize in [1, 2, 3, 7, 64] {
                var records: [(String, Int)] = []
                try file.scan(quoting: true, chunkSize: chunkSize) { record, location in
                    records.append((String(decoding: record, as: UTF8.self), location.line))
                    #expect(file.bytes(at: location) == Array(record))
                }
                #expect(
                    records.map { $0.0 } == ["a,b", "\"x\ny\",1", "z,2", "\"q,\"\"r\",3"],
                    "chunk \(chunkSize)")
                #expect(records.map { $0.1 } == [1, 2, 4, 6], "chunk \(chunkSize)")
            }
        }
    }

    @Test func theValidationFractionIsASeededPartition() throws {
        try withTemporaryFolder { folder in
            let lines = (0..<20).map { "{\"text\": \"t\($0)\", \"label\": \($0 % 3)}" }
            let path = try write(lines.joined(separator: "\n"), "d.jsonl", in: folder)
            var c = UserDataConfiguration(format: .jsonl, train: path)
            c.validationFraction = 0.25
            let task = try UserTextTask(c)
            let train = Set(texts(task, .train).map { $0.0 })
            let validation = Set(texts(task, .validation).map { $0.0 })
            #expect(
                train.count == 15 && validation.count == 5 && train.isDisjoint(with: validation))
            #expect(train.union(validation) == Set((0..<20).map { "t\($0)" }))
            #expect(Set(texts(try UserTextTask(c), .validation).map { $0.0 }) == validation)
            c.seed = 1
            #expect(Set(texts(try UserTextTask(c), .validation).map { $0.0 }) != validation)
        }
    }

    @Test func validationAndTestFilesUseTheTrainingLabelMap() throws {
        try withTemporaryFolder { folder in
            let train = try write("text,label\na,x\nb,y\n", "train.csv", in: folder)
            var c = UserDataConfiguration(format: .csv, train: train)
            c.validation = try write("text,label\nc,y\n", "valid.csv", in: folder)
            c.test = try write("text,label\nd,x\ne,y\n", "test.csv", in: folder)
            let task = try UserTextTask(c)
            #expect(Split.allCases.map { task.count(of: $0) } == [2, 1, 2])
            #expect(texts(task, .test).map { $0.1 } == ["x", "y"])
            c.test = try write("text,label\nf,z\n", "unknown.csv", in: folder)
            #expect(
                dataError { _ = try UserTextTask(c) }
                    == .unknownLabel(
                        path: folder + "/unknown.csv", line: 2, label: "z", known: ["x", "y"]))
        }
    }

    @Test func malformedRecordsNameFileLineAndProblem() throws {
        try withTemporaryFolder { folder in
            let path = try write(
                "{\"text\": \"ok\", \"label\": \"a\"}\n{\"text\": \"broken\", \n"
                    + "{\"text\": \"no label\"}\n"
                    + "{\"text\": \"fine\", \"label\": \"b\"}\n"
                    + "{\"text\": \"\", \"label\": \"b\"}\n",
                "bad.jsonl", in: folder)
            var c = UserDataConfiguration(format: .jsonl, train: path)
            guard
                case .malformedRecord(let file, let line, let reason) = dataError({
                    _ = try UserTextTask(c)
                })
            else {
                Issue.record("bad JSON must be a malformed record")
                return
            }
            #expect(file == path && line == 2 && reason.hasPrefix("not valid JSON"))
            c.skipBadLines = true
            c.validationFraction = 0
            let task = try UserTextTask(c)
            #expect(texts(task, .train).map { $0.0 } == ["ok", "fine"])
            #expect(task.summary.skipped[path] == 3)
            #expect(
                task.summary.report(maximumLength: 512).contains(
                    "skipped 3 malformed records in \(path)"))
            let missing = try write("{\"text\": \"no label\"}\n", "missing.jsonl", in: folder)
            #expect(
                dataError {
                    _ = try UserTextTask(UserDataConfiguration(format: .jsonl, train: missing))
                }
                    == .malformedRecord(path: missing, line: 1, reason: "no \"label\" field"))
            let empty = try write("", "empty.jsonl", in: folder)
            #expect(
                dataError {
                    _ = try UserTextTask(UserDataConfiguration(format: .jsonl, train: empty))
                }
                    == .malformedFile(
                        path: empty, reason: "holds no records",
                        hint: "give a file with at least one jsonl record"))
        }
    }

    @Test func malformedCSVRecordsAreNamed() throws {
        try withTemporaryFolder { folder in
            let noColumn = try write("body,label\nx,a\n", "nocolumn.csv", in: folder)
            guard
                case .malformedRecord(_, 1, let reason) = dataError({
                    _ = try UserTextTask(UserDataConfiguration(format: .csv, train: noColumn))
                })
            else {
                Issue.record("a header without the text column must fail on line 1")
                return
            }
            #expect(reason.contains("no column 'text'") && reason.contains("body, label"))
            let unclosed = try write("text,label\n\"open,a\n", "unclosed.csv", in: folder)
            #expect(
                dataError {
                    _ = try UserTextTask(UserDataConfiguration(format: .csv, train: unclosed))
                }
                    == .malformedRecord(
                        path: unclosed, line: 2, reason: "field 1 opens a quote that never closes"))
            let short = try write("text,label\nlonely\n", "short.csv", in: folder)
            #expect(
                dataError {
                    _ = try UserTextTask(UserDataConfiguration(format: .csv, train: short))
                }
                    == .malformedRecord(
                        path: short, line: 2, reason: "1 fields, the header names at least 2"))
            let trailing = try write("text,label\n\"a\"b,x\n", "trailing.csv", in: folder)
            #expect(
                dataError {
                    _ = try UserTextTask(UserDataConfiguration(format: .csv, train: trailing))
                }
                    == .malformedRecord(
                        path: trailing, line: 2, reason: "text after the closing quote of field 1"))
        }
    }

    @Test func evaluationFilesNeedKnownLabelsAndPredictionFilesNoLabels() throws {
        try withTemporaryFolder { folder in
            var c = UserDataConfiguration(format: .jsonl, train: "unused")
            c.labels = ["neg", "pos"]
            let path = try write(
                "{\"text\": \"a\", \"label\": \"pos\"}\n{\"text\": \"b\", \"label\": \"meh\"}\n",
                "eval.jsonl", in: folder)
            #expect(
                dataError { _ = try UserTextTask(c, reading: path, labelled: true) }
                    == .unknownLabel(path: path, line: 2, label: "meh", known: ["neg", "pos"]))
            let unlabelled = try write(
                "{\"text\": \"a\"}\n{\"text\": \"bc\"}\n", "new.jsonl", in: folder)
            let task = try UserTextTask(c, reading: unlabelled, labelled: false)
            #expect(
                task.count(of: .test) == 2
                    && task.example(1, in: .test).tokens == ByteTokenizer.encode("bc"))
        }
    }

    @Test func plainTextBecomesByteWindows() throws {
        try withTemporaryFolder { folder in
            // "100,101,…,199": every 9-byte window holds two whole numbers, so it occurs once.
            let text = (100..<200).map(String.init).joined(separator: ",")
            let path = try write(text, "corpus.txt", in: folder)
            var c = UserDataConfiguration(format: .text, train: path)
            c.windowLength = 8
            c.validationFraction = 0.2
            let task = try UserTextLanguageModelTask(c)
            let bytes = Array(text.utf8)
            // 399 bytes: training holds the first 319, validation tiles the last 80 with 9-byte
            // windows 8 apart, starting at 319, 327, …, 383.
            #expect(task.count(of: .validation) == 9 && task.count(of: .train) == 319 / 8)
            let first = task.example(0, in: .validation)
            #expect(first.tokens == ByteTokenizer.encode(bytes[319..<327]))
            #expect(first.targets == ByteTokenizer.encode(bytes[320..<328]))
            for i in 0..<task.count(of: .train) {
                let e = task.example(i, in: .train)
                #expect(
                    e.tokens.count == 8
                        && Array(e.tokens.dropFirst()) == Array(e.targets!.dropLast()))
                let window = ByteTokenizer.decode(e.tokens + [e.targets!.last!])
                let found = bytes.firstRange(of: window)
                #expect(
                    found.map { $0.upperBound <= 319 } == true,
                    "window \(i) outside the training text")
            }
            // A folder of files: every file is read.
            let sub = folder + "/texts"
            try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
            _ = try write(text, "a.txt", in: sub)
            _ = try write(text, "b.txt", in: sub)
            c.train = sub
            #expect(try UserTextLanguageModelTask(c).count(of: .validation) == 18)
        }
    }

    /// `pixels` as a binary PGM file at `path`.
    private func writePGM(_ pixels: [UInt8], width: Int, height: Int, _ path: String) throws {
        try PGM.write(pixels, width: width, height: height, to: path)
    }

    @Test func imageFoldersAreClassFolders() throws {
        try withTemporaryFolder { folder in
            for (label, base) in [("cat", 10), ("dog", 200)] {
                try FileManager.default.createDirectory(
                    atPath: folder + "/\(label)", withIntermediateDirectories: true)
                for i in 0..<2 {
                    try writePGM(
                        (0..<6).map { UInt8(base + i + $0) }, width: 3, height: 2,
                        folder + "/\(label)/\(i).pgm")
                }
            }
            var c = UserDataConfiguration(format: .images, train: folder)
            c.validationFraction = 0
            let task = try UserImageTask(c)
            #expect(task.classNames == ["cat", "dog"] && task.maxLength == 6 && task.channels == 1)
            #expect(task.example(0, in: .train) == Example(tokens: (10..<16).map { $0 }, label: 0))
            #expect(
                task.example(3, in: .train) == Example(tokens: (201..<207).map { $0 }, label: 1))
            try writePGM(
                [UInt8](repeating: 0, count: 9), width: 3, height: 3, folder + "/dog/odd.pgm")
            #expect(
                dataError { _ = try UserImageTask(c) }
                    == .malformedFile(
                        path: folder + "/dog/odd.pgm", reason: "image is 3×3, the others are 3×2",
                        hint: "resize every image to one size"))
        }
    }

    @Test func colourPNGsMakeGreyImagesThreeChannels() throws {
        try withTemporaryFolder { folder in
            for label in ["a", "b"] {
                try FileManager.default.createDirectory(
                    atPath: folder + "/\(label)", withIntermediateDirectories: true)
            }
            try Data(pngFixture("rgb")).write(to: URL(fileURLWithPath: folder + "/a/colour.png"))
            try Data(pngFixture("grey8")).write(to: URL(fileURLWithPath: folder + "/b/grey.png"))
            var c = UserDataConfiguration(format: .images, train: folder)
            c.validationFraction = 0
            let task = try UserImageTask(c)
            #expect(task.channels == 3 && task.maxLength == 60)
            // Planes: all red samples, then green, then blue; the grey image repeats its plane.
            let plane = { (c: Int) in
                (0..<4).flatMap { y in (0..<5).map { x in Int(fixtureSample(x, y, c)) } }
            }
            #expect(
                task.example(0, in: .train)
                    == Example(tokens: plane(0) + plane(1) + plane(2), label: 0)
            )
            #expect(
                task.example(1, in: .train)
                    == Example(tokens: plane(0) + plane(0) + plane(0), label: 1)
            )
        }
    }

    @Test func idxFilesPairImagesWithLabels() throws {
        try withTemporaryFolder { folder in
            let images: [UInt8] =
                [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2] + (0..<8).map { UInt8($0) }
            let labels: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 2, 7, 3]
            let path = folder + "/train-images-idx3-ubyte"
            try Data(images).write(to: URL(fileURLWithPath: path))
            try Data(labels).write(to: URL(fileURLWithPath: folder + "/train-labels-idx1-ubyte"))
            #expect(DataFormat.inferred(from: path, isDirectory: false) == .idx)
            var c = UserDataConfiguration(format: .idx, train: path)
            c.validationFraction = 0
            let task = try UserImageTask(c)
            #expect(task.classNames == ["3", "7"])
            #expect(task.example(0, in: .train) == Example(tokens: [0, 1, 2, 3], label: 1))
            #expect(task.example(1, in: .train) == Example(tokens: [4, 5, 6, 7], label: 0))
        }
    }

    @Test func formatsAreInferredFromNames() {
        #expect(DataFormat.inferred(from: "a/b.jsonl", isDirectory: false) == .jsonl)
        #expect(DataFormat.inferred(from: "b.CSV", isDirectory: false) == .csv)
        #expect(DataFormat.inferred(from: "b.tsv", isDirectory: false) == .tsv)
        #expect(DataFormat.inferred(from: "book.txt", isDirectory: false) == .text)
        #expect(DataFormat.inferred(from: "t10k-images-idx3-ubyte.gz", isDirectory: false) == .idx)
        #expect(DataFormat.inferred(from: "photos", isDirectory: true) == .images)
        #expect(DataFormat.inferred(from: "data.bin", isDirectory: false) == nil)
    }
}
