// The tokenizer of a pretrained model folder for a user's texts: each text becomes
// [CLS] WordPiece ids [SEP] with the folder's vocabulary, casing and special tokens, as
// transformers' BERT tokenizers encode one text. Runs that fine-tune a pretrained model
// (`--init-from`) use it, with the folder's tokenizer files copied into the run directory.

/// WordPiece tokens of a model folder (tokenizer.json, else vocab.txt), with [CLS] and [SEP].
public struct WordPieceTextTokenizer: TextTokenizer {
    /// The folder's tokenizer.
    public let wordPiece: WordPieceTokenizer

    /// The tokenizer of the model folder `directory`.
    public init(directory: String) throws(DataError) {
        do {
            wordPiece = try WordPieceTokenizer(directory: directory)
        } catch {
            throw DataError.invalidConfiguration(
                task: "data", reason: "tokenizer of \(directory): \(error)")
        }
    }

    /// The vocabulary's size.
    public var vocabularySize: Int { wordPiece.vocabulary.count }
    /// [PAD]'s id.
    public var padID: Int { wordPiece.paddingID }

    /// [CLS] pieces [SEP].
    public func encode(_ text: String) -> [Int] {
        [wordPiece.classifierID] + wordPiece.tokenIDs(text) + [wordPiece.separatorID]
    }
}
