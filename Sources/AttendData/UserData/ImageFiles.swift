// Reading image data sets from disk: a folder tree of PNG/PGM files, or an IDX images file with
// the labels file whose name replaces `images-idx3` by `labels-idx1` (MNIST's naming), either
// possibly gzipped.
import Foundation

/// Loaders of labelled images.
enum ImageFiles {
    static let extensions = ["png", "pgm"]

    /// The images of `path`: with `labelled`, one sub-folder per class; without, image files
    /// directly in `path` or in sub-folders (whose names are then ignored).
    static func folder(_ path: String, labelled: Bool) throws(DataError) -> ImageSet {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError.missingFile(
                name: path, searched: [path], hint: "check the path given to --data")
        }
        guard isDirectory.boolValue else {
            if labelled {
                throw DataError.malformedFile(
                    path: path,
                    reason:
                        "is a file; images are read from a folder with one sub-folder per class",
                    hint: "pass the folder holding the class folders")
            }
            return ImageSet(images: [try image(path)], labels: [""], sources: [path])
        }
        let entries = ((try? manager.contentsOfDirectory(atPath: path)) ?? []).filter {
            !$0.hasPrefix(".")
        }.sorted()
        var set = ImageSet()
        for entry in entries {
            let full = path + "/" + entry
            var entryIsDirectory: ObjCBool = false
            let exists = manager.fileExists(atPath: full, isDirectory: &entryIsDirectory)
            if exists && entryIsDirectory.boolValue {
                let files = ((try? manager.contentsOfDirectory(atPath: full)) ?? []).filter(isImage)
                    .sorted()
                for file in files {
                    set.images.append(try image(full + "/" + file))
                    set.labels.append(entry)
                    set.sources.append(full + "/" + file)
                }
            } else if isImage(entry) {
                guard !labelled else {
                    throw DataError.malformedFile(
                        path: full, reason: "lies outside a class folder",
                        hint: "put each image in the folder named after its class")
                }
                set.images.append(try image(full))
                set.labels.append("")
                set.sources.append(full)
            }
        }
        guard !set.images.isEmpty else {
            throw DataError.malformedFile(
                path: path, reason: "holds no .png or .pgm images",
                hint: labelled
                    ? "give a folder with one sub-folder of images per class"
                    : "give a folder of images")
        }
        return set
    }

    private static func isImage(_ name: String) -> Bool {
        extensions.contains(String(name.split(separator: ".").last ?? "").lowercased())
            && !name.hasPrefix(".")
    }

    /// One PNG or PGM file.
    static func image(_ path: String) throws(DataError) -> DecodedImage {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError.malformedFile(
                path: path, reason: "cannot be read", hint: "check its permissions")
        }
        let bytes = [UInt8](data)
        if path.lowercased().hasSuffix(".pgm") {
            do {
                let (width, height, pixels) = try PGM.decode(bytes)
                return DecodedImage(width: width, height: height, channels: 1, samples: pixels)
            } catch {
                guard case .malformedFile(_, let reason, let hint) = error else { throw error }
                throw DataError.malformedFile(path: path, reason: reason, hint: hint)
            }
        }
        do {
            return try PNG.decode(bytes)
        } catch {
            throw DataError.malformedFile(
                path: path, reason: error.reason, hint: "expected a PNG image")
        }
    }

    /// An IDX images file (`[count, rows, columns]` unsigned bytes) and its labels file.
    static func idx(_ path: String) throws(DataError) -> ImageSet {
        guard path.contains("images-idx3") else {
            throw DataError.malformedFile(
                path: path,
                reason: "is not named like an IDX images file (…images-idx3-ubyte…)",
                hint:
                    "name it as MNIST does, with the labels in the matching "
                    + "…labels-idx1-ubyte… file"
            )
        }
        let labelsPath = path.replacingOccurrences(of: "images-idx3", with: "labels-idx1")
        let images = try array(path, dimensions: 3)
        let labels = try array(labelsPath, dimensions: 1)
        guard labels.shape[0] == images.shape[0] else {
            throw DataError.malformedFile(
                path: labelsPath,
                reason: "\(labels.shape[0]) labels for \(images.shape[0]) images in \(path)",
                hint: "give the labels file that belongs to the images")
        }
        let (rows, columns) = (images.shape[1], images.shape[2])
        let size = rows * columns
        var set = ImageSet()
        for i in 0..<images.shape[0] {
            set.images.append(
                DecodedImage(
                    width: columns, height: rows, channels: 1,
                    samples: Array(images.values[(i * size)..<((i + 1) * size)])))
            set.labels.append(String(labels.values[i]))
            set.sources.append("\(path) image \(i)")
        }
        return set
    }

    private static func array(_ path: String, dimensions: Int) throws(DataError) -> IDXArray {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError.missingFile(
                name: path, searched: [path], hint: "IDX images need their labels file beside them")
        }
        do {
            let bytes = [UInt8](data)
            return try IDXArray(
                path.hasSuffix(".gz") ? try Gzip.decompress(bytes) : bytes, dimensions: dimensions)
        } catch {
            throw DataError.malformedFile(
                path: path, reason: error.reason, hint: "expected an IDX file of unsigned bytes")
        }
    }
}
